"""Why a record was dropped: the one `Reject` every stage's filters return (datatrove style).

A filter returns None to keep a record or a `Reject(reason, detail)`; the stage counts reasons in its
metrics and writes the rejected rows beside its output, so nothing is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reject:
    reason: str
    detail: str = ""
