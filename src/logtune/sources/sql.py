"""Source kind `sql`: conversations from any database an assistant logs to, by a mapping or a named preset.

The user says where sessions, messages and ratings live, as a table plus a column mapping or as their
own `SELECT` (whose result columns carry the logical names). SQLite files are read with the standard
library; any other database by SQLAlchemy URL (`url: postgresql://...`, with its driver installed).

    sources:
      webui:
        kind: sql
        path: /data/webui.db          # a SQLite file (or give `url` in options)
        options: {preset: open_webui}
      desk:
        kind: sql
        path: /data/desk.db
        options:
          sessions: {table: chats, columns: {id: chat_id, created_at: started, context: ctx}}
          messages: {query: "SELECT turn_id AS id, chat AS session_id, speaker AS role, body AS content,
                              ts AS created_at, parent AS parent_id FROM turns WHERE NOT deleted"}
          ratings:  {table: votes, columns: {message_id: turn, rating: thumbs, note: comment}}
          timestamps: epoch_ms

Logical columns (a mapped column may be `column.json.path`: the column holds JSON, the value is read
at that path; null = this source has no such column):
- sessions: id (required), created_at, status, error, system_prompt, model_version, context, task_type,
  and for messages stored inside the session row as JSON (Open WebUI): messages_json (an object of
  messages keyed by id, or a list) and current_id (the active leaf).
- messages (a table/query, or `messages_json` with `message_fields` naming the keys inside each
  message): id, session_id, role, content (required), created_at, parent_id, current (a flag on the
  active leaf), rating, feedback_note, feedback_meta (a JSON object; its `rewrite` becomes the rewrite),
  rewrite, model.
- ratings (optional, one row per rated message): message_id and rating (required), note, created_at,
  id, meta (a JSON object kept in the message's feedback_meta `feedback`).

Order of turns: by parent id when the messages carry one: the active branch is walked from its leaf
(the message flagged current, or the session's current_id, else the latest leaf) up to the root, and
each turn's siblings (a regenerated reply, an edited question) are kept in its feedback_meta
`alternatives` (id, role, content, rating, note), as the chatgpt_export adapter does; messages deeper
in other branches are counted as the warning `off_branch_messages` (and `off_branch_ratings` for the
rated ones). Keys of an embedded message that are neither mapped nor the tree's or UI's state (Open
WebUI's `sources` citations, `files`, ...) are counted in `dropped_fields` as `messages_json[].<key>`. Without parent ids, by time with a
stable tie-break (same instant: system, user, assistant, tool, then the database's id order), counting
`ambiguous_order` once per session where two turns share an instant. Timestamps may be ISO text or epoch
seconds or milliseconds (`timestamps: auto|iso|epoch_s|epoch_ms`; auto tells them apart by size);
epoch values become ISO-8601 UTC.

Ratings from their own table are joined per message (several on one message: the latest is the
rating, all are kept in feedback_meta `ratings`); a rating whose message is on no exported turn or
alternative is quarantined (`orphan_feedback`), one with a value that is not a thumbs up/down too
(`unknown_rating`). Ratings in a message column are 1 / -1 (or any thumbs spelling) or NULL.

Quarantined, whole session (a bad turn quarantines its session: dropping one turn from the middle would
change what the conversation says), located by table and row id: message_too_long, invalid_role,
invalid_feedback, invalid_feedback_meta, invalid_utf8 (text that is not UTF-8, TEXT or BLOB: never
decoded to U+FFFD), wrong_type (a timestamp that is none), broken_json (a JSON column that does not
parse), broken_tree (a parent cycle, a current id not among the messages), duplicate_id (one session id
on several session rows: their messages cannot be told apart, so none is merged); per message:
orphan_message (its session does not exist). A file that is not a database, a missing table or column,
or a database that breaks while being read (a corrupt page) is a SourceError naming the path.

Large logs (issue 19): a SQLite source whose session ids are integers and that has no ratings table is
read by export in shards of session-id ranges (`shard_ranges`, `read_shard`, then `read_tail` for the
orphan messages), each by a worker process: the same items in the same order as `read`. In a shard, the
sessions of the plain shape (no JSON paths or parent ids, ISO times with a zone, text values) are built
column by column as Arrow tables (`ConversationBatch`: type and value checks over whole columns, turns
ordered by one sort); any session the fast path does not take goes through the row path in its place.

Options: `preset` (open_webui | assistant_sqlite; its mapping, which the other options override key by
key), `url`, `sessions`, `messages`, `message_fields`, `ratings`, `timestamps` (default auto),
`task_type` (default "chat"), `provenance` (default "real").
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from collections import Counter
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logtune import records
from logtune.ids import conversation_id, prompt_version
from logtune.sources import SourceError, Unfit, quarantine
from logtune.sources.items import ConversationBatch, json_text, unmapped as _unmapped
from logtune.sources.ratings import parse_rating
from logtune.sources.timestamps import parse_time, TIME_UNITS

KIND = "sql"
SESSION_FIELDS = ("id", "created_at", "status", "error", "system_prompt", "model_version", "context", "task_type",
                  "messages_json", "current_id")
MESSAGE_FIELDS = ("id", "session_id", "role", "content", "created_at", "parent_id", "current", "rating",
                  "feedback_note", "feedback_meta", "rewrite", "model")
RATING_FIELDS = ("id", "message_id", "rating", "note", "created_at", "meta")
REQUIRED = {"sessions": ("id",), "messages": ("id", "session_id", "role", "content"), "ratings": ("message_id", "rating")}
OPTIONS = {"preset", "url", "sessions", "messages", "message_fields", "ratings", "timestamps", "task_type", "provenance"}
ROLES = {"user", "assistant", "system", "tool"}
# keys of an embedded (Open WebUI) message that hold the tree or the UI's state, not dialogue or feedback
EMBEDDED_STATE = {"id", "childrenIds", "done", "models", "modelName", "modelIdx", "userContext", "lastSentence"}
ROLE_RANK = {"system": 0, "user": 1, "assistant": 2, "tool": 3}   # the tie-break at one instant
_BATCH_ROWS = 10_000

PRESETS: dict[str, dict[str, Any]] = {
    # seed 000's support-assistant log (what `stages/sample.py` writes); kind `assistant_sqlite` is this preset.
    "assistant_sqlite": {
        "task_type": "support",
        "sessions": {"table": "support_session", "columns": {
            "id": "id", "created_at": "created_at", "status": "status", "error": "error",
            "system_prompt": "system_prompt", "model_version": "model_version", "context": "state_json"}},
        "messages": {"table": "support_message", "columns": {
            "id": "id", "session_id": "session_id", "role": "role", "content": "content", "created_at": "created_at",
            "rating": "feedback", "feedback_note": "feedback_note", "feedback_meta": "feedback_meta_json"}},
    },
    # Open WebUI (webui.db, or its PostgreSQL database): table `chat` (id, user_id, title, chat JSON,
    # created_at/updated_at epoch seconds, ...), the chat JSON holding history.messages keyed by id
    # ({id, parentId, childrenIds, role, content, timestamp, model, annotation}) and history.currentId;
    # table `feedback` (id, user_id, version, type, data JSON {rating 1/-1, model_id, reason, comment,
    # tags, details}, meta JSON {chat_id, message_id, ...}, snapshot, created_at, updated_at).
    "open_webui": {
        "task_type": "chat",
        "sessions": {"table": "chat", "columns": {
            "id": "id", "created_at": "created_at", "system_prompt": "chat.params.system",
            "model_version": "chat.models.0", "messages_json": "chat.history.messages",
            "current_id": "chat.history.currentId"}},
        "message_fields": {
            "id": "id", "parent_id": "parentId", "role": "role", "content": "content", "created_at": "timestamp",
            "model": "model", "rating": "annotation.rating", "feedback_note": "annotation.comment",
            "feedback_meta": "annotation"},   # the whole annotation (reason, tags, details) is kept
        "ratings": {"table": "feedback", "columns": {
            "id": "id", "message_id": "meta.message_id", "rating": "data.rating", "note": "data.comment",
            "created_at": "created_at", "meta": "data"}},
    },
}


class BadText(bytes):
    """A TEXT value that is not UTF-8, as SQLite's text_factory hands it over: flagged, never decoded to U+FFFD."""


