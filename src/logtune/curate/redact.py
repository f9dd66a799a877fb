"""PII and secret redaction of one conversation's free text, via `logtune.pii`.

Message contents (every role), feedback notes and rewrites are redacted with one `seen` map per
conversation, so a value keeps the same placeholder (`<EMAIL_1>`) in every message where it occurs
and the dialogue still reads coherently. The CONTEXT is left untouched: its ids, titles and names
are the assistant's ground truth. Tool-call JSON and feedback meta are not free text and are kept.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from logtune.pii import redact

# Message fields holding text a user or the assistant wrote.
REDACTED_FIELDS = ("content", "feedback_note", "rewrite")


def redact_conversation(conversation: dict[str, Any]) -> tuple[dict[str, Any], Counter]:
    """The conversation with its free text redacted, and the count of replaced values by kind.

    The input is never changed: a conversation with PII comes back as a copy (its messages copied),
    one without as itself, since copying the clean majority would only cost time.
    """
    seen: dict[str, str] = {}
    kinds: Counter = Counter()
    messages = conversation.get("messages") or []
    out_messages = None
    for i, message in enumerate(messages):
        for field in REDACTED_FIELDS:
            text = message.get(field)
            if text:
                new, found = redact(text, seen)
                if found:
                    if out_messages is None:
                        out_messages = list(messages)
                    if out_messages[i] is message:
                        out_messages[i] = dict(message)
                    out_messages[i][field] = new
                    kinds.update(found)
    if out_messages is None:
        return conversation, kinds
    return {**conversation, "messages": out_messages}, kinds
