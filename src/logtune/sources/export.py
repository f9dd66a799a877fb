"""Export one `params.yaml: sources` entry to normalized Conversation rows, quarantining what cannot be.

Runs the source's adapter (`logtune.sources`), checks each conversation against
`schemas/conversation.v1.schema.json`, streams the good ones to `<out>/<name>.parquet` and every
quarantine entry to `<out>/<name>.quarantine.jsonl` (always written, possibly empty), and returns the
ledger: read = exported + quarantined. Not for cleaning content (that is `curate`).
"""

from __future__ import annotations

import gc
import inspect
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa

from logtune import records
from logtune.io import RowWriter, atomic_path
from logtune.params import ParamsError, from_dict, read_params
from logtune.schema_check import compile_conforms
from logtune.sources import get_adapter, quarantine

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "conversation.v1.schema.json"


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


def source_entries(params_path: str | Path) -> list[dict[str, Any]]:
    """The `sources` entries as `{name, kind, path, options}` dicts, in file order.

    `sources` is a mapping keyed by source name (`support: {kind, path, options}`): DVC's `foreach`
    then tracks each entry as its own param (`sources.support`), so editing one source re-exports only
    that source. A list of `{name, kind, path, options}` is accepted too (every source then re-exports
    when any changes).
    """
    sources = read_params(params_path).get("sources")
    if isinstance(sources, dict):
        entries = []
        for name, entry in sources.items():
            if not isinstance(entry, dict):
                raise ParamsError(f"{params_path}: sources.{name} must be a mapping with kind, path, options")
            if "name" in entry and entry["name"] != name:
                raise ParamsError(f"{params_path}: sources.{name} has a different name '{entry['name']}'")
            entries.append({"name": name, **entry})
        return entries
    if isinstance(sources, list) and all(isinstance(e, dict) for e in sources):
        return sources
    raise ParamsError(f"{params_path}: 'sources' must map source names to {{kind, path, options}}")


def load_source(params_path: str | Path, name: str) -> SourceParams:
    """The `sources` entry called `name` (ParamsError when absent or malformed)."""
    entries = source_entries(params_path)
    found = [from_dict(SourceParams, e, f"sources.{e.get('name')}") for e in entries if e.get("name") == name]
    if not found:
        known = ", ".join(str(e.get("name")) for e in entries)
        raise ParamsError(f"{params_path}: no source named '{name}' in 'sources' (have: {known})")
    return found[0]


def conversation_validator(schema_path: str | Path = SCHEMA_PATH) -> jsonschema.Draft202012Validator:
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# id(schema) -> (schema, compiled check): the schema is held so its id cannot be reused by another object.
_CONFORMS: dict[int, tuple[Any, Any]] = {}


def _conforms(validator: jsonschema.Draft202012Validator):
    entry = _CONFORMS.get(id(validator.schema))
    if entry is None:
        entry = _CONFORMS[id(validator.schema)] = (validator.schema, compile_conforms(validator.schema))
    return entry[1]


