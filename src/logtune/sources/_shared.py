"""What the file-based source adapters share: reading input, building records, quarantining the rest.

Reading: JSONL streamed line by line with each line decoded on its own (invalid UTF-8 or broken JSON
quarantines that line, not the file), gzip detected by its magic bytes, and whole JSON documents (the
chat exports are one array). Building: MESSAGE / CONVERSATION dicts with every field of `logtune.records`,
role-name mapping, merging of consecutive same-role turns, one canonical tool-call JSON, field checks,
and the parser of `Human: ... Assistant: ...` transcripts. Quarantine items say why and where.

Canonical JSON text (the contract's JSON columns: tool_calls, feedback_meta, context) is compact with
sorted keys. Canonical tool calls are the OpenAI shape: `[{"function": {"arguments": <object, or the raw
text when it is not JSON>, "name": "f"}, "id": "c1" | null, "type": "function"}]`. On a `tool` message,
`tool_calls` holds which call it answers, `{"name": ..., "tool_call_id": ...}`, because the Conversation
contract has no column for that link.

Not an adapter itself, and not for the SQLite log adapter or the orchestrator (`logtune.sources.export`).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from logtune.ids import conversation_id, prompt_version
from logtune.params import check_keys
from logtune.sources import SourceError, is_quarantine  # noqa: F401  (adapters use both through this module)

ROLES = ("system", "user", "assistant", "tool")
OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
                "tool": "tool", "function": "tool"}
RECORD_PREFIX_CHARS = 2000   # a quarantined record is kept as a text prefix: enough to diagnose, bounded in size
GZIP_MAGIC = b"\x1f\x8b"


class UnknownRole(ValueError):
    """A turn whose role name the format does not define: the record is quarantined, not guessed."""


class Unfit(ValueError):
    """A record that cannot become a Conversation; `reason` is its quarantine reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


# ---------------------------------------------------------------------------------------------- records

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


def to_iso(value: Any) -> str | None:
    """A timestamp as ISO-8601 text: epoch seconds become UTC, text is kept as the source had it."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


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


def first_key(obj: dict[str, Any], *names: str) -> Any:
    """The value under the first of `names` present (not None): the camelCase/snake_case spellings of one field."""
    for name in names:
        if obj.get(name) is not None:
            return obj[name]
    return None


# ------------------------------------------------------------------------------------- chat formats

def map_role(raw: Any, table: dict[str, str]) -> str:
    """The contract role for a format's role name (case-insensitive); UnknownRole when it has none."""
    if not isinstance(raw, str) or raw.lower() not in table:
        raise UnknownRole(f"unknown role {raw!r} (known: {', '.join(sorted(table))})")
    return table[raw.lower()]


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
                meta = {"weight": turn["weight"]}
        elif role == "tool":
            link = turn.get("tool_call_id")
            if link is not None and link not in call_ids:
                raise Unfit("orphan_reply", f"turn {i}: tool result for call {link!r}, which no earlier turn made")
            tool_calls = tool_link_json(link, turn.get("name"))
        messages.append(message(role, content, id=i, tool_calls=tool_calls, feedback_meta=meta))
    return merge_same_role(messages)


def split_transcript(text: str, labels: dict[str, str], sep: str) -> list[tuple[str, str]] | None:
    """Split a `Human: ... Assistant: ...` transcript into (role, content) turns, or None if malformed.

    `labels` maps the speaker label to a role ({"Human": "user", "Assistant": "assistant"}); `sep`
    is the text that must precede each label ("\\n\\n" for HH-RLHF, "\\n" or start for line-based
    histories). Text before the first label makes it malformed; a turn keeps its inner newlines.
    """
    alternatives = "|".join(re.escape(label) for label in labels)
    pattern = re.compile(rf"(?:^|{re.escape(sep)})({alternatives}):[ \t]?")
    matches = list(pattern.finditer(text))
    if not matches or text[:matches[0].start()].strip():
        return None
    turns = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        turns.append((labels[m.group(1)], text[m.end():end].strip()))
    return turns


# ---------------------------------------------------------------------------------------------- input

def require_path(path: str | Path) -> Path:
    """The path (a file or a folder); FileNotFoundError naming it when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return path


def require_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source file not found")
    return path


def open_maybe_gzip(path: str | Path) -> BinaryIO:
    """Open for binary reading, transparently gunzipping when the file starts with the gzip magic bytes."""
    path = require_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def iter_json_lines(path: str | Path, kind: str) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    """Yield (line_no, parsed JSON value) per non-blank line, or a quarantine item for a bad line.

    Each line is decoded separately, so invalid UTF-8 or broken JSON costs that line only. A file
    whose first line is a JSON array, or is not JSON and looks like the start of a JSON document or
    binary data, is not JSONL at all: SourceError. A truncated or corrupt gzip stream raises
    SourceError naming the path and line.
    """
    path = require_file(path)
    line_no = 0
    first = True
    with open_maybe_gzip(path) as fh:
        while True:
            try:
                raw = fh.readline()
            except (EOFError, OSError, zlib.error) as exc:
                raise SourceError(f"{path}: not a {kind} file: compressed stream broken after line {line_no}: "
                                  f"{exc}") from exc
            if not raw:
                return
            line_no += 1
            if not raw.strip():
                continue
            location = f"line {line_no}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if first and b"\x00" in raw:
                    raise SourceError(f"{path}: not a {kind} file: line 1 is binary data") from exc
                first = False
                yield quarantine("invalid_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}", location,
                                 raw.rstrip(b"\r\n"))
                continue
            if first:
                text = text.lstrip("\ufeff")
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                stripped = text.strip()
                if first and (stripped in ("[", "{") or "\x00" in stripped):
                    raise SourceError(f"{path}: not a {kind} file: line 1 is not a JSON object per line "
                                      "(a JSON document or binary?)") from exc
                first = False
                yield quarantine("broken_json", f"JSON error: {exc.msg} at column {exc.colno}", location,
                                 text.rstrip("\r\n"))
                continue
            if first and isinstance(obj, list):
                raise SourceError(f"{path}: not a {kind} file: line 1 is a JSON array, not one object per line")
            first = False
            yield line_no, obj


def map_json_lines(path: str | Path, kind: str, to_item: Callable[[int, Any], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One item per non-blank line of a JSONL file: a bad line's quarantine item as it is, and each
    good line as `to_item(line_no, value)`; an `Unfit` raised there quarantines that line with its reason."""
    for item in iter_json_lines(path, kind):
        if isinstance(item, dict):
            yield item
            continue
        line_no, value = item
        try:
            yield to_item(line_no, value)
        except Unfit as e:
            yield quarantine(e.reason, str(e), f"line {line_no}", value)


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
