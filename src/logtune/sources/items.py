"""What a file-based source adapter yields: Conversation and Message dicts with every contract field, or a
quarantine item saying why a record could not become one and where it sits.

Canonical JSON text (the contract's JSON columns: tool_calls, feedback_meta, context) is compact with
sorted keys (`json_text`). `note` attaches what the adapter could not carry (dropped fields, warnings) for
export's metrics. Field checks of a raw JSON object (`check_fields`, `spelled_fields`) give the quarantine
reason (missing_field, wrong_type). Not for reading files (`logtune.sources.jsonl`, `json_document`) nor
for chat-format conversion (`logtune.sources.chat`).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, NamedTuple

from logtune.ids import conversation_id, prompt_version
from logtune.params import check_keys
from logtune.sources.timestamps import to_iso

ROLES = ("system", "user", "assistant", "tool")
RECORD_PREFIX_CHARS = 2000   # a quarantined record is kept as a text prefix: enough to diagnose, bounded in size


class ConversationBatch(NamedTuple):
    """Conversations an adapter built as Arrow columns (`records.CONVERSATION`, one row each) instead of one
    dict each: what a large database source yields for its plain sessions (`sql`). Export checks the table
    against the schema column by column; `warnings` are the adapter's warning counts for these rows."""
    table: Any
    warnings: dict[str, int]


class UnknownRole(ValueError):
    """A turn whose role name the format does not define: the record is quarantined, not guessed."""


def json_text(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, compact, UTF-8 kept) for the contract's JSON-text columns."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def quarantine(reason: str, detail: str, location: str, record: Any) -> dict[str, Any]:
    """A quarantine item: why an input record could not become a conversation, and where it sits."""
    if isinstance(record, bytes):
        text = record.decode("utf-8", errors="backslashreplace")
    elif isinstance(record, str):
        text = record
    else:
        try:
            text = json_text(record)
        except (TypeError, ValueError):
            text = repr(record)
    return {"quarantine": True, "reason": reason, "detail": detail, "location": location,
            "record": text[:RECORD_PREFIX_CHARS]}


def check_options(source_name: str, options: dict[str, Any] | None, allowed: Iterable[str]) -> dict[str, Any]:
    """The adapter's options, with a typo failing at start (ParamsError naming the source) instead of being ignored."""
    options = dict(options or {})
    check_keys(f"sources: {source_name} options", options, set(allowed))
    return options


def unmapped(obj: Any, known: Iterable[str], prefix: str = "") -> list[str]:
    """The fields of `obj` an adapter does not map (those holding something: empty values lose nothing)."""
    if not isinstance(obj, dict):
        return []
    known = set(known)
    return [prefix + k for k, v in obj.items() if k not in known and v not in (None, "", [], {})]


def note(item: dict[str, Any], dropped: Iterable[str] = (), warnings: dict[str, int] | None = None) -> dict[str, Any]:
    """Attach what the adapter could not carry (`dropped`: field names) and counted warnings to an item.

    Export pops both (`_dropped_fields`, `_warnings`) into its metrics: a field the Conversation has no
    place for is reported, never lost silently.
    """
    dropped = [d for d in dropped]
    if dropped:
        tally = item.setdefault("_dropped_fields", {})
        for name in dropped:
            tally[name] = tally.get(name, 0) + 1
    for name, count in (warnings or {}).items():
        if count:
            tally = item.setdefault("_warnings", {})
            tally[name] = tally.get(name, 0) + count
    return item


def message(role: str, content: str | None, *, id: Any = None, created_at: Any = None, tool_calls: Any = None,
            rating: int | None = None, feedback_note: str | None = None, rewrite: str | None = None,
            feedback_meta: Any = None) -> dict[str, Any]:
    """A MESSAGE dict with every contract field; tool_calls and feedback_meta objects become JSON text.

    An id left None is filled by `conversation` ("<source_id>#<index>"); a role outside ROLES raises
    UnknownRole (the adapter maps role names first, so this is a bug guard, not a quarantine path).
    """
    if role not in ROLES:
        raise UnknownRole(f"role {role!r} is not one of {ROLES}")
    return {
        "id": None if id is None else str(id),
        "role": role,
        "content": content,
        "created_at": to_iso(created_at),
        "tool_calls": tool_calls if tool_calls is None or isinstance(tool_calls, str) else json_text(tool_calls),
        "rating": rating,
        "feedback_note": feedback_note,
        "rewrite": rewrite,
        "feedback_meta": feedback_meta if feedback_meta is None or isinstance(feedback_meta, str)
        else json_text(feedback_meta),
    }


