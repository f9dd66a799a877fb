"""Source kind `assistant_sqlite`: an assistant's SQLite log database (sessions + messages), seed 000's shape.

One session row becomes one Conversation; its messages, ordered by (created_at, id), become the
conversation's messages, with the thumbs (`feedback` 1 / -1 / NULL), the user's note, the feedback meta
JSON as text and the human `rewrite` taken from that meta. The session's state JSON is the CONTEXT,
copied as text as-is (judging it is curation's job). Rows are streamed through one ordered LEFT JOIN, so
only one session is held in memory at a time.

Options (the `options:` mapping of a `sources` entry; every key optional, defaults = the sample DB):

    session_table: support_session
    message_table: support_message
    task_type: support
    session_columns:   # logical name -> column in session_table (null: this source has no such column)
      id: id                      # required
      created_at: created_at
      status: status
      error: error
      system_prompt: system_prompt
      model_version: model_version
      context: state_json
    message_columns:   # logical name -> column in message_table
      id: id                      # required
      session_id: session_id      # required
      role: role                  # required
      content: content            # required
      created_at: created_at
      feedback: feedback
      feedback_note: feedback_note
      feedback_meta: feedback_meta_json

Whole-input problems raise `SourceError` naming the path (and the table or column). Row problems are
quarantined with the row id: a message whose session does not exist (`orphan_message`), and a session
holding a message longer than `max_message_chars` (`message_too_long`), a feedback value other than
1 / -1 / NULL (`invalid_feedback`), feedback meta that is not a JSON object (`invalid_feedback_meta`) or a
role outside user/assistant/system/tool (`invalid_role`). A bad message quarantines its whole session:
dropping one turn from the middle would silently change what the conversation says.
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from logtune.ids import conversation_id, prompt_version
from logtune.sources import SourceError, quarantine

SESSION_COLUMNS = {"id": "id", "created_at": "created_at", "status": "status", "error": "error",
                   "system_prompt": "system_prompt", "model_version": "model_version", "context": "state_json"}
MESSAGE_COLUMNS = {"id": "id", "session_id": "session_id", "role": "role", "content": "content",
                   "created_at": "created_at", "feedback": "feedback", "feedback_note": "feedback_note",
                   "feedback_meta": "feedback_meta_json"}
REQUIRED = {"session": {"id"}, "message": {"id", "session_id", "role", "content"}}
OPTION_KEYS = {"session_table", "message_table", "task_type", "session_columns", "message_columns"}
ROLES = {"user", "assistant", "system", "tool"}
_BATCH_ROWS = 10_000  # rows per fetchmany: big enough to amortise the call, small next to one Parquet batch


def _column_map(kind: str, defaults: dict[str, str], given: Mapping[str, Any] | None) -> dict[str, str | None]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SourceError(f"assistant_sqlite option '{kind}_columns': unknown key '{unknown[0]}' "
                          f"(allowed: {', '.join(sorted(defaults))})")
    mapping = {**defaults, **given}
    for key in REQUIRED[kind]:
        if mapping[key] is None:
            raise SourceError(f"assistant_sqlite option '{kind}_columns.{key}' is required")
    return mapping


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connect(path: str | Path) -> sqlite3.Connection:
    """Open read-only; a missing file or a file that is not SQLite is a SourceError naming the path."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: source database not found")
    con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        con.close()
        raise SourceError(f"{path}: not an SQLite database ({e})") from None
    return con


def _check_table(con: sqlite3.Connection, path: Path, table: str, columns: dict[str, str | None]) -> None:
    have = {row[1] for row in con.execute(f"PRAGMA table_info({_q(table)})")}
    if not have:
        raise SourceError(f"{path}: table '{table}' not found")
    for logical, column in columns.items():
        if column is not None and column not in have:
            raise SourceError(f"{path}: table '{table}' has no column '{column}' (mapped from '{logical}'; "
                              f"map it to null if this source has none)")


def _select(alias: str, prefix: str, columns: dict[str, str | None]) -> list[str]:
    return [f"{alias}.{_q(col)} AS {prefix}{key}" if col else f"NULL AS {prefix}{key}"
            for key, col in columns.items()]