def _text_factory(raw: bytes) -> str | BadText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadText(raw)


# --------------------------------------------------------------------------------------------- mapping

@dataclass(frozen=True)
class Relation:
    """Where one kind of row lives: FROM text, logical name -> (column, JSON path), and how to name a row."""
    source: str                                   # a quoted table name or "(SELECT ...)", aliased where used
    label: str                                    # "table support_message" / "query messages"
    columns: dict[str, tuple[str, tuple[str, ...]] | None]


def _spec(options: Mapping[str, Any]) -> dict[str, Any]:
    options = dict(options or {})
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise SourceError(f"{KIND}: unknown option '{unknown[0]}' (allowed: {', '.join(sorted(OPTIONS))})")
    preset = options.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise SourceError(f"{KIND}: unknown preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
    spec = json.loads(json.dumps(PRESETS.get(preset, {})))
    for key, value in options.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict) and "columns" in value and "columns" in spec[key]:
            merged = dict(spec[key])
            merged.update({k: v for k, v in value.items() if k != "columns"})
            merged["columns"] = {**spec[key]["columns"], **value["columns"]}
            if "query" in value:
                merged.pop("table", None)
            spec[key] = merged
        else:
            spec[key] = value
    if spec.get("timestamps", "auto") not in TIME_UNITS:
        raise SourceError(f"{KIND}: option 'timestamps' must be one of {', '.join(TIME_UNITS)}")
    if "sessions" not in spec:
        raise SourceError(f"{KIND}: option 'sessions' (a table or query) is required, or a preset")
    if "messages" not in spec and "messages_json" not in (spec["sessions"].get("columns") or {}):
        raise SourceError(f"{KIND}: option 'messages' is required unless sessions map 'messages_json'")
    return spec


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split(spec: str | None) -> tuple[str, tuple[str, ...]] | None:
    if spec is None:
        return None
    if not isinstance(spec, str) or not spec:
        raise SourceError(f"{KIND}: a column mapping must be a column name or null, got {spec!r}")
    column, *path = spec.split(".")
    return column, tuple(path)


def _relation(db: "Database", kind: str, given: Any, fields: tuple[str, ...]) -> Relation:
    if not isinstance(given, dict) or ("table" in given) == ("query" in given):
        raise SourceError(f"{KIND}: option '{kind}' must give a 'table' or a 'query' (and optional 'columns')")
    unknown = sorted(set(given) - {"table", "query", "columns"})
    if unknown:
        raise SourceError(f"{KIND}: option '{kind}': unknown key '{unknown[0]}'")
    if "table" in given:
        source, label, named = _q(given["table"]), f"table {given['table']}", f"table '{given['table']}'"
    else:
        source, label, named = f"({given['query']})", f"query {kind}", f"the {kind} query"
    have = db.columns(source, named)
    columns = given.get("columns")
    if columns is None:      # a query names its result columns by the logical names
        columns = {f: f for f in fields if f in have}
    unknown = sorted(set(columns) - set(fields))
    if unknown:
        raise SourceError(f"{KIND}: option '{kind}.columns': unknown key '{unknown[0]}' (allowed: {', '.join(fields)})")
    mapped = {f: _split(columns.get(f)) for f in fields}
    for f in REQUIRED.get(kind, ()):
        if mapped[f] is None:
            raise SourceError(f"{KIND}: option '{kind}.columns.{f}' is required")
    for f, col in mapped.items():
        if col is not None and col[0] not in have:
            raise SourceError(f"{db.path}: {named} has no column '{col[0]}' (mapped from '{f}'; map it to null if "
                              f"this source has none)")
    return Relation(source, label, mapped)


def _select(alias: str, rel: Relation) -> tuple[str, list[str]]:
    """SELECT list of the relation's distinct base columns, and their names in order."""
    names = sorted({c[0] for c in rel.columns.values() if c is not None})
    return ", ".join(f"{alias}.{_q(n)}" for n in names), names


# -------------------------------------------------------------------------------------------- database

class Database:
    """A read-only connection: SQLite through `sqlite3`, anything else through SQLAlchemy."""

    def __init__(self, path: str | Path, url: str | None):
        self.path = str(url or path)
        self.open: list[Any] = []
        self.checking_text = False
        self.sqlite = None
        self.engine = None
        if url is None or url.startswith("sqlite:///"):
            file = Path(path if url is None else url[len("sqlite:///"):])
            if not file.is_file():
                raise SourceError(f"{file}: source database not found")
            self.sqlite_uri = file.resolve().as_uri() + "?mode=ro"
            self.sqlite = self._sqlite()
            try:
                self.sqlite.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.DatabaseError as e:
                self.sqlite.close()
                raise SourceError(f"{file}: not an SQLite database ({e})") from None
            if url is None:
                return
            self.sqlite.close()
            self.sqlite = None
        try:
            import sqlalchemy
        except ImportError:  # pragma: no cover - sqlalchemy is a dependency; a trimmed install may lack it
            raise SourceError(f"{self.path}: reading a database by URL needs SQLAlchemy (pip install sqlalchemy)") from None
        try:
            self.engine = sqlalchemy.create_engine(url)
            with self.engine.connect() as con:
                con.exec_driver_sql("SELECT 1")
        except Exception as e:  # a missing driver, a refused connection: the user's setup, named in one line
            raise SourceError(f"{_redacted(url)}: cannot open the database ({type(e).__name__}: {e})") from None
        self.path = _redacted(url)

    def _sqlite(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.sqlite_uri, uri=True)
        if self.checking_text:
            con.text_factory = _text_factory
        self.open.append(con)
        return con

    def check_text(self) -> None:
        """From now on read TEXT through `_text_factory` (invalid UTF-8 flagged per value, never a crash)."""
        for con in self.open:
            con.close()
        self.open = []
        self.checking_text = True

    def columns(self, source: str, named: str) -> set[str]:
        try:
            return {d[0] for d in self._cursor(f"SELECT * FROM {source} AS _c WHERE 1 = 0")[1]}
        except SourceError:
            raise
        except Exception as e:
            what = f"{named} not found" if named.startswith("table ") else f"{named} fails"
            raise SourceError(f"{self.path}: {what} ({e})") from None

    def rows(self, sql: str, tuples: bool = False) -> Iterator[dict[str, Any]] | Iterator[tuple]:
        """Rows as {column: value} (or as tuples), streamed in batches; a database error names the path."""
        for names, batch in self._batches(sql):
            if tuples:
                yield from batch
                continue
            for values in batch:
                yield dict(zip(names, values))

    def all_rows(self, sql: str) -> list[tuple]:
        """Every row as a tuple, in one list (a bounded read such as one shard), with `rows`' errors."""
        out: list[tuple] = []
        for _, batch in self._batches(sql):
            out += batch
        return out

    def _batches(self, sql: str) -> Iterator[tuple[list[str], list[tuple]]]:
        rows, description = self._cursor(sql)
        names = [d[0] for d in description]
        try:
            while batch := rows(_BATCH_ROWS):
                yield names, batch
        except Exception as e:
            if isinstance(e, sqlite3.OperationalError) and "decode" in str(e) and not self.checking_text:
                raise _Undecodable() from None
            if isinstance(e, (sqlite3.DatabaseError,)) or type(e).__module__.startswith("sqlalchemy"):
                raise SourceError(f"{self.path}: the database broke while being read ({e})") from None
            raise

    def _cursor(self, sql: str) -> tuple[Callable[[int], list], Any]:
        if self.sqlite is not None:
            try:
                cursor = self._sqlite().execute(sql)
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and "no such" in str(e):
                    raise
                if isinstance(e, sqlite3.OperationalError) and "decode" in str(e) and not self.checking_text:
                    raise _Undecodable() from None
                raise SourceError(f"{self.path}: the database broke while being read ({e})") from None
            return cursor.fetchmany, cursor.description
        con = self.engine.connect().execution_options(stream_results=True)
        self.open.append(con)
        result = con.exec_driver_sql(sql)
        return (lambda n: [tuple(r) for r in result.fetchmany(n)]), [(k,) for k in result.keys()]

    def close(self) -> None:
        for con in self.open:
            con.close()
        if self.engine is not None:
            self.engine.dispose()


