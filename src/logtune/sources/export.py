"""Export one `params.yaml: sources` entry to normalized Conversation rows, quarantining what cannot be.

Runs the source's adapter (`logtune.sources`), checks each conversation against
`schemas/conversation.v1.schema.json`, streams the good ones to `<out>/<name>.parquet` and every
quarantine entry to `<out>/<name>.quarantine.jsonl` (always written, possibly empty), and returns the
ledger: read = exported + quarantined. Not for cleaning content (that is `curate`).

A database source its adapter can cut by session-id range (`shard_ranges`: the `sql` kind and its
presets) is exported in shards of `export.shard_sessions` sessions, plus a last task for the orphan
messages after the sessions (`read_tail`), run where `runtime.engine` says (`logtune.engine.map_tasks`):
`local`, by `runtime.workers` forked processes; `ray`, as Ray tasks of one CPU, at most `runtime.workers`
at once (0: the cluster's CPUs). Each task opens the database itself and reads its range, so with `ray`
the SQLite file must be at the same path on every node (a shared file system; a relative path is
resolved in the stage's folder first). The results come back as Arrow tables + quarantine lines + a
ledger and are written in shard order by this process, so the files are the bytes of one pass whatever
the engine, workers and shard size; the metrics then carry each shard's ledger (`shards`: read,
exported, quarantined by reason, messages; `tail`: the orphan messages), and progress is logged in rows
and bytes. The adapter's plain sessions come as Arrow tables, checked against
the schema column by column (`table_conforms`); any other item goes through the row-by-row checks.
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
from typing import Any, Iterator

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logtune import records
from logtune.engine import RuntimeParams, map_tasks
from logtune.io import RowWriter, atomic_path
from logtune.params import ParamsError, from_dict, source_entries
from logtune.schema_check import compile_conforms
from logtune.sources import get_adapter, quarantine
from logtune.sources.items import ConversationBatch
from logtune.spill import Progress

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "conversation.v1.schema.json"


@dataclass(frozen=True)
class SourceParams:
    """One entry of `params.yaml: sources`."""
    name: str
    kind: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)  # adapter-specific (table/column mapping, ...)
    allow_empty: bool | None = None  # this source may export 0 rows after exporting some (null: export.allow_empty)


@dataclass(frozen=True)
class ExportParams:
    max_message_chars: int | None = 20000
    # A source that exported rows last time and now exports none is an error (a truncated dump, a wrong
    # path, a dropped table) unless allowed here or per source: an empty source would silently empty training.
    allow_empty: bool = False
    # A database source whose adapter can cut it by session-id range (sql, assistant_sqlite) is read in
    # shards of this many session rows, each by one of `runtime.workers` processes, each with its own
    # ledger in the metrics. ~10,000 sessions (40-80k messages in a support log): a worker holds its
    # shard's rows as tuples and as Arrow (~200 MB at peak at 80k messages); the outputs are the same
    # bytes whatever this is.
    shard_sessions: int = 10_000

    def __post_init__(self) -> None:
        if isinstance(self.shard_sessions, bool) or not isinstance(self.shard_sessions, int) or self.shard_sessions < 1:
            raise ParamsError(f"export.shard_sessions must be an integer >= 1, got {self.shard_sessions!r}")


RECORD_EXCERPT_CHARS = 2000     # a quarantined record larger than QUARANTINE_RECORD_MAX_CHARS keeps this much
QUARANTINE_RECORD_MAX_CHARS = 65536


class EmptySource(ValueError):
    """A source that had rows at its last export and has none now (see ExportParams.allow_empty)."""


@dataclass
class Ledger:
    """What one export read and did with it: the counts behind `metrics/export/<source>.json`."""
    read: int = 0
    messages: int = 0
    reasons: Counter = field(default_factory=Counter)
    dropped_fields: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)

    def take_notes(self, item: dict[str, Any]) -> None:
        """Count (and take off the item) what the adapter noted: fields it could not carry, warnings."""
        self.dropped_fields.update(item.pop("_dropped_fields", None) or {})
        self.warnings.update(item.pop("_warnings", None) or {})

    def add(self, other: "Ledger") -> None:
        self.read += other.read
        self.messages += other.messages
        for mine, theirs in ((self.reasons, other.reasons), (self.dropped_fields, other.dropped_fields),
                             (self.warnings, other.warnings)):
            mine.update(theirs)

    def summary(self) -> dict[str, Any]:
        """read, exported, quarantined (by reason) and messages: one shard's entry in the metrics."""
        quarantined = sum(self.reasons.values())
        return {"read": self.read, "exported": self.read - quarantined, "quarantined": quarantined,
                "quarantined_by_reason": dict(sorted(self.reasons.items())), "messages_exported": self.messages}


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


