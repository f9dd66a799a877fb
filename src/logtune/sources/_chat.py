"""Helpers shared by the chat-format source adapters (ShareGPT, messages JSONL, gateway logs, chat exports).

What they share: building MESSAGE / CONVERSATION dicts with every field of `logtune.records`, mapping
each format's role names, merging consecutive same-role turns, one canonical tool-call JSON, quarantine
items, and reading input either line by line (JSONL, gzip too) or as one JSON document.

Canonical tool calls (the `tool_calls` text of an assistant message) are the OpenAI shape, keys sorted:
`[{"function": {"arguments": <object, or the raw text when it is not JSON>, "name": "f"}, "id": "c1" | null,
"type": "function"}]`. On a `tool` message, `tool_calls` holds which call it answers,
`{"name": ..., "tool_call_id": ...}`, because the Conversation contract has no column for that link.
Not for the SQLite log adapter or the orchestrator (`logtune.export`): those are another module's.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from logtune.ids import conversation_id, prompt_version
from logtune.params import check_keys
from logtune.sources import SourceError  # noqa: F401  (adapters raise it for whole-file problems)

ROLES = ("system", "user", "assistant", "tool")
OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
                "tool": "tool", "function": "tool"}
RECORD_PREFIX_CHARS = 2000  # a quarantined record is kept as a prefix: enough to see what broke


class UnknownRole(ValueError):
    """A turn whose role name the format does not define: the record is quarantined, not guessed."""


class Unfit(ValueError):
    """A record that cannot become a Conversation; `reason` is its quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def json_text(obj: Any) -> str:
    """Deterministic JSON text for the contract's JSON columns (keys sorted, UTF-8 kept)."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def check_options(source_name: str, options: dict | None, allowed: Iterable[str]) -> dict:
    """The adapter's options, with a typo failing at start (ParamsError naming the source)."""
    options = dict(options or {})
    check_keys(f"sources: {source_name}", options, allowed)
    return options


def to_iso(value: Any) -> str | None:
    """A timestamp as ISO-8601 text: epoch seconds become UTC, text is kept as the source had it."""
    from datetime import datetime, timezone

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def quarantine(reason: str, detail: str, location: str, record: Any) -> dict:
    """One input record that could not become a Conversation, with why and where."""
    if isinstance(record, bytes):
        text = record.decode("utf-8", errors="replace")
    elif isinstance(record, str):
        text = record
    else:
        try:
            text = json_text(record)
        except (TypeError, ValueError):
            text = repr(record)
    return {"quarantine": True, "reason": reason, "detail": detail, "location": location,
            "record": text[:RECORD_PREFIX_CHARS]}


def message(id: Any, role: str, content: str | None, *, created_at: Any = None, tool_calls: str | None = None,
            rating: int | None = None, feedback_note: str | None = None, rewrite: str | None = None,
            feedback_meta: str | None = None) -> dict:
    """A MESSAGE dict with every contract field."""
    if role not in ROLES:
        raise UnknownRole(f"role {role!r} is not one of {ROLES}")
    return {"id": None if id is None else str(id), "role": role, "content": content if content is not None else "",
            "created_at": to_iso(created_at), "tool_calls": tool_calls, "rating": rating,
            "feedback_note": feedback_note, "rewrite": rewrite, "feedback_meta": feedback_meta}


def map_role(raw: Any, table: dict[str, str]) -> str:
    """The contract role for a format's role name (case-insensitive); UnknownRole when it has none."""
    if not isinstance(raw, str) or raw.lower() not in table:
        raise UnknownRole(f"unknown role {raw!r} (known: {', '.join(sorted(table))})")
    return table[raw.lower()]


