"""Shared plumbing for the file-based source adapters (oasst, hh_rlhf, squad_v2, dolly, event_log, ...).

Streaming JSONL reading with per-line UTF-8 decoding (one bad line is quarantined, not the file),
gzip detection by magic bytes, quarantine entries, and construction of Message / Conversation
dicts with every field of `logtune.records.MESSAGE` / `CONVERSATION` present. Also the parser of
`Human: ... Assistant: ...` transcripts that hh_rlhf and records_jsonl share. Not an adapter itself.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from logtune.ids import conversation_id, prompt_version
from logtune.params import check_keys
from logtune.sources import SourceError

RECORD_PREFIX_CHARS = 2000   # a quarantined record is kept as a text prefix: enough to diagnose, bounded in size
GZIP_MAGIC = b"\x1f\x8b"


def quarantine(reason: str, detail: str, location: str, record: Any) -> dict[str, Any]:
    """A quarantine item: why an input record could not become a conversation, and where it sits."""
    if isinstance(record, bytes):
        text = record.decode("utf-8", errors="backslashreplace")
    elif isinstance(record, str):
        text = record
    else:
        text = to_json(record)
    return {"quarantine": True, "reason": reason, "detail": detail, "location": location,
            "record": text[:RECORD_PREFIX_CHARS]}


def is_quarantine(item: dict[str, Any]) -> bool:
    return bool(item.get("quarantine"))


def to_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, no ASCII escaping) for the JSON-text columns."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


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


def check_options(kind: str, options: dict[str, Any] | None, allowed: set[str]) -> dict[str, Any]:
    """The adapter's options, with a typo failing loudly instead of being ignored."""
    options = dict(options or {})
    check_keys(f"sources ({kind} options)", options, allowed)
    return options


def iter_json_lines(path: str | Path, kind: str) -> Iterator[tuple[int, Any] | dict[str, Any]]:
    """Yield (line_no, parsed JSON object) per non-blank line, or a quarantine item for a bad line.

    Each line is decoded separately, so invalid UTF-8 or broken JSON costs that line only. A file
    whose first line is a JSON array, or is not JSON and looks like the start of a JSON document or
    binary data, is not JSONL at all: SourceError. A truncated or corrupt gzip stream raises SourceError naming the path and line.
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
                yield quarantine("invalid_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}", location, raw)
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
                yield quarantine("broken_json", f"JSON error: {exc.msg} at column {exc.colno}", location, text)
                continue
            if first and isinstance(obj, list):
                raise SourceError(f"{path}: not a {kind} file: line 1 is a JSON array, not one object per line")
            first = False
            yield line_no, obj


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


def message(role: str, content: str | None, *, id: str | None = None, created_at: str | None = None,
            tool_calls: Any = None, rating: int | None = None, feedback_note: str | None = None,
            rewrite: str | None = None, feedback_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Message dict with every MESSAGE field; tool_calls and feedback_meta become JSON text."""
    return {
        "id": id,
        "role": role,
        "content": content,
        "created_at": created_at,
        "tool_calls": tool_calls if tool_calls is None or isinstance(tool_calls, str) else to_json(tool_calls),
        "rating": rating,
        "feedback_note": feedback_note,
        "rewrite": rewrite,
        "feedback_meta": None if feedback_meta is None else to_json(feedback_meta),
    }


def conversation(source_name: str, source_id: str, messages: list[dict[str, Any]], *, task_type: str | None = None,
                 system_prompt: str | None = None, model_version: str | None = None, context: Any = None,
                 status: str | None = None, error: str | None = None, confidence: float | None = None,
                 approval: str | None = None, latency_ms: float | None = None, cost: float | None = None,
                 created_at: str | None = None, provenance: str = "real") -> dict[str, Any]:
    """A Conversation dict with every CONVERSATION field; `context` (an object) becomes JSON text.

    Messages without a source id get "<source_id>#<index>", so build's lineage can name every message.
    """
    for index, msg in enumerate(messages):
        if msg["id"] is None:
            msg["id"] = f"{source_id}#{index}"
    return {
        "id": conversation_id(source_name, source_id),
        "source": source_name,
        "source_id": source_id,
        "task_type": task_type,
        "system_prompt": system_prompt,
        "prompt_version": prompt_version(system_prompt),
        "model_version": model_version,
        "context": None if context is None else (context if isinstance(context, str) else to_json(context)),
        "messages": messages,
        "status": status,
        "error": error,
        "confidence": None if confidence is None else float(confidence),
        "approval": approval,
        "latency_ms": None if latency_ms is None else float(latency_ms),
        "cost": None if cost is None else float(cost),
        "created_at": created_at,
        "provenance": provenance,
    }


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