def conversation_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Conversation rows as an Arrow table of `records.CONVERSATION`, converted column by column."""
    schema = records.CONVERSATION
    return pa.Table.from_arrays([_column(rows, f.name, f.type) for f in schema], schema=schema)


class ConversationWriter(RowWriter):
    """RowWriter that converts a batch column by column, and flushes by messages as well as rows.

    `pa.array` per field is about twice as fast as `Table.from_pylist` on nested rows and gives the
    same table (so the same bytes). Flushing every `max_messages` messages bounds memory for sources
    with long conversations. (A candidate for `logtune.io.RowWriter` itself.) Rows come as dicts
    (`write`) or already converted (`write_table`, from export's worker processes), not both in one file:
    either way a row group ends after the same rows, so the file has the same bytes.
    """

    def __init__(self, path: Path, batch_size: int = 10_000, max_messages: int = 100_000):
        super().__init__(path, records.CONVERSATION, batch_size=batch_size)
        self.max_messages, self.messages = max_messages, 0
        self._parts: list[pa.Table] = []
        self._part_rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        self.messages += len(row["messages"])
        if self.messages >= self.max_messages or len(self._buf) >= self.batch_size:
            self.flush()

    def write_table(self, table: pa.Table) -> None:
        """Converted rows, buffered and flushed after the same rows as `write` row by row would."""
        if self._buf:
            raise RuntimeError("ConversationWriter: write_table after write: the row groups would differ")
        counts = pc.fill_null(pc.list_value_length(table.column("messages")), 0).to_numpy(zero_copy_only=False)
        start = 0
        while start < len(counts):
            running = np.cumsum(counts[start:]) + self.messages   # messages buffered after each row
            full = np.flatnonzero(running >= self.max_messages)
            take = min(self.batch_size - self._part_rows, int(full[0]) + 1 if len(full) else len(counts) - start)
            self._parts.append(table.slice(start, take))
            self._part_rows += take
            self.messages = int(running[take - 1])
            start += take
            if self.messages >= self.max_messages or self._part_rows >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        if self._parts:
            self._writer.write_table(pa.concat_tables(self._parts).combine_chunks())
            self.count += self._part_rows
            self._parts, self._part_rows, self.messages = [], 0, 0
        if self._buf:
            rows = self._buf
            self._writer.write_table(conversation_table(rows))
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
                  schema_path: str | Path = SCHEMA_PATH, previous: dict[str, Any] | None = None,
                  runtime: RuntimeParams | None = None) -> dict[str, Any]:
    """Write `<out_dir>/<name>.parquet` and `<name>.quarantine.jsonl`; return the export ledger.

    `previous` is the last export's metrics (if any): a source that exported rows then and none now
    raises EmptySource (outputs untouched) unless `allow_empty`; an empty source is always a warning.
    A source its adapter can cut by session-id range (`shard_ranges`) is read in shards of
    `params.shard_sessions` sessions by `runtime.workers` processes (default: in this process) or, with
    `runtime.engine: ray`, by Ray tasks (the database file on storage every node sees), merged in shard
    order: the same bytes as one pass; the metrics then hold each shard's ledger (`shards`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    get_adapter(source.kind)   # an unknown kind fails before any file is touched
    validator = _validator(str(schema_path))   # one per schema file per process: forked workers inherit it
    ledger = Ledger()
    # Written under temporary names and moved in place at the end: an unreadable source leaves no
    # half-written output behind for a later stage to pick up.
    parquet, qpath = out_dir / f"{source.name}.parquet", out_dir / f"{source.name}.quarantine.jsonl"
    shards: dict[str, dict[str, Any]] | None = None
    with atomic_path(parquet) as tmp_parquet, atomic_path(qpath) as tmp_q, _fewer_gc_passes():
        ranges = _shard_ranges(source, params)
        if ranges is None:
            exported = _write(source, params, validator, tmp_parquet, tmp_q, ledger)
        else:
            shards = {}
            exported = _write_shards(source, params, schema_path, ranges, runtime or RuntimeParams(workers=1),
                                     tmp_parquet, tmp_q, ledger, shards)
        _check_not_emptied(source, params, exported, previous)
    quarantined = sum(ledger.reasons.values())
    if ledger.read != exported + quarantined:  # the ledger must balance: nothing is dropped silently
        raise RuntimeError(f"export {source.name}: read {ledger.read} != exported {exported} + quarantined {quarantined}")
    if ledger.read == 0:
        ledger.warnings["empty_source"] += 1
    metrics = {"source": source.name, "read": ledger.read, "exported": exported, "quarantined": quarantined,
               "quarantined_by_reason": dict(sorted(ledger.reasons.items())), "messages_exported": ledger.messages}
    if ledger.dropped_fields:
        metrics["dropped_fields"] = dict(sorted(ledger.dropped_fields.items()))
    if ledger.warnings:
        metrics["warnings"] = dict(sorted(ledger.warnings.items()))
    if shards is not None:
        metrics["shards"] = shards
    return metrics


def _check_not_emptied(source: SourceParams, params: ExportParams, exported: int, previous: dict[str, Any] | None) -> None:
    allowed = params.allow_empty if source.allow_empty is None else source.allow_empty
    before = (previous or {}).get("exported") or 0
    if exported == 0 and before > 0 and not allowed:
        raise EmptySource(f"{source.path}: source '{source.name}' exported 0 conversations, but {before} at its last "
                          f"export; set sources.{source.name}.allow_empty (or export.allow_empty) if that is right")


def checked_items(source: SourceParams, params: ExportParams, ledger: Ledger,
                  validator: jsonschema.Draft202012Validator | None = None) -> Iterator[dict[str, Any]]:
    """The source's items after export's checks: each conversation that may be exported, or a quarantine entry.

    The one validation path: the export stage and `logtune export-jsonl` both go through it. Checks the
    schema and the message length, and quarantines a conversation whose source id came before
    (`duplicate_id`: two rows with one id would be one conversation twice downstream). Counts go to `ledger`.
    """
    validator = validator or conversation_validator()
    items, max_chars = _read(get_adapter(source.kind), source, params.max_message_chars)
    return _checked(items, source, ledger, validator, max_chars, set())


def _checked(items: Iterator[dict[str, Any]], source: SourceParams, ledger: Ledger,
             validator: jsonschema.Draft202012Validator, max_chars: int | None, seen: set[str]) -> Iterator[dict[str, Any]]:
    """`checked_items` over the adapter's `items`; `seen` holds the source ids exported so far."""
    # The per-conversation loop of a million-message export: the common case (a conversation the compiled
    # check proves conforming, with no length limit left to apply here) goes straight to the writer.
    conforms = _conforms(validator) if max_chars is None else None
    for item in items:
        ledger.read += 1
        if "_dropped_fields" in item or "_warnings" in item:
            ledger.take_notes(item)
        if not item.get("quarantine"):
            if conforms is None or not conforms(item):
                item = check_conversation(item, validator, max_chars, source)
            if not item.get("quarantine"):
                sid = item["source_id"]
                if sid not in seen:
                    seen.add(sid)
                    ledger.messages += len(item["messages"])
                    yield item
                    continue
                item = quarantine("duplicate_id", f"source id {sid!r} occurred before in this source",
                                  f"{source.kind} {source.path} id {sid}", item)
        ledger.reasons[item["reason"]] += 1
        yield item


def quarantine_line(source_name: str, item: dict[str, Any]) -> str:
    """One quarantine entry as a JSON line; a huge record (a 50 MB message) keeps a bounded excerpt."""
    record = item.get("record")
    text = record if isinstance(record, str) else json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > QUARANTINE_RECORD_MAX_CHARS:
        item = {**item, "record": {"excerpt": text[:RECORD_EXCERPT_CHARS], "chars": len(text)}}
    return json.dumps({"source": source_name, **item}, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _write(source: SourceParams, params: ExportParams, validator, parquet: Path, qpath: Path, ledger: Ledger) -> int:
    with ConversationWriter(parquet) as writer, open(qpath, "w", encoding="utf-8") as qfile:
        for item in checked_items(source, params, ledger, validator):
            if not item.get("quarantine"):
                writer.write(item)
            else:
                qfile.write(quarantine_line(source.name, item))
        writer.flush()
        return writer.count


# Keywords `table_conforms` checks over Arrow columns; a schema using any other cannot be proven this way.
_COLUMN_KEYWORDS = {"type", "enum", "pattern", "minLength", "minimum", "maximum", "items", "properties", "required",
                    "additionalProperties", "$ref", "description", "title", "$schema", "$id", "$defs"}
_ARROW_TYPES = {"string": pa.types.is_string, "number": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
                "integer": pa.types.is_integer, "boolean": pa.types.is_boolean, "array": pa.types.is_list,
                "object": pa.types.is_struct}


def table_conforms(table: pa.Table, schema: dict[str, Any]) -> bool:
    """Whether every row of a Conversation table conforms to the JSON schema, checked column by column
    (types, nulls, enums, patterns, lengths, bounds, nested messages) instead of row by row.

    False also where it cannot tell (a keyword it does not know, a pattern RE2 does not take): the
    caller then checks the rows one by one, which gives the verdict and the message. A null is a
    present null (the adapters' dicts carry every field), and a column the schema does not name must be
    all null (a key the dicts leave out).
    """
    columns = [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in table.columns]
    struct = pa.StructArray.from_arrays(columns, fields=list(table.schema))
    try:
        return _column_conforms(struct, schema, schema)
    except (pa.ArrowException, KeyError, TypeError, ValueError):
        return False


def _column_conforms(array: pa.Array, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    while "$ref" in schema:   # only local refs: "#/$defs/name"
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    if set(schema) - _COLUMN_KEYWORDS:
        return False
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    enum = schema.get("enum")
    nullable = (types is None or "null" in types) and (enum is None or None in enum)
    if array.null_count and not nullable:
        return False
    values = array.drop_null() if array.null_count else array
    if len(values) == 0:
        return True
    if types is not None and not any(_ARROW_TYPES[t](values.type) for t in types if t != "null"):
        return False
    if enum is not None and not pc.all(pc.is_in(values, value_set=pa.array([v for v in enum if v is not None]).cast(
            values.type))).as_py():
        return False
    if "pattern" in schema and not pc.all(pc.match_substring_regex(values, schema["pattern"])).as_py():
        return False
    if "minLength" in schema and pc.min(pc.utf8_length(values)).as_py() < schema["minLength"]:
        return False
    if "minimum" in schema and pc.min(values).as_py() < schema["minimum"]:
        return False
    if "maximum" in schema and pc.max(values).as_py() > schema["maximum"]:
        return False
    if "items" in schema and pa.types.is_list(values.type):
        if not _column_conforms(values.flatten(), schema["items"], root):
            return False
    if pa.types.is_struct(values.type):
        properties = schema.get("properties", {})
        fields = [values.type.field(i).name for i in range(values.type.num_fields)]
        if not set(schema.get("required", ())) <= set(fields):
            return False
        for name, child in zip(fields, values.flatten()):
            if name in properties:
                if not _column_conforms(child, properties[name], root):
                    return False
            elif schema.get("additionalProperties", True) is not True and child.null_count < len(child):
                return False
    return True


# ---------------------------------------------------------------------------------- sharded export

SHARD_TABLE_ROWS = 10_000   # a worker converts its conversations to Arrow this many at a time (memory)
TAIL = "tail"               # the task that reads the orphan messages after the sessions (`read_tail`)
_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def _validator(schema_path: str) -> jsonschema.Draft202012Validator:
    """One validator per schema file per process (a worker checks many shards)."""
    if schema_path not in _VALIDATORS:
        _VALIDATORS[schema_path] = conversation_validator(schema_path)
    return _VALIDATORS[schema_path]


def _shard_ranges(source: SourceParams, params: ExportParams) -> list[tuple[Any, Any]] | None:
    """The adapter's session-id ranges for this source, or None when it is read in one pass."""
    ranges = getattr(get_adapter(source.kind), "shard_ranges", None)
    return None if ranges is None else ranges(source.path, dict(source.options or {}), params.shard_sessions)


def _export_shard(shard: tuple[Any, Any, Any], state: dict[str, Any]) -> dict[str, Any]:
    """One shard's checked items (in a worker process or a Ray task): Arrow tables of its conversations,
    its quarantine lines and its ledger. `shard` is (index, after, up_to), or ("tail", None, None) for the
    orphan messages after the sessions. Session ids are integers (`shard_ranges`), so no id is in two shards
    and each shard's `duplicate_id` check is the whole source's. The adapter gives its plain sessions as
    Arrow tables (ConversationBatch); one the column checks cannot prove conforming sends the shard through
    again as dicts, each checked by the compiled check and jsonschema. The database is read at
    `state["db_path"]` (absolute: a Ray task's working folder is not the stage's), and named as the source
    gives it (`source.path`) in quarantine locations."""
    index, after, up_to = shard
    source, params = state["source"], state["params"]
    adapter = get_adapter(source.kind)
    path, options = state.get("db_path", source.path), dict(source.options or {})
    validator = _validator(state["schema_path"])
    if index == TAIL:
        return _converted(adapter.read_tail(path, options, source.name, max_message_chars=params.max_message_chars),
                          source, validator)
    for columnar in (True, False):
        items = adapter.read_shard(path, options, source.name, after, up_to,
                                   max_message_chars=params.max_message_chars, columnar=columnar)
        result = _converted(items, source, validator)
        if result is not None:
            return result
    raise AssertionError("unreachable: the row-by-row read yields no batch")


def _converted(items: Iterator[dict[str, Any] | ConversationBatch], source: SourceParams,
               validator: jsonschema.Draft202012Validator) -> dict[str, Any] | None:
    """The checked items as Arrow tables + quarantine lines + ledger; None at a batch that does not conform."""
    ledger = Ledger()
    rows: list[dict[str, Any]] = []
    tables: list[pa.Table] = []
    lines: list[str] = []
    seen: set[str] = set()
    for given in items:
        if type(given) is ConversationBatch:
            if not table_conforms(given.table, validator.schema):
                return None
            if rows:
                tables.append(conversation_table(rows))
                rows = []
            tables.append(given.table)
            ledger.read += given.table.num_rows
            ledger.messages += pc.sum(pc.list_value_length(given.table.column("messages"))).as_py() or 0
            ledger.warnings.update(given.warnings)
            continue
        for item in _checked((given,), source, ledger, validator, None, seen):
            if item.get("quarantine"):
                lines.append(quarantine_line(source.name, item))
                continue
            rows.append(item)
            if len(rows) >= SHARD_TABLE_ROWS:
                tables.append(conversation_table(rows))
                rows = []
    if rows:
        tables.append(conversation_table(rows))
    return {"tables": tables, "quarantine": lines, "ledger": ledger}


def _write_shards(source: SourceParams, params: ExportParams, schema_path: str | Path, ranges: list[tuple[Any, Any]],
                  runtime: RuntimeParams, parquet: Path, qpath: Path, ledger: Ledger,
                  shards: dict[str, dict[str, Any]]) -> int:
    """Export shard by shard, then the adapter's tail (orphan messages, read beside the shards), written
    here in that order: the items, order and bytes of one pass. The shards run as `runtime.workers` local
    processes, or as Ray tasks with `runtime.engine: ray` (`logtune.engine.map_tasks`). Each shard's
    ledger goes to `shards`."""
    state = {"source": source, "params": params, "schema_path": str(schema_path),
             "db_path": str(Path(source.path).resolve())}
    progress = Progress(f"export {source.name}")
    tasks = [(i, after, up_to) for i, (after, up_to) in enumerate(ranges)] + [(TAIL, None, None)]
    with ConversationWriter(parquet) as writer, open(qpath, "w", encoding="utf-8") as qfile:
        for (i, after, up_to), result in zip(tasks, map_tasks(_export_shard, tasks, state, runtime)):
            _take(result, writer, qfile, ledger, progress)
            label = {"what": "orphan messages"} if i == TAIL else {"session_ids": [after, up_to]}
            shards["tail" if i == TAIL else f"{i:05d}"] = {**label, **result["ledger"].summary()}
        writer.flush()
        progress.done()
        return writer.count


def _take(result: dict[str, Any], writer: ConversationWriter, qfile: Any, ledger: Ledger, progress: Progress) -> None:
    for table in result["tables"]:
        writer.write_table(table)
    qfile.writelines(result["quarantine"])
    ledger.add(result["ledger"])
    progress.update(result["ledger"].read, sum(t.nbytes for t in result["tables"]))