def _redacted(url: str) -> str:
    """The URL without its password (it would otherwise reach logs and quarantine files)."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


# ------------------------------------------------------------------------------------------------ read

def read(path: str | Path, options: Mapping[str, Any] | None = None, source_name: str = KIND, *,
         max_message_chars: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine per session row (id order), then orphan messages and ratings."""
    spec = _spec(options or {})
    yield from _read_db(Database(path, spec.get("url")),
                        lambda db: Reader(db, spec, source_name, max_message_chars).items())


def _read_db(db: "Database", items: Callable[["Database"], Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """`items(db)`, read again checking each text value when SQLite meets text that is not UTF-8; closes db."""
    done = 0
    try:
        try:   # SQLite's own (C) text decoding first: fast, but it stops at the first text that is not UTF-8
            for item in items(db):
                yield item
                done += 1
        except _Undecodable:
            # Again from the start with text read as bytes and checked per value, so that text is
            # quarantined with its row; the items already given are not given twice (same order).
            db.check_text()
            for i, item in enumerate(items(db)):
                if i >= done:
                    yield item
    finally:
        db.close()


# ------------------------------------------------------------------------------- read by session-id ranges

def shard_ranges(path: str | Path, options: Mapping[str, Any] | None, shard_sessions: int) -> list[tuple] | None:
    """Session-id ranges `(after, up_to)` of about `shard_sessions` session rows each, in id order, or None.

    The items of `read` are the items of `read_shard` over these ranges one after another, then those
    of `read_tail` (the export stage reads the ranges in worker processes). None when this source cannot
    be cut so: a database by URL, a ratings table (its ratings join sessions anywhere in the log), or
    session ids that are not all integers (SQLite orders mixed types and compares them with affinity,
    so a range of values need not be a run of the ordered rows).
    """
    spec = _spec(options or {})
    if spec.get("url") is not None or spec.get("ratings"):
        return None
    db = Database(path, None)
    try:
        sessions = _relation(db, "sessions", spec["sessions"], SESSION_FIELDS)
        column, json_path = sessions.columns["id"]
        if json_path:
            return None
        s_id = f"s.{_q(column)}"
        if next(db.rows(f"SELECT 1 FROM {sessions.source} s WHERE typeof({s_id}) != 'integer' LIMIT 1", tuples=True),
                None) is not None:
            return None
        # every shard_sessions-th id in id order, counted by SQLite (a window function, no Python per row)
        bounds = [r[0] for r in db.rows(
            f"SELECT _id FROM (SELECT {s_id} AS _id, row_number() OVER (ORDER BY {s_id}) AS _n FROM {sessions.source} s) "
            f"WHERE _n % {int(shard_sessions)} = 0", tuples=True)]
        last = next(db.rows(f"SELECT max({s_id}) FROM {sessions.source} s", tuples=True))[0]
    finally:
        db.close()
    bounds = sorted(set(bounds) - {last})   # several rows of one id stay in one range (they are quarantined together)
    return list(zip([None, *bounds], [*bounds, None]))


def read_shard(path: str | Path, options: Mapping[str, Any] | None, source_name: str, after: int | None,
               up_to: int | None, *, max_message_chars: int | None = None,
               columnar: bool = False) -> Iterator[dict[str, Any] | ConversationBatch]:
    """The conversations and quarantines of the session rows with after < id <= up_to (None: unbounded).

    columnar: the plain sessions of a plain source (seed 000's shape: no JSON paths, no parent ids, ISO
    times) come as ConversationBatch tables built column by column, between the items of the others (in
    session order): the same conversations as the dicts, without a dict per message."""
    spec = _spec(options or {})
    yield from _read_db(Database(path, None), lambda db: Reader(
        db, spec, source_name, max_message_chars, (after, up_to)).shard_items(columnar))


def read_tail(path: str | Path, options: Mapping[str, Any] | None, source_name: str, *,
              max_message_chars: int | None = None) -> Iterator[dict[str, Any]]:
    """What `read` yields after the sessions, for a source `shard_ranges` cuts: its orphan messages."""
    spec = _spec(options or {})
    yield from _read_db(Database(path, None), lambda db: Reader(db, spec, source_name, max_message_chars).tail())


class Reader:
    def __init__(self, db: Database, spec: dict[str, Any], source: str, max_chars: int | None,
                 id_range: tuple[int | None, int | None] = (None, None)):
        self.db, self.source, self.max_chars = db, source, max_chars
        self.id_range = id_range   # read only the session rows with after < id <= up_to (integers; None: unbounded)
        self.unit = spec.get("timestamps", "auto")
        self.task_type = spec.get("task_type", "chat")
        self.provenance = spec.get("provenance", "real")
        self.sessions = _relation(db, "sessions", spec["sessions"], SESSION_FIELDS)
        self.embedded = self.sessions.columns["messages_json"] is not None
        self.messages = None if self.embedded else _relation(db, "messages", spec["messages"], MESSAGE_FIELDS)
        self._plan = [] if self.messages is None else [
            (f, col[0], col[1]) for f, col in self.messages.columns.items() if col is not None and f != "session_id"]
        # the joined message stream's columns: "_sid", the message table's mapped columns, "_null"
        self._m_names = [] if self.messages is None else ["_sid", *_select("m", self.messages)[1], "_null"]
        self._m_id_at = None if self.messages is None else self._m_names.index(self.messages.columns["id"][0])
        # seed 000's shape (no JSON paths, no current flag, rewrite or model column): read in one step
        flat = ("id", "role", "content", "created_at", "rating", "feedback_note", "feedback_meta", "parent_id")
        cols = None if self.messages is None else self.messages.columns
        self._flat_at = None if cols is None or any(cols[f] and cols[f][1] for f in cols) or any(
            cols[f] for f in ("current", "rewrite", "model")) else tuple(
            self._m_names.index(cols[f][0] if cols[f] else "_null") for f in flat)
        self._flat = None if self._flat_at is None else itemgetter(*self._flat_at)
        fields = spec.get("message_fields") or {f: f for f in MESSAGE_FIELDS}
        unknown = sorted(set(fields) - set(MESSAGE_FIELDS))
        if unknown:
            raise SourceError(f"{KIND}: option 'message_fields': unknown key '{unknown[0]}'")
        self.message_fields = {f: tuple(v.split(".")) for f, v in fields.items() if v}
        # keys of an embedded message that are mapped, or only the tree's and the UI's state
        self._message_keys = {p[0] for p in self.message_fields.values()} | EMBEDDED_STATE
        self.ratings = _relation(db, "ratings", spec["ratings"], RATING_FIELDS) if spec.get("ratings") else None
        self.feedback: dict[str, list[dict[str, Any]]] = {}
        self.used_feedback: set[int] = set()

    # -- the stream ----------------------------------------------------------------------------------

    def items(self) -> Iterator[dict[str, Any]]:
        bad_ratings = self._load_ratings() if self.ratings else []
        yield from self._sessions()
        yield from self.tail()
        yield from bad_ratings
        for rows in self.feedback.values():
            for r in rows:
                if id(r) not in self.used_feedback:
                    yield quarantine("orphan_feedback", f"rating of message {r['message_id']!r}: the message is on no "
                                     "exported turn or alternative", r["_where"], _plain(r))

    def shard_items(self, columnar: bool) -> Iterator[dict[str, Any] | ConversationBatch]:
        """`_sessions`' items, or with `columnar` (when this source's shape allows it) `_Columns`' batches."""
        if not (columnar and self._flat_at is not None and self.ratings is None and not self.embedded
                and self.unit in ("auto", "iso") and not any(c and c[1] for c in self.sessions.columns.values())):
            yield from self._sessions()
            return
        sessions_sql, joined_sql = self._queries()
        # the whole shard is fetched before the first item: text that is not UTF-8 (_Undecodable) stops
        # the read before anything was given, so the checked re-read gives everything
        srows = self.db.all_rows(sessions_sql)
        # Messages in session order only: SQLite then walks a (session id, ...) index instead of sorting
        # the shard's rows by message id. When the message ids are distinct integers, ordering by their
        # value is the database's id order; otherwise the rows are read again in that order.
        mrows = self.db.all_rows(self._queries(by_message_id=False)[1])
        ids = [row[self._m_id_at] for row in mrows]
        by_value = set(map(type, ids)) <= {int} and len(set(ids)) == len(ids)
        if not by_value:
            mrows = self.db.all_rows(joined_sql)
        yield from _Columns(self, _select("s", self.sessions)[1], srows, mrows, by_value).items()

    def tail(self) -> Iterator[dict[str, Any]]:
        """Orphan messages, after the sessions (see `read_tail`)."""
        if self.messages is not None:
            yield from self._orphans()

    def _queries(self, by_message_id: bool = True) -> tuple[str, str | None]:
        """SELECTs of the session rows (in id order) and of their messages (session id, then message id;
        by_message_id=False: in session id order only)."""
        s_sel, _ = _select("s", self.sessions)
        s_id = f"s.{_q(self.sessions.columns['id'][0])}"
        after, up_to = self.id_range
        bounds = ([f"{s_id} > {int(after)}"] if after is not None else []) + \
            ([f"{s_id} <= {int(up_to)}"] if up_to is not None else [])
        where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
        sessions = f"SELECT {s_sel} FROM {self.sessions.source} s{where} ORDER BY {s_id}"
        if self.messages is None:
            return sessions, None
        m_sel, _ = _select("m", self.messages)
        m_sid = f"m.{_q(self.messages.columns['session_id'][0])}"
        m_id = f"m.{_q(self.messages.columns['id'][0])}"
        return sessions, (f"SELECT {s_id} AS _sid, {m_sel}, NULL AS _null FROM {self.sessions.source} s "
                          f"JOIN {self.messages.source} m ON {m_sid} = {s_id}{where} ORDER BY {s_id}"
                          + (f", {m_id}" if by_message_id else ""))

    def _sessions(self) -> Iterator[dict[str, Any]]:
        sessions_sql, joined_sql = self._queries()
        sessions = self.db.rows(sessions_sql)
        # tuples, not dicts, on this stream of every message: positions are looked up once (_m_names)
        joined = iter(()) if joined_sql is None else self.db.rows(joined_sql, tuples=True)
        # Both streams are in session-id order by the database's own ordering, so they are read in
        # lockstep; the rows of one id (several when the id is duplicated) are grouped.
        pending = next(joined, None)
        group: list[dict[str, Any]] = []
        current = None
        for row in sessions:
            sid = row[self.sessions.columns["id"][0]]
            if group and sid != current:
                rows, pending = self._take(joined, current, pending)
                yield from self._group(group, rows)
                group = []
            current = sid
            group.append(row)
        if group:
            rows, pending = self._take(joined, current, pending)
            yield from self._group(group, rows)

    @staticmethod
    def _take(joined: Iterator[dict[str, Any]], sid: Any, pending: dict[str, Any] | None):
        rows = []
        while pending is not None and pending[0] == sid:
            rows.append(pending)
            pending = next(joined, None)
        return rows, pending

    def _group(self, group: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        where = f"{self.sessions.label} row id {_plain_value(group[0][self.sessions.columns['id'][0]])}"
        if len(group) > 1:   # one id on several session rows: whose messages are whose cannot be told
            for copy in group:
                yield quarantine("duplicate_id", f"session id {_plain_value(copy[self.sessions.columns['id'][0]])!r} "
                                 f"is on {len(group)} session rows; none is merged", where,
                                 {"session": _plain(copy), "messages": len(rows) // len(group)})
            return
        try:
            yield self._conversation(group[0], rows, where)
        except _Quarantine as q:
            yield quarantine(q.reason, q.detail, q.where or where,
                             {"session": self._named(group[0], self.sessions),
                              "messages": [self._named(self._row_dict(r), self.messages) for r in rows]
                              if self.messages else []})

    def _orphans(self) -> Iterator[dict[str, Any]]:
        m_sel, _ = _select("m", self.messages)
        s_id = f"s.{_q(self.sessions.columns['id'][0])}"
        m_sid = f"m.{_q(self.messages.columns['session_id'][0])}"
        m_id = f"m.{_q(self.messages.columns['id'][0])}"
        for row in self.db.rows(f"SELECT {m_sel} FROM {self.messages.source} m LEFT JOIN {self.sessions.source} s "
                                f"ON {s_id} = {m_sid} WHERE {s_id} IS NULL ORDER BY {m_id}"):
            msg = self._named(row, self.messages)
            yield quarantine("orphan_message", f"message {msg['id']} refers to session {msg['session_id']!r}, which is "
                             f"not in {self.sessions.label}", f"{self.messages.label} row id {msg['id']}", msg)

    # -- values ---------------------------------------------------------------------------------------

    def _named(self, row: dict[str, Any], rel: Relation) -> dict[str, Any]:
        """Logical name -> plain value (JSON paths followed) for a quarantine record; never raises."""
        out = {}
        for f, col in rel.columns.items():
            if col is None:
                continue
            try:
                out[f] = _plain_value(_at(row.get(col[0]), col[1]))
            except _Quarantine:
                out[f] = _plain_value(row.get(col[0]))
        return out

    def _value(self, row: dict[str, Any], rel: Relation, name: str, where: str) -> Any:
        col = rel.columns.get(name)
        if col is None:
            return None
        value = row.get(col[0])
        if isinstance(value, BadText) or (isinstance(value, bytes) and not _utf8(value)):
            raise _Quarantine("invalid_utf8", f"column '{col[0]}' ({name}) is not UTF-8 text: "
                                              f"{bytes(value)[:60]!r}", where)
        if isinstance(value, bytes):    # a BLOB holding UTF-8 text
            value = value.decode("utf-8")
        try:
            return _at(value, col[1])
        except _Quarantine as q:
            raise _Quarantine(q.reason, f"column '{col[0]}': {q.detail}", where) from None

    def _session_value(self, row: dict[str, Any], name: str, where: str) -> Any:
        col = self.sessions.columns[name]
        if col is None:
            return None
        if not col[1]:
            return row[col[0]]
        try:
            return _at(row[col[0]], col[1])
        except _Quarantine as q:
            raise _Quarantine(q.reason, f"column '{col[0]}': {q.detail}", where) from None

    def _time(self, value: Any, what: str, where: str) -> tuple[str | None, float | None]:
        if value is None:
            return None, None
        if type(value) is str and value[4:5] == "-" and self.unit in ("auto", "iso"):
            try:   # the common case, ISO text: checked by the standard parser without parse_time's generality
                parsed = datetime.fromisoformat(value)
                return value, (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
            except ValueError:
                pass
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        try:
            parsed = parse_time(value, self.unit)
        except ValueError as e:
            raise _Quarantine("wrong_type", f"{what}: {e}", where) from None
        return (None, None) if parsed is None else parsed

    # -- one session ----------------------------------------------------------------------------------

    def _conversation(self, srow: dict[str, Any], rows: list[dict[str, Any]], where: str) -> dict[str, Any]:
        types = set(map(type, srow.values()))
        if bytes in types or BadText in types:    # rare: checked value by value, naming the column
            get = lambda name: self._value(srow, self.sessions, name, where)  # noqa: E731
        else:
            get = lambda name: self._session_value(srow, name, where)  # noqa: E731
        sid = _plain_value(get("id"))
        created_at, _ = self._time(get("created_at"), f"session {sid} created_at", where)
        id_at = self._m_id_at
        dropped: list[str] = []
        warnings: dict[str, int] = {}
        fast = self._fast_turns(rows) if self._flat is not None else None
        if fast is not None:
            fast.sort(key=_TURN_ORDER)
            out = [t[3] for t in fast]
            if len({t[0] for t in fast}) < len(fast):
                warnings["ambiguous_order"] = 1
            if self.feedback:
                self._join_ratings(out, {})
            ordered = []
        else:
            messages = self._embedded(get("messages_json"), sid, where, dropped) if self.embedded else [
                self._message(r, f"{self.messages.label} row id {_plain_value(r[id_at])}", order)
                for order, r in enumerate(rows)]
            ordered = self._ordered(messages, get("current_id"), warnings, where)
            out = [self._turn(m) for m in ordered]
        model = get("model_version") or next((m["model"] for m in reversed(ordered) if m.get("model")), None)
        system_prompt, context = get("system_prompt"), get("context")
        conv = {
            "id": conversation_id(self.source, str(sid)), "source": self.source, "source_id": str(sid),
            "task_type": _text(get("task_type")) or self.task_type, "system_prompt": _text(system_prompt),
            "prompt_version": _prompt_version(_text(system_prompt)), "model_version": _text(model),
            "context": None if context is None else (context if isinstance(context, str) else json_text(context)),
            "messages": out, "status": _text(get("status")), "error": _text(get("error")),
            "confidence": None, "approval": None, "latency_ms": None, "cost": None,
            "created_at": created_at, "provenance": self.provenance,
        }
        if warnings:
            conv["_warnings"] = warnings
        if dropped:
            conv["_dropped_fields"] = dict(Counter(dropped))
        return conv

    def _fast_turns(self, rows: list[tuple]) -> list[tuple] | None:
        """(time, role rank, order, turn) per message for seed 000's plain shape (ISO times, no parent ids,
        thumbs 1/-1), or None as soon as a row needs the general path (which then checks and names it).
        The hot loop of a million-message export: one tuple unpack and one dict per message."""
        if self.unit not in ("auto", "iso"):
            return None
        out = []
        flat, max_chars, roles, rank, utc = self._flat, self.max_chars, ROLES, ROLE_RANK, timezone.utc
        for order, row in enumerate(rows):
            mid, role, content, created, rating, note, meta, parent = flat(row)
            if not (type(content) is str and (type(mid) is int or type(mid) is str) and role in roles
                    and (rating is None or (type(rating) is int and (rating == 1 or rating == -1)))
                    and (max_chars is None or len(content) <= max_chars) and type(created) is str
                    and created[4:5] == "-" and (note is None or type(note) is str)
                    and (meta is None or type(meta) is str) and parent is None):
                return None
            rewrite = None
            if meta is not None:
                is_object, rewrite = _meta_rewrite(meta)
                if not is_object:
                    return None
            try:
                parsed = datetime.fromisoformat(created)
            except ValueError:
                return None
            ts = (parsed if parsed.tzinfo else parsed.replace(tzinfo=utc)).timestamp()
            out.append((ts, rank[role], order, {
                "id": str(mid), "role": role, "content": content, "created_at": created, "tool_calls": None,
                "rating": rating, "feedback_note": note, "rewrite": rewrite, "feedback_meta": meta}))
        return out

    def _row_dict(self, row: tuple) -> dict[str, Any]:
        return dict(zip(self._m_names, row))

    def _message(self, row: tuple, where: str, order: int) -> dict[str, Any]:
        if self._flat is not None:   # the hot path of a large log: plain columns, common values, one dict
            mid, role, content, created, rating, note, meta, parent = self._flat(row)
            if (type(content) is str and (type(mid) is int or type(mid) is str) and role in ROLES
                    and (rating is None or rating == 1 or rating == -1)
                    and type(rating) is not bool and (self.max_chars is None or len(content) <= self.max_chars)
                    and type(created) is str and created[4:5] == "-" and self.unit in ("auto", "iso")
                    and (note is None or type(note) is str) and (meta is None or type(meta) is str) and parent is None):
                rewrite = None
                if meta is not None:
                    is_object, rewrite = _meta_rewrite(meta)
                    if not is_object:
                        raise _Quarantine("invalid_feedback_meta", f"message {mid} feedback meta is not a JSON object",
                                          where)
                created_at, ts = self._time(created, "", where)
                return {"id": str(mid), "role": role, "content": content, "created_at": created_at, "ts": ts,
                        "order": order, "parent_id": None, "current": False, "rating": rating, "feedback_note": note,
                        "rewrite": rewrite, "feedback_meta": meta, "model": None, "where": where}
        row = self._row_dict(row)
        types = set(map(type, row.values()))
        if bytes in types or BadText in types:   # rare: BLOBs, or text that is not UTF-8 (checked per field)
            get = lambda name: self._value(row, self.messages, name, where)  # noqa: E731
            return self._checked({f: get(f) for f in MESSAGE_FIELDS if f != "session_id"}, where, order)
        m = {}
        for field, column, path in self._plan:
            value = row[column]
            m[field] = _at(value, path) if path and value is not None else value
        return self._checked(m, where, order)

    def _embedded(self, value: Any, sid: Any, where: str, dropped: list[str]) -> list[dict[str, Any]]:
        if value is None:
            return []
        items = list(value.values()) if isinstance(value, dict) else value
        if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
            raise _Quarantine("wrong_type", f"session {sid}: the messages JSON is not an object or list of objects", where)
        out = []
        for order, m in enumerate(items):
            fields = {f: _at(m, path) for f, path in self.message_fields.items()}
            fields.setdefault("id", m.get("id"))
            dropped += [f"messages_json[].{k}" for k in _unmapped(m, self._message_keys)]
            out.append(self._checked(fields, f"{where} message {fields.get('id')}", order))
        return out

    def _checked(self, m: dict[str, Any], where: str, order: int) -> dict[str, Any]:
        """A message's fields checked and typed; raises _Quarantine naming the row."""
        mid = _plain_value(m.get("id"))
        if mid is None:
            raise _Quarantine("missing_field", "a message has no id", where)
        role, content = m.get("role"), m.get("content")
        if self.max_chars is not None and isinstance(content, str) and len(content) > self.max_chars:
            raise _Quarantine("message_too_long", f"message {mid} has {len(content)} characters (max {self.max_chars})", where)
        if role not in ROLES:
            raise _Quarantine("invalid_role", f"message {mid} has role {role!r}", where)
        if content is not None and not isinstance(content, str):
            content = json_text(content)     # structured content (parts): kept whole as JSON text
        rating = m.get("rating")
        if rating is not None and not (type(rating) is int and (rating == 1 or rating == -1)):
            try:
                rating = parse_rating(rating)
            except Unfit:
                raise _Quarantine("invalid_feedback", f"message {mid} has feedback {m.get('rating')!r} "
                                  "(expected 1, -1 or NULL)", where) from None
        meta = m.get("feedback_meta")
        rewrite = m.get("rewrite")
        if meta is not None:
            meta = meta if isinstance(meta, str) else json_text(meta)
            is_object, meta_rewrite = _meta_rewrite(meta)
            if not is_object:
                raise _Quarantine("invalid_feedback_meta", f"message {mid} feedback meta is not a JSON object", where)
            rewrite = meta_rewrite if rewrite is None else rewrite
        created_at, ts = self._time(m.get("created_at"), f"message {mid} created_at", where)
        parent, note, model = m.get("parent_id"), m.get("feedback_note"), m.get("model")
        return {"id": mid if type(mid) is str else str(mid), "role": role, "content": content, "created_at": created_at,
                "ts": ts, "order": order, "parent_id": None if parent is None or parent == "" else str(_plain_value(parent)),
                "current": bool(m.get("current")), "rating": rating,
                "feedback_note": note if note is None or type(note) is str else _text(note),
                "rewrite": rewrite if rewrite is None or type(rewrite) is str else _text(rewrite), "feedback_meta": meta,
                "model": model if model is None or type(model) is str else _text(model), "where": where}

    def _ordered(self, messages: list[dict[str, Any]], current_id: Any, warnings: dict[str, int],
                 where: str) -> list[dict[str, Any]]:
        if not any(m["parent_id"] for m in messages):
            key = lambda m: (m["ts"] if m["ts"] is not None else float("-inf"), ROLE_RANK[m["role"]], m["order"])  # noqa: E731
            ordered = sorted(messages, key=key)
            instants = [m["ts"] for m in ordered if m["ts"] is not None]
            if len(set(instants)) < len(instants):
                warnings["ambiguous_order"] = 1
            if messages and all(m["ts"] is None for m in messages) and len(messages) > 1:
                warnings["no_timestamps"] = 1
            self._join_ratings(ordered, {})
            return ordered
        by_id = {m["id"]: m for m in messages}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for m in messages:
            parent = m["parent_id"] if m["parent_id"] in by_id else None
            if m["parent_id"] and parent is None:
                raise _Quarantine("broken_tree", f"message {m['id']} has parent {m['parent_id']!r}, which is not in "
                                  "this session", m["where"])
            children.setdefault(parent, []).append(m)
        flagged = [m for m in messages if m["current"]]
        if current_id not in (None, ""):
            leaf = by_id.get(str(current_id))
            if leaf is None:
                raise _Quarantine("broken_tree", f"the current message {current_id!r} is not among the messages", where)
        elif flagged:
            leaf = flagged[-1]
        else:   # the latest leaf: the branch the user saw last
            leaves = [m for m in messages if m["id"] not in children]
            leaf = max(leaves or messages, key=lambda m: (m["ts"] or float("-inf"), m["order"]))
        path, seen = [], set()
        node = leaf
        while node is not None:
            if node["id"] in seen:
                raise _Quarantine("broken_tree", f"the parent links loop at message {node['id']}", node["where"])
            seen.add(node["id"])
            path.append(node)
            node = by_id.get(node["parent_id"]) if node["parent_id"] else None
        path.reverse()
        alternatives: dict[str, list[dict[str, Any]]] = {}
        shown = set(seen)
        for m in path:
            sibs = [s for s in children.get(m["parent_id"] if m["parent_id"] in by_id else None, []) if s is not m]
            alternatives[m["id"]] = sibs
            shown.update(s["id"] for s in sibs)
        off = [m for m in messages if m["id"] not in shown]
        if off:
            warnings["off_branch_messages"] = len(off)
            rated = sum(1 for m in off if m["rating"] is not None)
            if rated:   # a rating deep in an abandoned branch: on no turn and no alternative, so counted here
                warnings["off_branch_ratings"] = rated
        self._join_ratings(path, alternatives)
        return path

    def _join_ratings(self, path: list[dict[str, Any]], alternatives: dict[str, list[dict[str, Any]]]) -> None:
        for m in path:
            self._apply_ratings(m)
            alts = []
            for s in alternatives.get(m["id"], []):
                self._apply_ratings(s)
                alts.append({k: s[k] for k in ("id", "role", "content", "rating", "feedback_note") if
                             s[k] is not None or k in ("id", "role", "content")})
            if alts:
                meta = _meta_object(m["feedback_meta"]) if m["feedback_meta"] else {}
                meta["alternatives"] = alts
                m["feedback_meta"] = json_text(meta)

    def _apply_ratings(self, m: dict[str, Any]) -> None:
        rows = self.feedback.get(m["id"])
        if not rows:
            return
        for r in rows:
            self.used_feedback.add(id(r))
        latest = max(rows, key=lambda r: (r["_ts"] or float("-inf"), r["_order"]))
        if latest["rating"] is not None:
            m["rating"] = latest["rating"]
        note = next((r["note"] for r in sorted(rows, key=lambda r: (r["_ts"] or float("-inf"), r["_order"]),
                                               reverse=True) if r.get("note")), None)
        if note:   # the latest note given, even when a later vote came without one
            m["feedback_note"] = note
        meta = _meta_object(m["feedback_meta"]) if m["feedback_meta"] else {}
        meta["feedback"] = {k: v for k, v in _plain(latest).items() if k not in ("message_id",)}
        if len(rows) > 1:
            meta["ratings"] = [{k: v for k, v in _plain(r).items() if k != "message_id"} for r in rows]
        if isinstance(meta["feedback"].get("meta"), dict) and m["rewrite"] is None:
            rewrite = meta["feedback"]["meta"].get("rewrite")
            m["rewrite"] = rewrite if isinstance(rewrite, str) and rewrite.strip() else None
        m["feedback_meta"] = json_text(meta)

    def _load_ratings(self) -> list[dict[str, Any]]:
        rel, bad = self.ratings, []
        sel, _ = _select("r", rel)
        for order, row in enumerate(self.db.rows(f"SELECT {sel} FROM {rel.source} r")):
            where = f"{rel.label} row {order + 1}"
            try:
                rid = self._value(row, rel, "id", where)
                where = f"{rel.label} row id {_plain_value(rid)}" if rid is not None else where
                entry = {f: self._value(row, rel, f, where) for f in RATING_FIELDS}
                if entry["message_id"] is None:
                    raise _Quarantine("missing_field", "a rating without a message id", where)
                try:
                    entry["rating"] = parse_rating(entry["rating"])
                except Unfit as e:
                    raise _Quarantine("unknown_rating", str(e), where) from None
                entry["created_at"], entry["_ts"] = self._time(entry["created_at"], "rating created_at", where)
                if isinstance(entry["meta"], str):
                    entry["meta"] = _json(entry["meta"])
            except _Quarantine as q:
                bad.append(quarantine(q.reason, q.detail, q.where or where, self._named(row, rel)))
                continue
            entry.update(_order=order, _where=where, message_id=str(_plain_value(entry["message_id"])))
            entry["note"] = _text(entry["note"])
            self.feedback.setdefault(entry["message_id"], []).append(entry)
        return bad

    @staticmethod
    def _turn(m: dict[str, Any]) -> dict[str, Any]:
        return {"id": m["id"], "role": m["role"], "content": m["content"], "created_at": m["created_at"],
                "tool_calls": None, "rating": m["rating"], "feedback_note": m["feedback_note"],
                "rewrite": m["rewrite"], "feedback_meta": m["feedback_meta"]}


_MESSAGE_FIELDS = [records.MESSAGE.field(i) for i in range(records.MESSAGE.num_fields)]
_UTC = timezone.utc


def _iso_ts(value: Any) -> float:
    """The instant of ISO text as `Reader._fast_turns` reads it, or NaN where that path would not take it."""
    if type(value) is not str or value[4:5] != "-":
        return float("nan")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return float("nan")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)).timestamp()


# ISO text with a zone that both Python's `datetime.fromisoformat` and Arrow's cast read as the same instant
_ISO_ZONED = r"^\d{4}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"


def _instants(created: tuple, text: pa.Array | None = None) -> np.ndarray:
    """`_iso_ts` of each value, as one Arrow cast when every value is zoned ISO text (microseconds then, not
    seconds: the instants are only compared with each other, within one shard), else value by value.
    `text`: the values as an Arrow string array, when the caller has built it."""
    if text is None and created and set(map(type, created)) == {str}:
        text = pa.array(created, pa.string())
    if text is not None and pc.all(pc.match_substring_regex(text, _ISO_ZONED)).as_py():
        try:
            micros = pc.cast(text, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
        except pa.ArrowInvalid:   # a day the calendar lacks (Feb 30): the value-by-value path names it
            pass
        else:
            return micros.astype(np.float64)
    return np.fromiter(map(_iso_ts, created), np.float64, len(created))


def _off_type(values: list | tuple, allowed: set[type]) -> np.ndarray | None:
    """None when every value's type is allowed (one pass in C), else the mask of those whose type is not."""
    if set(map(type, values)) <= allowed:
        return None
    return np.fromiter((type(v) not in allowed for v in values), bool, len(values))


def _array(values: list | tuple, type_: pa.DataType, off: np.ndarray | None, whole: pa.Array | None = None) -> pa.Array:
    """An Arrow array of a column; values of rows that are not taken (`off`) become null. `whole`: the
    column already built as it is, used when every row is taken."""
    if off is None and whole is not None:
        return whole
    if off is not None:
        values = [None if o else v for v, o in zip(values, off)]
    return pa.array(values, type=type_)


def _conversation_ids(source: str, source_ids: list[str]) -> list[str]:
    """`conversation_id(source, s)` for each s, the hash of the common prefix taken once."""
    prefix = hashlib.sha256(f"conversation\x1f{source}\x1f".encode("utf-8"))
    out = []
    for s in source_ids:
        h = prefix.copy()
        h.update(s.encode("utf-8") + b"\x1f")
        out.append(h.hexdigest()[:16])
    return out


class _Columns:
    """One shard of a plain source read column by column: the conversations `Reader._sessions` would build
    for the sessions `_fast_turns` takes whole, as ConversationBatch tables; every other session (a message
    the fast path does not take, a session value that is not plain text, an id on several rows) goes through
    `Reader._group` as before, in its place in id order. The same values either way, so the same bytes."""

    def __init__(self, reader: Reader, s_names: list[str], srows: list[tuple], mrows: list[tuple], by_value: bool):
        # by_value: the messages of a session may be in any order and their ids are distinct integers,
        # whose order is the database's id order (else they come in that order: their position is it)
        self.r, self.srows, self.mrows, self.by_value = reader, srows, mrows, by_value
        self.s_names = s_names
        self.s_at = {name: i for i, name in enumerate(s_names)}

    def _session_column(self, field: str) -> list | None:
        col = self.r.sessions.columns[field]
        return None if col is None else [row[self.s_at[col[0]]] for row in self.srows]

    def items(self) -> Iterator[dict[str, Any] | ConversationBatch]:
        r, srows, mrows = self.r, self.srows, self.mrows
        if not srows:
            return
        sids = self._session_column("id")
        sid_arr = np.array(sids, dtype=np.int64)
        cols = list(zip(*mrows)) if mrows else [()] * len(self.r._m_names)
        m_sid = np.array(cols[0], dtype=np.int64)
        starts, ends = np.searchsorted(m_sid, sid_arr, "left"), np.searchsorted(m_sid, sid_arr, "right")
        bad_before = np.concatenate([[0], np.cumsum(self._messages(cols))])   # messages not taken, up to each row
        good = (bad_before[ends] - bad_before[starts] == 0) & self._plain_sessions()
        dup = np.zeros(len(srows), bool)
        dup[1:] |= sid_arr[1:] == sid_arr[:-1]
        dup[:-1] |= sid_arr[1:] == sid_arr[:-1]
        good &= ~dup
        i, n = 0, len(srows)
        while i < n:
            if good[i]:
                j = i
                while j < n and good[j]:
                    j += 1
                yield self._batch(i, j, starts, ends)
                i = j
                continue
            j = i + 1
            while j < n and sids[j] == sids[i]:
                j += 1
            group = [dict(zip(self.s_names, row)) for row in srows[i:j]]
            rows = mrows[starts[i]:ends[i]]
            yield from r._group(group, sorted(rows, key=itemgetter(r._m_id_at)) if self.by_value else rows)
            i = j

    def _messages(self, cols: list[tuple]) -> np.ndarray:
        """Per message row: True where `_fast_turns` would not take it (its session then takes the general path)."""
        r, n = self.r, len(self.mrows)
        mid, role, content, created, rating, note, meta, parent = (cols[i] for i in r._flat_at)
        bad = np.zeros(n, bool)
        offs = {"id": _off_type(mid, {int, str}), "content": _off_type(content, {str}),
                "rating": _off_type(rating, {type(None), int}), "note": _off_type(note, {type(None), str}),
                "meta": _off_type(meta, {type(None), str})}
        for off in offs.values():
            if off is not None:
                bad |= off
        if not set(role) <= ROLES:
            bad |= np.fromiter((x not in ROLES for x in role), bool, n)
        if offs["rating"] is None and not set(rating) <= {None, 1, -1}:
            bad |= np.fromiter((x not in (None, 1, -1) for x in rating), bool, n)
        elif offs["rating"] is not None:
            bad |= np.fromiter((type(x) is int and x not in (1, -1) for x in rating), bool, n)
        if set(parent) != {None} and n:
            bad |= np.fromiter((x is not None for x in parent), bool, n)
        # every content (and time) text: its Arrow array is built once, checked and kept for the output
        whole = {"content": pa.array(content, pa.string()) if offs["content"] is None else None,
                 "created": pa.array(created, pa.string()) if n and _off_type(created, {str}) is None else None}
        if r.max_chars is not None:   # Arrow counts code points, as `len` does
            bad |= np.fromiter((type(x) is str and len(x) > r.max_chars for x in content), bool, n) \
                if whole["content"] is None else pc.utf8_length(whole["content"]).to_numpy(zero_copy_only=False) > r.max_chars
        ts = _instants(created, whole["created"])
        bad |= np.isnan(ts)
        rewrite: list[str | None] = [None] * n
        for k, text in enumerate(meta):
            if text is not None and type(text) is str:
                is_object, rewrite[k] = _meta_rewrite(text)
                if not is_object:
                    bad[k] = True
        off = bad if bad.any() else None   # values of rows not taken are left out of the arrays
        self.ids = np.array(mid, dtype=np.int64) if self.by_value else None
        # distinct integer ids: their text is Arrow's cast (the same decimal digits as `str`), not a str each
        ids = pa.array(self.ids).cast(pa.string()) if self.by_value else pa.array(list(map(str, mid)), pa.string())
        roles = _array(role, pa.string(), off)
        self.ts = ts
        self.rank = pc.fill_null(pc.index_in(roles, value_set=pa.array(sorted(ROLE_RANK, key=ROLE_RANK.get))),
                                 9).to_numpy(zero_copy_only=False)
        self.arrays = [   # in records.MESSAGE's field order
            ids, roles, _array(content, pa.string(), off, whole["content"]),
            _array(created, pa.string(), off, whole["created"]), pa.nulls(n, pa.string()), _array(rating, pa.int8(), off),
            _array(note, pa.string(), off), pa.array(rewrite, pa.string()), _array(meta, pa.string(), off),
            pa.nulls(n, records.MESSAGE.field("feedback").type)]
        return bad

    def _plain_sessions(self) -> np.ndarray:
        """Per session row: True where every session value is what `_conversation` copies as-is (text or
        null; created_at ISO text that `_time` reads with the standard parser)."""
        ok = np.ones(len(self.srows), bool)
        self.values: dict[str, list | None] = {}
        for field in ("system_prompt", "model_version", "context", "status", "error", "task_type", "created_at"):
            values = self.values[field] = self._session_column(field)
            if values is None:
                continue
            off = _off_type(values, {type(None), str})
            if off is not None:
                ok &= ~off
            if field == "created_at":
                given = [v for v in values if v is not None]
                if len(given) == len(values):
                    ok &= ~np.isnan(_instants(tuple(values)))
                else:
                    ok &= np.fromiter((v is None or not np.isnan(_iso_ts(v)) for v in values), bool, len(values))
        return ok

    def _batch(self, a: int, b: int, starts: np.ndarray, ends: np.ndarray) -> ConversationBatch:
        r = self.r
        m0, m1 = int(starts[a]), int(ends[b - 1])
        counts = (ends[a:b] - starts[a:b]).astype(np.int64)
        session = np.repeat(np.arange(b - a), counts)
        ts, rank = self.ts[m0:m1], self.rank[m0:m1]
        database_order = self.ids[m0:m1] if self.by_value else np.arange(m1 - m0)
        order = np.lexsort((database_order, rank, ts, session))   # by session, time, role rank, database order
        s_ts, s_session = ts[order], session[order]
        tied = (s_session[1:] == s_session[:-1]) & (s_ts[1:] == s_ts[:-1])
        ambiguous = len(np.unique(s_session[1:][tied]))
        take = pa.array(order + m0)
        messages = pa.StructArray.from_arrays([col.take(take) for col in self.arrays], fields=_MESSAGE_FIELDS)
        offsets = np.zeros(b - a + 1, np.int32)
        np.cumsum(counts, out=offsets[1:])
        n = b - a
        source_ids = [str(v) for v in self._session_column("id")[a:b]]
        value = lambda field: [None] * n if self.values[field] is None else self.values[field][a:b]  # noqa: E731
        system_prompt = value("system_prompt")
        task_type = [(v or r.task_type) for v in value("task_type")]
        strings = {
            "id": _conversation_ids(r.source, source_ids), "source": [r.source] * n, "source_id": source_ids,
            "task_type": task_type, "system_prompt": system_prompt,
            "prompt_version": [_prompt_version(v) for v in system_prompt],
            "model_version": [v if v else None for v in value("model_version")], "context": value("context"),
            "status": value("status"), "error": value("error"), "created_at": value("created_at"),
            "provenance": [r.provenance] * n}
        columns = []
        for f in records.CONVERSATION:
            if f.name == "messages":
                columns.append(pa.ListArray.from_arrays(pa.array(offsets), messages, type=f.type))
            elif f.name in strings:
                columns.append(pa.array(strings[f.name], f.type))
            else:
                columns.append(pa.nulls(n, f.type))
        table = pa.Table.from_arrays(columns, schema=records.CONVERSATION)
        return ConversationBatch(table, {"ambiguous_order": ambiguous} if ambiguous else {})


_TURN_ORDER = itemgetter(0, 1, 2)   # time, role rank, database order: never the turn dicts themselves


class _Undecodable(Exception):
    """SQLite met TEXT that is not UTF-8 while decoding it itself: read again, checking each value."""


class _Quarantine(Exception):
    def __init__(self, reason: str, detail: str, where: str | None = None):
        super().__init__(detail)
        self.reason, self.detail, self.where = reason, detail, where


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _at(value: Any, path: tuple[str, ...]) -> Any:
    """The value at a JSON path inside a column's value (JSON text or an already-decoded object)."""
    if not path:
        return value
    if isinstance(value, str):
        value = _json(value)
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit():
            value = value[int(key)] if int(key) < len(value) else None
        else:
            return None
    return value


@lru_cache(maxsize=64)
def _json_cached(text: str) -> Any:
    return json.loads(text)


def _json(text: str) -> Any:
    try:
        return _json_cached(text) if len(text) < 4096 else json.loads(text)
    except ValueError as e:
        raise _Quarantine("broken_json", f"not JSON ({e})") from None


@lru_cache(maxsize=4096)  # thumbs-up metas repeat (`{"tags": ["helpful"]}`): parse each distinct text once
def _meta_rewrite(text: str) -> tuple[bool, str | None]:
    """(whether a feedback meta text is a JSON object, the human rewrite it holds or None)."""
    try:   # `_meta_object`'s parse without its copy: one call per distinct meta of a million-message log
        meta = json.loads(text)
    except (TypeError, ValueError):
        return False, None
    if not isinstance(meta, dict):
        return False, None
    rewrite = meta.get("rewrite")
    return True, rewrite if isinstance(rewrite, str) and rewrite.strip() else None


def _meta_object(text: str) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return dict(value) if isinstance(value, dict) else value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json_text(value) if isinstance(value, (dict, list)) else str(value)


def _plain_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain_value(v) for k, v in row.items() if not k.startswith("_")}


@lru_cache(maxsize=256)  # a log holds a handful of prompt versions; hashing each session's prompt is waste
def _prompt_version(system_prompt: str | None) -> str | None:
    return prompt_version(system_prompt)
