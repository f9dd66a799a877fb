"""PII and secret redaction of one conversation's free text, via `logtune.pii`.

Message contents (every role), feedback notes and rewrites are redacted with one `seen` map per
conversation, so a value keeps the same placeholder (`<EMAIL_1>`) in every message where it occurs
and the dialogue still reads coherently. The CONTEXT is left untouched: its ids, titles and names
are the assistant's ground truth. Tool-call JSON and feedback meta are not free text and are kept.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from logtune.pii import redact

# Message fields holding text a user or the assistant wrote.
REDACTED_FIELDS = ("content", "feedback_note", "rewrite")


def redact_conversation(conversation: dict[str, Any]) -> tuple[dict[str, Any], Counter]:
    """A redacted copy of the conversation and the count of replaced values by kind."""
    out = copy.deepcopy(conversation)
    seen: dict[str, str] = {}
    kinds: Counter = Counter()
    for message in out.get("messages") or []:
        for field in REDACTED_FIELDS:
            if message.get(field):
                message[field], found = redact(message[field], seen)
                kinds.update(found)
    return out, kinds