def conversation(source_name: str, source_id: str, messages: list[dict], **fields: Any) -> dict:
    """A CONVERSATION dict: id from (source, source_id), leading system turns lifted into system_prompt.

    The system prompt has its own column (and version hash); `prompt.with_system` ignores system
    messages, so a system turn left in `messages` would silently never reach training.
    """
    messages = list(messages)
    system_parts = [fields.pop("system_prompt")] if fields.get("system_prompt") else []
    fields.pop("system_prompt", None)
    while messages and messages[0]["role"] == "system":
        if messages[0]["content"].strip():
            system_parts.append(messages[0]["content"])
        messages.pop(0)
    system_prompt = "\n\n".join(system_parts) if system_parts else None
    row = {"id": conversation_id(source_name, str(source_id)), "source": source_name, "source_id": str(source_id),
           "task_type": None, "system_prompt": system_prompt, "prompt_version": prompt_version(system_prompt),
           "model_version": None, "context": None, "messages": messages, "status": "ok", "error": None,
           "confidence": None, "approval": None, "latency_ms": None, "cost": None, "created_at": None,
           "provenance": "real"}
    unknown = set(fields) - set(row)
    if unknown:
        raise TypeError(f"not Conversation fields: {sorted(unknown)}")
    row.update(fields)
    row["created_at"] = to_iso(row["created_at"])
    return row


def tools_context(tools: Any) -> str | None:
    """Tool definitions as the conversation's CONTEXT JSON (`{"tools": [...]}`), or None without tools.

    The contract has no tools column; the definitions are what the model could call, i.e. the
    authoritative context of a tool-using turn, and `prompt.render_system` shows them to the model
    the way Glaive-style data does (tools listed in the system message).
    """
    if tools in (None, "", []):
        return None
    if isinstance(tools, str):
        tools = json.loads(tools)  # ValueError for the caller to quarantine
    if not isinstance(tools, list):
        raise ValueError(f"tools must be a list, got {type(tools).__name__}")
    return json_text({"tools": tools})


def _one_call(call: Any) -> dict:
    if not isinstance(call, dict):
        raise ValueError(f"a tool call must be an object, got {type(call).__name__}")
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool call has no name: {json_text(call)[:200]}")
    if "arguments" in fn:
        args = fn["arguments"]
    elif "input" in fn:            # Anthropic tool_use blocks
        args = fn["input"]
    else:
        args = fn.get("parameters", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            pass                   # e.g. ChatGPT's code interpreter: the argument is raw Python
    call_id = call.get("id")
    return {"id": None if call_id is None else str(call_id), "type": "function",
            "function": {"name": name, "arguments": args}}


def tool_calls_json(calls: Any) -> str | None:
    """Canonical tool-call JSON from OpenAI, Glaive/ShareGPT or Anthropic shapes (one call or a list).

    Raises ValueError when a call has no name or is not an object, for the adapter to quarantine.
    """
    if calls in (None, "", []):
        return None
    if isinstance(calls, str):
        calls = json.loads(calls)
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list):
        raise ValueError(f"tool calls must be a list or an object, got {type(calls).__name__}")
    return json_text([_one_call(c) for c in calls])


def tool_link_json(tool_call_id: Any = None, name: Any = None) -> str | None:
    """On a tool message: which call it answers (None when the format does not say)."""
    if tool_call_id is None and name is None:
        return None
    return json_text({"tool_call_id": tool_call_id, "name": name})