def conversation(source_name: str, source_id: str, messages: list[dict[str, Any]], *, task_type: str | None = None,
                 system_prompt: str | None = None, model_version: str | None = None, context: Any = None,
                 status: str | None = None, error: str | None = None, confidence: float | None = None,
                 approval: str | None = None, latency_ms: float | None = None, cost: float | None = None,
                 created_at: Any = None, provenance: str = "real") -> dict[str, Any]:
    """A CONVERSATION dict with every field; `context` (an object) becomes JSON text.

    Messages without a source id get "<source_id>#<index>" (index in the input), so build's lineage can
    name every message. Leading system turns are lifted into `system_prompt` (joined after the given
    one): the system prompt has its own column and version hash, and `prompt.with_system` ignores system
    messages, so a system turn left in `messages` would silently never reach training.
    """
    messages = list(messages)
    for index, msg in enumerate(messages):
        if msg["id"] is None:
            msg["id"] = f"{source_id}#{index}"
    system_parts = [system_prompt] if system_prompt else []
    while messages and messages[0]["role"] == "system":
        if (messages[0]["content"] or "").strip():
            system_parts.append(messages[0]["content"])
        messages.pop(0)
    system_prompt = "\n\n".join(system_parts) if system_parts else None
    return {
        "id": conversation_id(source_name, str(source_id)),
        "source": source_name,
        "source_id": str(source_id),
        "task_type": task_type,
        "system_prompt": system_prompt,
        "prompt_version": prompt_version(system_prompt),
        "model_version": model_version,
        "context": None if context is None else (context if isinstance(context, str) else json_text(context)),
        "messages": messages,
        "status": status,
        "error": error,
        "confidence": None if confidence is None else float(confidence),
        "approval": approval,
        "latency_ms": None if latency_ms is None else float(latency_ms),
        "cost": None if cost is None else float(cost),
        "created_at": to_iso(created_at),
        "provenance": provenance,
    }


def check_fields(obj: Any, required: dict[str, type | tuple[type, ...]],
                 optional: dict[str, type | tuple[type, ...]] | None = None) -> tuple[str, str] | None:
    """(reason, detail) when `obj` is not an object, lacks a required field or has one of a wrong type.

    A None optional field is fine; None in a required field counts as missing. A bool only passes
    where bool is asked for (JSON true is no number).
    """
    if not isinstance(obj, dict):
        return "wrong_type", f"expected a JSON object, got {type(obj).__name__}"
    for name in required:
        if obj.get(name) is None:
            return "missing_field", f"field '{name}' is missing"
    for name, tp in {**required, **(optional or {})}.items():
        value = obj.get(name)
        if value is None:
            continue
        wants_bool = tp is bool or (isinstance(tp, tuple) and bool in tp)
        if not isinstance(value, tp) or (isinstance(value, bool) and not wants_bool):
            return "wrong_type", f"field '{name}' should be {_type_name(tp)}, got {type(value).__name__}"
    return None


def _type_name(tp: type | tuple[type, ...]) -> str:
    if isinstance(tp, tuple):
        return " or ".join(t.__name__ for t in tp)
    return tp.__name__


def spelled_fields(row: Any, spellings: dict[str, tuple[str, ...]], required: dict[str, type | tuple[type, ...]],
                   types: dict[str, type | tuple[type, ...]], where: str) -> dict[str, Any]:
    """{field: value} of a JSON object whose fields have several spellings (first present wins), or the
    quarantine item (wrong_type, missing_field) when it is no object or a field is absent or mistyped."""
    if not isinstance(row, dict):
        return quarantine("wrong_type", f"expected a JSON object, got {type(row).__name__}", where, row)
    fields = {field: first_key(row, *names) for field, names in spellings.items()}
    problem = check_fields(fields, required, types)
    return quarantine(*problem, where, row) if problem else fields


def first_key(obj: dict[str, Any], *names: str) -> Any:
    """The value under the first of `names` present (not None): the camelCase/snake_case spellings of one field."""
    for name in names:
        if obj.get(name) is not None:
            return obj[name]
    return None
