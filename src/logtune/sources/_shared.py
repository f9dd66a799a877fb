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


EPOCH_MS_ABOVE = 1e11  # a number above this is epoch milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973
TIME_UNITS = ("auto", "iso", "epoch_s", "epoch_ms")


def parse_time(value: Any, unit: str = "auto") -> tuple[str, float] | None:
    """(ISO-8601 text, epoch seconds) for a timestamp, None for None; ValueError when it is none.

    ISO text is kept as the source wrote it (checked with `datetime.fromisoformat`; a naive time counts
    as UTC for ordering); numbers, and text that is only a number, are epoch seconds or milliseconds
    (`unit`; "auto" tells them apart by size) and become ISO-8601 UTC. Anything else ("yesterday", a
    bool, an object) is a ValueError for the adapter to quarantine: a kept-as-is or silently nulled
    time would misorder turns with no trace.
    """
    if value is None:
        return None
    if unit not in TIME_UNITS:
        raise ValueError(f"time unit {unit!r} is not one of {TIME_UNITS}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"timestamp {value!r} is {type(value).__name__}, not text or a number")
    number = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            if unit in ("epoch_s", "epoch_ms"):
                raise ValueError(f"timestamp {value!r} is not a number ({unit})") from None
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"timestamp {value!r} is not ISO-8601 text or epoch seconds/milliseconds") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return value, parsed.timestamp()
    if unit == "iso":
        raise ValueError(f"timestamp {value!r} is a number, not ISO-8601 text")
    seconds = float(number)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"timestamp {value!r} is not a finite number")
    if unit == "epoch_ms" or (unit == "auto" and abs(seconds) > EPOCH_MS_ABOVE):
        seconds /= 1000.0
    try:
        iso = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {value!r} is out of range") from None
    return iso, seconds


def to_iso(value: Any, unit: str = "auto") -> str | None:
    """A timestamp as ISO-8601 text (see `parse_time`); raises Unfit("wrong_type") when it is not one."""
    try:
        parsed = parse_time(value, unit)
    except ValueError as e:
        raise Unfit("wrong_type", str(e)) from None
    return None if parsed is None else parsed[0]


RATING_WORDS = {"1": 1, "+1": 1, "-1": -1, "up": 1, "down": -1, "thumbsup": 1, "thumbsdown": -1,
                "thumbs_up": 1, "thumbs_down": -1, "thumb_up": 1, "thumb_down": -1, "positive": 1,
                "negative": -1, "like": 1, "dislike": -1, "good": 1, "bad": -1}


