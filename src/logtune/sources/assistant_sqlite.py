"""Source kind `assistant_sqlite`: seed 000's support-assistant SQLite log DB, the `sql` kind's preset of that name.

One session row becomes one Conversation; its messages, ordered by time (or by parent id when mapped),
become its turns, with the thumbs (`feedback` 1 / -1 / NULL), the user's note, the feedback meta JSON as
text and the human `rewrite` taken from that meta. The session's state JSON is the CONTEXT, copied as
text as-is (judging it is curation's job). Everything is read by `logtune.sources.sql` (see its
docstring for ordering, timestamps, ratings tables and every quarantine reason); this module keeps the
older option names:

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

Any option of the `sql` kind may be given too (a `ratings` table, `timestamps: epoch_s`, a `parent_id`
column under message_columns, a `query` instead of a table, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

from logtune.sources import SourceError, sql

PRESET = sql.PRESETS["assistant_sqlite"]
SESSION_COLUMNS = dict(PRESET["sessions"]["columns"])
MESSAGE_COLUMNS = {**{k: v for k, v in PRESET["messages"]["columns"].items() if k != "rating"}, "feedback": "feedback"}
OLD_KEYS = {"session_table", "message_table", "session_columns", "message_columns"}
# The old name of each message field that the sql kind calls otherwise.
RENAMED = {"feedback": "rating"}


def options_to_sql(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `sql` kind's options for this kind's options (old table/column names folded into its preset)."""
    options = dict(options or {})
    unknown = sorted(set(options) - OLD_KEYS - sql.OPTIONS)
    if unknown:
        raise SourceError(f"assistant_sqlite: unknown option '{unknown[0]}' "
                          f"(allowed: {', '.join(sorted(OLD_KEYS | sql.OPTIONS - {'preset'}))})")
    spec: dict[str, Any] = {"preset": "assistant_sqlite"}
    for kind, table_key, columns_key, names in (("sessions", "session_table", "session_columns", sql.SESSION_FIELDS),
                                                ("messages", "message_table", "message_columns", sql.MESSAGE_FIELDS)):
        given = dict(options.pop(columns_key, None) or {})
        allowed = set(names) | set(RENAMED)
        bad = sorted(set(given) - allowed)
        if bad:
            raise SourceError(f"assistant_sqlite option '{columns_key}': unknown key '{bad[0]}' "
                              f"(allowed: {', '.join(sorted(allowed - {'rating'} if kind == 'messages' else allowed))})")
        columns = {RENAMED.get(k, k): v for k, v in given.items()}
        table = options.pop(table_key, None)
        if table is not None or columns:
            entry: dict[str, Any] = {"columns": columns}
            if table is not None:
                entry["table"] = table
            spec[kind] = entry
    for kind, value in options.items():
        spec[kind] = value
    return spec


def read(path: str | Path, options: Mapping[str, Any] | None = None, source_name: str = "assistant_sqlite",
         *, max_message_chars: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield one conversation (or quarantine entry) per session in id order, then orphan messages."""
    return sql.read(path, options_to_sql(options), source_name, max_message_chars=max_message_chars)


def shard_ranges(path: str | Path, options: Mapping[str, Any] | None, shard_sessions: int) -> list[tuple] | None:
    """Session-id ranges for export's worker processes (`sql.shard_ranges`)."""
    return sql.shard_ranges(path, options_to_sql(options), shard_sessions)


def read_shard(path: str | Path, options: Mapping[str, Any] | None, source_name: str, after: int | None,
               up_to: int | None, *, max_message_chars: int | None = None, columnar: bool = False) -> Iterator[Any]:
    return sql.read_shard(path, options_to_sql(options), source_name, after, up_to,
                          max_message_chars=max_message_chars, columnar=columnar)


def read_tail(path: str | Path, options: Mapping[str, Any] | None, source_name: str, *,
              max_message_chars: int | None = None) -> Iterator[dict[str, Any]]:
    return sql.read_tail(path, options_to_sql(options), source_name, max_message_chars=max_message_chars)