def _merge_meta(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    ma, mb = json.loads(a), json.loads(b)
    merged = dict(ma)
    for key, value in mb.items():
        if isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = merged[key] + value
        else:
            merged.setdefault(key, value)
    return json_text(merged)


def merge_same_role(messages: list[dict], roles: tuple[str, ...] = ("user", "assistant")) -> list[dict]:
    """Merge consecutive turns of the same role (in `roles`) into one turn.

    Chat templates and TRL expect alternating turns; exports split one turn when a user sends two
    messages in a row or an assistant writes text and then calls a tool. The merged turn keeps the
    first turn's id and time, joins the texts with a blank line, concatenates tool calls, keeps the
    last rating/note/rewrite given, and merges feedback_meta. Tool results are never merged: each
    answers its own call.
    """
    out: list[dict] = []
    for m in messages:
        prev = out[-1] if out else None
        if prev is None or prev["role"] != m["role"] or m["role"] not in roles:
            out.append(dict(m))
            continue
        prev["content"] = "\n\n".join(t for t in (prev["content"], m["content"]) if t)
        if m["tool_calls"]:
            calls = (json.loads(prev["tool_calls"]) if prev["tool_calls"] else []) + json.loads(m["tool_calls"])
            prev["tool_calls"] = json_text(calls)
        for key in ("rating", "feedback_note", "rewrite"):
            if m[key] is not None:
                prev[key] = m[key]
        prev["feedback_meta"] = _merge_meta(prev["feedback_meta"], m["feedback_meta"])
    return out


def text_of(content: Any) -> str | None:
    """Text of a message content: a string, or a list of parts whose text parts are joined.

    Non-text parts (images, audio) are dropped: the models trained here are text-only.
    Returns None for a content that is neither (the adapter quarantines it as wrong_type).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "\n".join(texts)
    return None


def require_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return path


def iter_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of each non-blank line, streamed; `.gz` files are read through gzip."""
    path = require_path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if raw.strip():
                yield n, raw.rstrip(b"\r\n")


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, Any, dict | None]]:
    """(line number, parsed object or None, quarantine or None) per non-blank line.

    Each line is decoded on its own, so invalid UTF-8 or broken JSON quarantines that line only.
    """
    for n, raw in iter_lines(path):
        where = f"line {n}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield n, None, quarantine("invalid_utf8", f"{Path(path).name}: {e}", where, raw)
            continue
        try:
            yield n, json.loads(text), None
        except ValueError as e:
            yield n, None, quarantine("broken_json", f"{Path(path).name}: {e}", where, text)


def load_json_document(path: str | Path, kind: str) -> Any:
    """Parse a file that is one JSON document (exports are a single array, so they are read whole).

    A file that is not UTF-8 JSON is not the declared kind: SourceError (a ValueError) naming the path.
    """
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {kind} file: it is a folder")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SourceError(f"{path}: not a {kind} file: not UTF-8 ({e})") from None
    except ValueError as e:
        raise SourceError(f"{path}: not a {kind} file: not JSON ({e})") from None


def openai_messages(turns: list) -> list[dict]:
    """OpenAI-style turns as contract messages (merged, tool links checked); raises Unfit.

    Used by messages_jsonl and openai_chat_log (a gateway request carries the same message shape).
    """
    messages, call_ids = [], set()
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise Unfit("wrong_type", f"turn {i} is not an object")
        try:
            role = map_role(turn.get("role"), OPENAI_ROLES)
        except UnknownRole as e:
            raise Unfit("unknown_role", f"turn {i}: {e}") from None
        content = text_of(turn.get("content"))
        if content is None:
            raise Unfit("wrong_type", f"turn {i}: content is {type(turn.get('content')).__name__}, not text")
        tool_calls, meta = None, None
        if role == "assistant":
            try:
                tool_calls = tool_calls_json(turn.get("tool_calls") or turn.get("function_call"))
            except ValueError as e:
                raise Unfit("broken_tool_call", f"turn {i}: {e}") from None
            call_ids.update(c["id"] for c in json.loads(tool_calls or "[]") if c["id"] is not None)
            if "weight" in turn:
                meta = json_text({"weight": turn["weight"]})
        elif role == "tool":
            link = turn.get("tool_call_id")
            if link is not None and link not in call_ids:
                raise Unfit("orphan_reply", f"turn {i}: tool result for call {link!r}, which no earlier turn made")
            tool_calls = tool_link_json(link, turn.get("name"))
        messages.append(message(i, role, content, tool_calls=tool_calls, feedback_meta=meta))
    return merge_same_role(messages)