def schema_problem(validator: jsonschema.Draft202012Validator, conversation: dict[str, Any]) -> str | None:
    """The first schema violation of a conversation as 'path: message', or None when it conforms.

    Every conversation is checked against the schema: the compiled check (`logtune.schema_check`) proves
    the common case in microseconds; whatever it cannot prove goes to jsonschema for the verdict and message.
    """
    conforms = _conforms(validator)
    if conforms is not None and conforms(conversation):
        return None
    errors = sorted(validator.iter_errors(conversation), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    e = errors[0]
    return f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"


def long_message(conversation: dict[str, Any], max_chars: int | None) -> tuple[str, str] | None:
    """(message id, detail) of the first message longer than `max_chars`, or None."""
    if max_chars is None:
        return None
    for m in conversation["messages"]:
        if len(m.get("content") or "") > max_chars:
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


def _read(adapter: Any, source: SourceParams, max_chars: int | None) -> tuple[Any, int | None]:
    """The adapter's items, and the message length limit left for `check_conversation` to apply.

    An adapter that can name the exact row of an over-long message takes the limit itself (and export
    does not check it twice); for the others, `long_message` applies it to each conversation here.
    """
    if "max_message_chars" in inspect.signature(adapter.read).parameters:
        return adapter.read(source.path, dict(source.options or {}), source.name, max_message_chars=max_chars), None
    return adapter.read(source.path, dict(source.options or {}), source.name), max_chars


def _column(rows: list[dict[str, Any]], name: str, type_: pa.DataType) -> pa.Array:
    try:
        values = list(map(itemgetter(name), rows))   # C-level; rows from adapters carry every field
    except KeyError:
        values = [r.get(name) for r in rows]        # a missing field is null, as in RowWriter
    return pa.array(values, type=type_)


class ConversationWriter(RowWriter):
    """RowWriter that converts a batch column by column, and flushes by messages as well as rows.

    `pa.array` per field is about twice as fast as `Table.from_pylist` on nested rows and gives the
    same table (so the same bytes). Flushing every `max_messages` messages bounds memory for sources
    with long conversations. (A candidate for `logtune.io.RowWriter` itself.)
    """

    def __init__(self, path: Path, batch_size: int = 10_000, max_messages: int = 100_000):
        super().__init__(path, records.CONVERSATION, batch_size=batch_size)
        self.max_messages, self.messages = max_messages, 0

    def write(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        self.messages += len(row["messages"])
        if self.messages >= self.max_messages or len(self._buf) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            rows = self._buf
            table = pa.Table.from_arrays([_column(rows, f.name, f.type) for f in self.schema], schema=self.schema)
            self._writer.write_table(table)
            self.count += len(rows)
            self._buf, self.messages = [], 0


@contextmanager
def _fewer_gc_passes(gen0: int = 50_000):
    """Run the cyclic GC less often while exporting, then restore its thresholds.

    Export allocates millions of short-lived rows and holds a batch of conversations: with the default
    threshold (700 allocations) the collector keeps rescanning that batch, about 10% of the export's time.
    The rows hold no reference cycles, so collecting less often frees nothing later than it should.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(gen0, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


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
    with atomic_path(parquet) as tmp_parquet, atomic_path(qpath) as tmp_q, _fewer_gc_passes():
        exported = _write(adapter, source, params, validator, tmp_parquet, tmp_q, reasons, counts)
    read, messages = counts["read"], counts["messages"]
    quarantined = sum(reasons.values())
    if read != exported + quarantined:  # the ledger must balance: nothing is dropped silently
        raise RuntimeError(f"export {source.name}: read {read} != exported {exported} + quarantined {quarantined}")
    return {"source": source.name, "read": read, "exported": exported, "quarantined": quarantined,
            "quarantined_by_reason": dict(sorted(reasons.items())), "messages_exported": messages}


def _write(adapter, source: SourceParams, params: ExportParams, validator, parquet: Path, qpath: Path,
           reasons: Counter, counts: Counter) -> int:
    items, max_chars = _read(adapter, source, params.max_message_chars)
    # The per-conversation loop of a million-message export: the common case (a conversation the compiled
    # check proves conforming, with no length limit left to apply here) goes straight to the writer.
    conforms = _conforms(validator) if max_chars is None else None
    read = messages = 0
    with ConversationWriter(parquet) as writer, open(qpath, "w", encoding="utf-8") as qfile:
        for item in items:
            read += 1
            if not item.get("quarantine"):
                if conforms is None or not conforms(item):
                    item = check_conversation(item, validator, max_chars, source)
                if not item.get("quarantine"):
                    writer.write(item)
                    messages += len(item["messages"])
                    continue
            reasons[item["reason"]] += 1
            qfile.write(json.dumps({"source": source.name, **item}, sort_keys=True, ensure_ascii=False,
                                   default=str) + "\n")
        writer.flush()
        counts["read"], counts["messages"] = read, messages
        return writer.count