def parse_rating(value: Any) -> int | None:
    """+1 / -1 for a thumbs value in any spelling the formats use (1/-1, "thumbsUp", "thumbs_down", "up",
    true/false, ...), None for None; Unfit("unknown_rating") for anything else (never guessed)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1 if value else -1
    if isinstance(value, (int, float)) and value in (1, -1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in RATING_WORDS:
        return RATING_WORDS[value.strip().lower()]
    raise Unfit("unknown_rating", f"rating {value!r} is not a thumbs up/down")


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


# ------------------------------------------------------------------ whole-file JSON, recovered around damage

_ELEMENT_START = re.compile(r"[\[,]\s*(?=[\[{])")
_SEPARATOR = re.compile(r"\s*([,\]])")
_SPACE = re.compile(r"\s*")
_FIRST_KEY = re.compile(r'\{\s*"([^"\\]{1,100})"\s*:')
_SURROGATE = re.compile("[\udc80-\udcff]")   # a byte that was not UTF-8, as surrogateescape decodes it


def load_json_records(path: str | Path, kind: str, key: str | None = None) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    """The elements of a file that is one JSON document holding an array (the top level, or `doc[key]`).

    Yields (index, element), or a quarantine item for a stretch of the file that is not valid. A clean
    file is parsed whole (fast). A damaged one (a flipped byte, invalid UTF-8, a truncated tail) is
    scanned element by element with `raw_decode`, so the records before and after the damage are still
    read: an element holding invalid UTF-8 is quarantined alone (`invalid_utf8`), and unparseable bytes
    are quarantined as one `broken_json` item from the broken element up to the next element that
    starts a run of good elements to the array's end, named by byte offsets. A file with no array to
    scan (not JSON at all, another top-level shape) is a SourceError naming the path.
    """
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {kind} file: it is a folder")
    data = path.read_bytes()
    if not data.strip():
        return    # an empty file holds no records: export counts it as an empty source (a warning)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except ValueError:
        yield from _recover_array(path, data, kind, key)
        return
    array = (doc.get(key) if isinstance(doc, dict) else None) if key is not None else doc
    if not isinstance(array, list):
        want = f"an object with a '{key}' list" if key else "a list"
        raise SourceError(f"{path}: not a {kind} file: top level is {type(doc).__name__}, not {want}")
    yield from enumerate(array)


def _recover_array(path: Path, data: bytes, kind: str, key: str | None) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    decoder = json.JSONDecoder()
    if key is None:
        start = re.match(r"\s*\[", text)
        end_ok: Callable[[str], bool] = lambda rest: not rest.strip()
    else:
        start = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
        end_ok = lambda rest: _closes_object(rest)
    if start is None:
        raise SourceError(f"{path}: not a {kind} file: not JSON, and no array to recover records from")

    def offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8", errors="surrogateescape"))

    shape: set[str] | None = None   # the keys of the first good element: what a top-level record looks like
    hint: set[str] | None = None    # else the first key of the broken element

    def chain_from(pos: int) -> bool:
        """True when `pos` starts a run of good elements of this array (not of an array nested in a record):
        the run reaches the array's end, or it breaks at a later damage and its first element has the
        shape of the records read so far (a nested array's run ends in `]` with more of its record after it)."""
        first, good = None, 0
        while True:
            try:
                value, pos = decoder.raw_decode(text, _SPACE.match(text, pos).end())
            except ValueError:
                return good > 0 and _similar(first, shape)   # a later damage: only a known shape tells
            first, good = (value if first is None else first), good + 1
            m = _SEPARATOR.match(text, pos)
            if m is None:
                return _similar(first, shape)
            if m.group(1) == "]":
                return end_ok(text[m.end():]) and _similar(first, shape or hint)
            pos = m.end()

    pos, index = start.end(), 0
    while True:
        pos = _SPACE.match(text, pos).end()
        if pos >= len(text):
            yield quarantine("truncated", f"the file ends inside the array (byte {offset(pos)})",
                             f"bytes {offset(pos)}-{len(data)}", "")
            return
        if text[pos] == "]" and index == 0:
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError as e:
            key_at = _FIRST_KEY.match(text, pos)   # what a record looks like, when none was read yet
            hint = {key_at.group(1)} if key_at else None
            resume = next((c.end() for c in _ELEMENT_START.finditer(text, pos + 1) if chain_from(c.end())), None)
            stop = len(text) if resume is None else resume
            yield quarantine("broken_json", f"record {index}: JSON error: {e.msg}", f"bytes {offset(pos)}-{offset(stop)}",
                             text[pos:stop].encode("utf-8", errors="surrogateescape")[:RECORD_PREFIX_CHARS])
            index += 1
            if resume is None:
                return
            pos = resume
            continue
        chunk = text[pos:end]
        bad = _SURROGATE.search(chunk)
        if bad:
            yield quarantine("invalid_utf8", f"record {index}: not UTF-8 at byte {offset(pos + bad.start())}",
                             f"bytes {offset(pos)}-{offset(end)}", chunk.encode("utf-8", errors="surrogateescape"))
        else:
            if shape is None and isinstance(value, dict):
                shape = set(value)
            yield index, value
        index += 1
        m = _SEPARATOR.match(text, end)
        if m is None:
            stop = next((c.end() for c in _ELEMENT_START.finditer(text, end) if chain_from(c.end())), None)
            yield quarantine("broken_json", f"after record {index - 1}: expected ',' or ']'",
                             f"bytes {offset(end)}-{offset(stop if stop is not None else len(text))}",
                             text[end:stop].encode("utf-8", errors="surrogateescape")[:RECORD_PREFIX_CHARS])
            index += 1
            if stop is None:
                return
            pos = stop
            continue
        if m.group(1) == "]":
            return
        pos = m.end()


def _similar(value: Any, shape: set[str] | None) -> bool:
    """An object whose keys overlap the records' keys by at least half (Jaccard): a record, not a nested part.
    A one-key shape (the first key of a broken first record) only has to be among the keys."""
    if shape is None or not isinstance(value, dict):
        return False
    keys = set(value)
    if len(shape) == 1:
        return shape <= keys
    return len(keys & shape) >= 0.5 * len(keys | shape)


def _closes_object(rest: str) -> bool:
    """True when `rest` (the text after an array) is what closes the object holding it: `, "k": v ... }`."""
    try:
        json.loads('{"_": []' + rest)
    except ValueError:
        return False
    return True
