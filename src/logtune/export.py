"""Export one `params.yaml: sources` entry to normalized Conversation rows, quarantining what cannot be.

Runs the source's adapter (`logtune.sources`), checks each conversation against
`schemas/conversation.v1.schema.json`, streams the good ones to `<out>/<name>.parquet` and every
quarantine entry to `<out>/<name>.quarantine.jsonl` (always written, possibly empty), and returns the
ledger: read = exported + quarantined. Not for cleaning content (that is `curate`).
"""

from __future__ import annotations

import inspect
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from logtune import records
from logtune.io import RowWriter
from logtune.params import ParamsError, from_dict, read_params
from logtune.sources import get_adapter, is_quarantine, quarantine

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "conversation.v1.schema.json"


@dataclass(frozen=True)
class SourceParams:
    """One entry of `params.yaml: sources`."""
    name: str
    kind: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)  # adapter-specific (table/column mapping, ...)


@dataclass(frozen=True)
class ExportParams:
    max_message_chars: int = 20000


def load_source(params_path: str | Path, name: str) -> SourceParams:
    """The `sources` entry called `name` (ParamsError when absent or malformed)."""
    entries = read_params(params_path).get("sources")
    if not isinstance(entries, list):
        raise ParamsError(f"{params_path}: 'sources' must be a list of source entries")
    found = [from_dict(SourceParams, e, f"sources[{i}]") for i, e in enumerate(entries)
             if isinstance(e, dict) and e.get("name") == name]
    if not found:
        known = ", ".join(str(e.get("name")) for e in entries if isinstance(e, dict))
        raise ParamsError(f"{params_path}: no source named '{name}' in 'sources' (have: {known})")
    return found[0]


def conversation_validator(schema_path: str | Path = SCHEMA_PATH) -> jsonschema.Draft202012Validator:
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_problem(validator: jsonschema.Draft202012Validator, conversation: dict[str, Any]) -> str | None:
    """The first schema violation of a conversation as 'path: message', or None when it conforms."""
    errors = sorted(validator.iter_errors(conversation), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    e = errors[0]
    return f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"


def long_message(conversation: dict[str, Any], max_chars: int | None) -> tuple[str, str] | None:
    """(message id, detail) of the first message longer than `max_chars`, or None."""
    for m in conversation["messages"]:
        if max_chars is not None and len(m.get("content") or "") > max_chars:
            return m.get("id"), f"message {m.get('id')} has {len(m['content'])} characters (max {max_chars})"
    return None


def check_conversation(conversation: dict[str, Any], validator: jsonschema.Draft202012Validator,
                       max_chars: int | None, source: SourceParams) -> dict[str, Any]:
    """The conversation itself when it may be exported, else its quarantine entry (`schema` or `message_too_long`)."""
    where = f"{source.kind} {source.path} id {conversation.get('source_id')}"
    problem = schema_problem(validator, conversation)
    if problem is not None:
        return quarantine("schema", problem, where, conversation)
    too_long = long_message(conversation, max_chars)
    if too_long is not None:
        return quarantine("message_too_long", too_long[1], f"{where} message {too_long[0]}", conversation)
    return conversation


def _read(adapter: Any, source: SourceParams, max_chars: int | None):
    # An adapter that can name the exact row of an over-long message takes the limit itself; for the
    # others, `long_message` applies the same limit to each conversation here.
    extra = {"max_message_chars": max_chars} if "max_message_chars" in inspect.signature(adapter.read).parameters else {}
    return adapter.read(source.path, dict(source.options or {}), source.name, **extra)


def export_source(source: SourceParams, out_dir: str | Path, params: ExportParams,
                  schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Write `<out_dir>/<name>.parquet` and `<name>.quarantine.jsonl`; return the export ledger."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = get_adapter(source.kind)
    validator = conversation_validator(schema_path)
    reasons: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    # Written under temporary names and moved in place at the end: an unreadable source leaves no
    # half-written output behind for a later stage to pick up.
    parquet, qpath = out_dir / f"{source.name}.parquet", out_dir / f"{source.name}.quarantine.jsonl"
    tmp_parquet, tmp_q = parquet.with_name(parquet.name + ".tmp"), qpath.with_name(qpath.name + ".tmp")
    try:
        exported = _write(adapter, source, params, validator, tmp_parquet, tmp_q, reasons, counts)
    except BaseException:
        tmp_parquet.unlink(missing_ok=True)
        tmp_q.unlink(missing_ok=True)
        raise
    os.replace(tmp_parquet, parquet)
    os.replace(tmp_q, qpath)
    read, messages = counts["read"], counts["messages"]
    quarantined = sum(reasons.values())
    if read != exported + quarantined:  # the ledger must balance: nothing is dropped silently
        raise RuntimeError(f"export {source.name}: read {read} != exported {exported} + quarantined {quarantined}")
    return {"source": source.name, "read": read, "exported": exported, "quarantined": quarantined,
            "quarantined_by_reason": dict(sorted(reasons.items())), "messages_exported": messages}


def _write(adapter, source: SourceParams, params: ExportParams, validator, parquet: Path, qpath: Path,
           reasons: Counter, counts: Counter) -> int:
    with RowWriter(parquet, records.CONVERSATION) as writer, open(qpath, "w", encoding="utf-8") as qfile:
        for item in _read(adapter, source, params.max_message_chars):
            counts["read"] += 1
            if not is_quarantine(item):
                item = check_conversation(item, validator, params.max_message_chars, source)
                if not is_quarantine(item):
                    writer.write(item)
                    counts["messages"] += len(item["messages"])
                    continue
            reasons[item["reason"]] += 1
            qfile.write(json.dumps({"source": source.name, **item}, sort_keys=True, ensure_ascii=False,
                                   default=str) + "\n")
        writer.flush()
        return writer.count
