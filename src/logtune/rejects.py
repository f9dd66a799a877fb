"""Why a record was dropped: the one `Reject` every stage's filters return, and the one rejected row.

A filter returns None to keep a record or a `Reject(reason, detail)` (datatrove style); the stage
counts reasons in its metrics and writes `rejected_row`s (`records.REJECTED`) beside what it kept,
so nothing is lost silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reject:
    reason: str
    detail: str = ""


def rejected_row(row_id: str | None, stage: str, reject: Reject, record: Any) -> dict[str, Any]:
    """A `records.REJECTED` row: the dropped `record` as key-sorted JSON text, with who dropped it and why."""
    return {"id": row_id, "stage": stage, "reason": reject.reason, "detail": reject.detail,
            "record": json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)}