def _jsonable(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _message_problem(msg: tuple, max_chars: int | None) -> tuple[str, str] | None:
    """(reason, detail) for a message row (in MESSAGE_COLUMNS order) that cannot be exported as it is."""
    msg_id, _, role, content, _, fb, _, meta_text = msg
    if max_chars is not None and isinstance(content, str) and len(content) > max_chars:
        return "message_too_long", f"message {msg_id} has {len(content)} characters (max {max_chars})"
    if role not in ROLES:
        return "invalid_role", f"message {msg_id} has role {role!r}"
    if fb is not None and (isinstance(fb, bool) or fb not in (1, -1)):
        return "invalid_feedback", f"message {msg_id} has feedback {fb!r} (expected 1, -1 or NULL)"
    if meta_text is not None and _rewrite(meta_text) is _NOT_AN_OBJECT:
        return "invalid_feedback_meta", f"message {msg_id} feedback meta is not a JSON object"
    return None


_NOT_AN_OBJECT = object()


@lru_cache(maxsize=4096)  # thumbs-up metas repeat (`{"tags": ["helpful"]}`): parse each distinct text once
def _rewrite(meta_text: str | None) -> Any:
    """The human rewrite in a feedback meta JSON object (None if it has none), or _NOT_AN_OBJECT."""
    if meta_text is None:
        return None
    try:
        meta = json.loads(meta_text)
    except (TypeError, ValueError):
        return _NOT_AN_OBJECT
    if not isinstance(meta, dict):
        return _NOT_AN_OBJECT
    rewrite = meta.get("rewrite")
    return rewrite if isinstance(rewrite, str) and rewrite.strip() else None


@lru_cache(maxsize=256)  # a log holds a handful of prompt versions; hashing each session's prompt is waste
def _prompt_version(system_prompt: str | None) -> str | None:
    return prompt_version(system_prompt)


def to_conversation(session: tuple, messages: list[dict[str, Any]], source: str, task_type: str) -> dict[str, Any]:
    """A CONVERSATION dict from a session row (in SESSION_COLUMNS order) and its MESSAGE dicts."""
    sid, created_at, status, error, system_prompt, model_version, context = session
    return {
        "id": conversation_id(source, str(sid)), "source": source, "source_id": str(sid),
        "task_type": task_type, "system_prompt": system_prompt,
        "prompt_version": _prompt_version(system_prompt), "model_version": model_version,
        "context": context, "messages": messages,
        "status": status, "error": error, "confidence": None, "approval": None,
        "latency_ms": None, "cost": None, "created_at": created_at, "provenance": "real",
    }


def read(path: str | Path, options: Mapping[str, Any] | None = None, source_name: str = "assistant_sqlite",
         *, max_message_chars: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield one conversation (or quarantine entry) per session in id order, then orphan messages."""
    path, source = Path(path), source_name
    options = dict(options or {})
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise SourceError(f"assistant_sqlite: unknown option '{unknown[0]}' (allowed: {', '.join(sorted(OPTION_KEYS))})")
    s_table = options.get("session_table", "support_session")
    m_table = options.get("message_table", "support_message")
    task_type = options.get("task_type", "support")
    s_cols = _column_map("session", SESSION_COLUMNS, options.get("session_columns"))
    m_cols = _column_map("message", MESSAGE_COLUMNS, options.get("message_columns"))

    con = connect(path)
    try:
        _check_table(con, path, s_table, s_cols)
        _check_table(con, path, m_table, m_cols)
        s_id, m_session = f"s.{_q(s_cols['id'])}", f"m.{_q(m_cols['session_id'])}"
        order = ", ".join(f"m.{_q(c)}" for c in (m_cols["created_at"], m_cols["id"]) if c)
        # Two cursors in the same session-id order, read in lockstep: the JOIN carries only the session id
        # beside each message, so the session's columns (CONTEXT JSON, prompt) are not fetched once per message.
        joined = (f"SELECT {s_id}, {', '.join(_select('m', 'm_', m_cols))} FROM {_q(s_table)} s "
                  f"LEFT JOIN {_q(m_table)} m ON {m_session} = {s_id} ORDER BY {s_id}, {order}")
        sessions = f"SELECT {', '.join(_select('s', 's_', s_cols))} FROM {_q(s_table)} s ORDER BY {s_id}"
        yield from _sessions(con.execute(joined), con.execute(sessions), source, task_type, m_table, max_message_chars)

        orphans = (f"SELECT {', '.join(_select('m', 'm_', m_cols))} FROM {_q(m_table)} m "
                   f"LEFT JOIN {_q(s_table)} s ON s.{_q(s_cols['id'])} = m.{_q(m_cols['session_id'])} "
                   f"WHERE s.{_q(s_cols['id'])} IS NULL ORDER BY m.{_q(m_cols['id'])}")
        cursor = con.execute(orphans)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            msg = {n[2:]: _jsonable(v) for n, v in zip(names, values)}
            yield quarantine("orphan_message", f"message {msg['id']} refers to session {msg['session_id']!r}, "
                             f"which is not in table '{s_table}'", f"table {m_table} row id {msg['id']}", msg)
    finally:
        con.close()


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple]:
    while rows := cursor.fetchmany(_BATCH_ROWS):
        yield from rows


def _sessions(joined: sqlite3.Cursor, sessions: sqlite3.Cursor, source: str, task_type: str, m_table: str,
              max_chars: int | None) -> Iterator[dict[str, Any]]:
    """Group the JOIN rows (session id, then the message columns) into conversations (or quarantine items).

    The hot path of exporting a large log: rows come in batches as tuples unpacked by position, and each
    message is checked and mapped as it arrives. Each new session id in the JOIN is the next row of
    `sessions` (same order; a row repeating an id the JOIN already grouped is skipped, since the JOIN puts
    all of one id's messages in one group).
    """
    session_rows = _rows(sessions)
    session: tuple | None = None
    rows: list[tuple] = []          # the session's raw message rows, for a quarantine record
    messages: list[dict[str, Any]] = []
    problem: tuple[str, str, Any] | None = None
    roles, parse_rewrite, not_an_object = ROLES, _rewrite, _NOT_AN_OBJECT  # locals: this loop runs per message
    while batch := joined.fetchmany(_BATCH_ROWS):
        for row in batch:
            if session is None or row[0] != session[0]:
                if session is not None:
                    yield _finish(session, rows, messages, problem, source, task_type, m_table)
                session = _session_row(next(session_rows))
                while session[0] != row[0]:
                    session = _session_row(next(session_rows))
                rows, messages, problem = [], [], None
            _, msg_id, _, role, content, created_at, fb, note, meta_text = row
            if msg_id is None:      # the LEFT JOIN's row for a session without messages
                continue
            # SQLite is loosely typed: a BLOB in a text column is decoded as text (rare, so checked cheaply)
            if (type(content) is bytes or type(note) is bytes or type(meta_text) is bytes or type(msg_id) is bytes
                    or type(role) is bytes or type(created_at) is bytes):
                row = tuple(_jsonable(v) for v in row)
                _, msg_id, _, role, content, created_at, fb, note, meta_text = row
            rows.append(row)
            if problem is not None:
                continue
            rewrite = None if meta_text is None else parse_rewrite(meta_text)
            if (role not in roles or (fb is not None and fb != 1 and fb != -1) or rewrite is not_an_object
                    or (max_chars is not None and isinstance(content, str) and len(content) > max_chars)):
                problem = (*_message_problem(row[1:], max_chars), msg_id)
                continue
            messages.append({"id": str(msg_id), "role": role, "content": content, "created_at": created_at,
                             "tool_calls": None, "rating": fb, "feedback_note": note, "rewrite": rewrite,
                             "feedback_meta": meta_text})
    if session is not None:
        yield _finish(session, rows, messages, problem, source, task_type, m_table)


def _session_row(row: tuple) -> tuple:
    return tuple(_jsonable(v) for v in row) if bytes in map(type, row) else row


def _finish(session: tuple, rows: list[tuple], messages: list[dict[str, Any]], problem: tuple | None, source: str,
            task_type: str, m_table: str) -> dict[str, Any]:
    if problem is None:
        return to_conversation(session, messages, source, task_type)
    # A bad message quarantines its whole session (see the module docstring), with the session and its
    # messages as the record, under their logical column names.
    reason, detail, msg_id = problem
    record = {"session": dict(zip(SESSION_COLUMNS, session)),
              "messages": [dict(zip(MESSAGE_COLUMNS, r[1:])) for r in rows]}
    return quarantine(reason, f"session {session[0]}: {detail}", f"table {m_table} row id {msg_id}", record)
