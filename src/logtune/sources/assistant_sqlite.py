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


def _message_problem(msg: dict[str, Any], max_chars: int | None) -> tuple[str, str] | None:
    content = msg["content"]
    if max_chars is not None and isinstance(content, str) and len(content) > max_chars:
        return "message_too_long", f"message {msg['id']} has {len(content)} characters (max {max_chars})"
    if msg["role"] not in ROLES:
        return "invalid_role", f"message {msg['id']} has role {msg['role']!r}"
    fb = msg["feedback"]
    if fb is not None and (isinstance(fb, bool) or fb not in (1, -1)):
        return "invalid_feedback", f"message {msg['id']} has feedback {fb!r} (expected 1, -1 or NULL)"
    if msg["feedback_meta"] is not None:
        try:
            meta = json.loads(msg["feedback_meta"])
        except (TypeError, json.JSONDecodeError):
            meta = None
        if not isinstance(meta, dict):
            return "invalid_feedback_meta", f"message {msg['id']} feedback meta is not a JSON object"
    return None


def _rewrite(meta_text: str | None) -> str | None:
    if meta_text is None:
        return None
    rewrite = json.loads(meta_text).get("rewrite")
    return rewrite if isinstance(rewrite, str) and rewrite.strip() else None


def to_message(msg: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(msg["id"]), "role": msg["role"], "content": msg["content"],
            "created_at": msg["created_at"], "tool_calls": None, "rating": msg["feedback"],
            "feedback_note": msg["feedback_note"], "rewrite": _rewrite(msg["feedback_meta"]),
            "feedback_meta": msg["feedback_meta"]}


def to_conversation(session: dict[str, Any], messages: list[dict[str, Any]], source: str,
                    task_type: str) -> dict[str, Any]:
    return {
        "id": conversation_id(source, str(session["id"])), "source": source, "source_id": str(session["id"]),
        "task_type": task_type, "system_prompt": session["system_prompt"],
        "prompt_version": prompt_version(session["system_prompt"]), "model_version": session["model_version"],
        "context": session["context"], "messages": [to_message(m) for m in messages],
        "status": session["status"], "error": session["error"], "confidence": None, "approval": None,
        "latency_ms": None, "cost": None, "created_at": session["created_at"], "provenance": "real",
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
        order = ", ".join(f"m.{_q(c)}" for c in (m_cols["created_at"], m_cols["id"]) if c)
        sql = (f"SELECT {', '.join(_select('s', 's_', s_cols) + _select('m', 'm_', m_cols))} "
               f"FROM {_q(s_table)} s LEFT JOIN {_q(m_table)} m ON m.{_q(m_cols['session_id'])} = s.{_q(s_cols['id'])} "
               f"ORDER BY s.{_q(s_cols['id'])}, {order}")
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        current: dict[str, Any] | None = None
        messages: list[dict[str, Any]] = []
        for values in cursor:
            row = {n: _jsonable(v) for n, v in zip(names, values)}
            session = {k: row["s_" + k] for k in s_cols}
            if current is None or session["id"] != current["id"]:
                if current is not None:
                    yield _finish(current, messages, source, task_type, s_table, m_table, max_message_chars)
                current, messages = session, []
            if row["m_id"] is not None:
                messages.append({k: row["m_" + k] for k in m_cols})
        if current is not None:
            yield _finish(current, messages, source, task_type, s_table, m_table, max_message_chars)

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


def _finish(session: dict[str, Any], messages: list[dict[str, Any]], source: str, task_type: str,
            s_table: str, m_table: str, max_chars: int | None) -> dict[str, Any]:
    for msg in messages:
        problem = _message_problem(msg, max_chars)
        if problem:
            reason, detail = problem
            return quarantine(reason, f"session {session['id']}: {detail}", f"table {m_table} row id {msg['id']}",
                              {"session": session, "messages": messages})
    return to_conversation(session, messages, source, task_type)
