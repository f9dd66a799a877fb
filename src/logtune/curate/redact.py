"""PII and secret redaction of every text field of one conversation, via `logtune.pii`.

Redacted, with one placeholder map per conversation so a value keeps the same placeholder
(`<EMAIL_1>`) wherever it occurs (the user turn, the tool call's arguments, the rejected sibling):
- free text: the system prompt, the session's error, and per message `content`, `feedback_note`
  (the user's note on a thumbs-down) and `rewrite` (a human's corrected reply);
- JSON text, every string leaf (keys and structure kept, the JSON stays valid, JSON inside a string
  such as OpenAI's `arguments` walked too): `tool_calls`, a `content` that is a JSON object or array
  (a tool's result), `feedback_meta` (ChatGPT regenerations and OpenAI `n > 1` choices in
  `alternatives`, OASST's ranked `siblings` whose text becomes the rejected side of pairs, notes);
- the CONTEXT (the backend's authoritative record): only the values a PII kind matches, and never a
  value under an id-like key (`id`, `order_id`, `projectId`, ...). Ids, titles and statuses stay as
  they are, so grounding (a reply's ids must be in the CONTEXT) keeps working; a customer's e-mail in
  it becomes the same `<EMAIL_1>` as in the user turn that quoted it.
Ids, roles, timestamps and ratings are not text anyone wrote and are kept.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from logtune.pii import DEFAULT_PARAMS, PiiParams, Placeholders, redact, redact_context, redact_json_text

# Message fields holding text a user or the assistant wrote, and those holding JSON text. A content
# may be JSON too (a tool's result): it is then walked leaf by leaf like the JSON fields.
REDACTED_FIELDS = ("feedback_note", "rewrite")
REDACTED_JSON_FIELDS = ("content", "tool_calls", "feedback_meta")
# Conversation-level free text.
REDACTED_CONVERSATION_FIELDS = ("system_prompt", "error")


def redact_conversation(conversation: dict[str, Any], params: PiiParams = DEFAULT_PARAMS) -> tuple[dict[str, Any], Counter]:
    """The conversation with every text field redacted, and the count of replaced values by kind.

    The input is never changed: a conversation with PII comes back as a copy (its messages copied),
    one without as itself, since copying the clean majority would only cost time.
    """
    seen = Placeholders()
    kinds: Counter = Counter()
    changes: dict[str, Any] = {}

    def apply(target: dict[str, Any], field: str, fn) -> Any:
        value = target.get(field)
        if not value or not isinstance(value, str):
            return None
        new, found = fn(value, seen, params)
        if not found:
            return None
        kinds.update(found)
        return new

    for field in REDACTED_CONVERSATION_FIELDS:
        new = apply(conversation, field, redact)
        if new is not None:
            changes[field] = new
    new = apply(conversation, "context", redact_context)
    if new is not None:
        changes["context"] = new
    messages = conversation.get("messages")
    messages = list(messages) if messages is not None else []
    out_messages = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        edited: dict[str, Any] = {}
        for field in REDACTED_FIELDS:
            new = apply(message, field, redact)
            if new is not None:
                edited[field] = new
        for field in REDACTED_JSON_FIELDS:
            new = apply(message, field, redact_json_text)
            if new is not None:
                edited[field] = new
        if edited:
            if out_messages is None:
                out_messages = list(messages)
            out_messages[i] = {**message, **edited}
    if out_messages is not None:
        changes["messages"] = out_messages
    if not changes:
        return conversation, kinds
    return {**conversation, **changes}, kinds
