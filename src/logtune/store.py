"""The collection service's store (`logtune serve`): logged calls, feedback, API keys, idempotency records, jobs and training references.

One layout on two engines: SQLite (a file; WAL mode, `synchronous=FULL`, the default) or PostgreSQL (a
`postgresql://` URL, for several service instances behind a load balancer). The URL comes from
`LOGTUNE_DB_URL`, else params `serve.db_url`; a plain path or `sqlite:///path` is SQLite.

Migrations are versioned: `MIGRATIONS[n]` takes the schema from version n to n+1, `schema_migrations`
records each applied version, and `migrate` applies the missing ones in order inside one transaction each
(a store written by a newer logtune is refused, not guessed at).

The export stage reads this layout directly (`logtune.sources.serve_store`). Its watermark is the
`changes` table: every write that alters what a call exports (the call itself, feedback on it, its deletion
by retention) appends `(seq, call_id, op)`, so a re-export reads only the calls changed after the last
`seq` it saw. On PostgreSQL, writers of `changes` take one transaction-scoped advisory lock, so `seq` order
is commit order and a reader never skips a row committed late under a lower `seq`.

Ground floor: the service (`logtune.serve`, which writes it through `serve.writer.GroupCommitWriter`)
and the export stage (`logtune.sources.serve_store`, which reads it) share this one definition of the
layout. Not for HTTP or validation (`logtune.serve`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

ENV_URL = "LOGTUNE_DB_URL"
PG_LOCK = 7116_0016   # advisory lock id serialising writers of `changes` on PostgreSQL (any constant works)

# Column lists, in table order: the export adapter and the API read these names.
CALL_COLUMNS = ("seq", "id", "kind", "received_at", "created_at", "task_type", "session_id", "model",
                "prompt_version", "system_prompt", "prompt", "output", "request", "response", "confidence",
                "approval", "latency_ms", "cost", "error", "auto_rules", "context", "status_code", "key_id")
FEEDBACK_COLUMNS = ("seq", "id", "call_id", "message_index", "thumbs", "note", "rewrite", "received_at", "key_id")
JOB_COLUMNS = ("id", "kind", "config", "command", "status", "created_at", "started_at", "finished_at",
               "returncode", "log", "result")


def _auto_pk(dialect: str) -> str:
    # AUTOINCREMENT: SQLite never reuses a deleted row's seq, so a watermark never points at a recycled number.
    return "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"


def _migration_1(d: str) -> list[str]:
    real = "REAL" if d == "sqlite" else "DOUBLE PRECISION"
    return [
        f"""CREATE TABLE calls (
            seq {_auto_pk(d)}, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, received_at TEXT NOT NULL,
            created_at TEXT, task_type TEXT NOT NULL, session_id TEXT, model TEXT, prompt_version TEXT,
            system_prompt TEXT, prompt TEXT, output TEXT, request TEXT, response TEXT, confidence {real},
            approval TEXT, latency_ms {real}, cost {real}, error TEXT, auto_rules TEXT, context TEXT,
            status_code INTEGER, key_id TEXT)""",
        "CREATE INDEX calls_received ON calls (received_at)",
        "CREATE INDEX calls_task ON calls (task_type, received_at)",
        f"""CREATE TABLE feedback (
            seq {_auto_pk(d)}, id TEXT NOT NULL UNIQUE, call_id TEXT NOT NULL, message_index INTEGER,
            thumbs TEXT, note TEXT, rewrite TEXT, received_at TEXT NOT NULL, key_id TEXT)""",
        "CREATE INDEX feedback_call ON feedback (call_id)",
        f"CREATE TABLE changes (seq {_auto_pk(d)}, call_id TEXT NOT NULL, op TEXT NOT NULL)",
        """CREATE TABLE idempotency (
            key_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL,
            response TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (key_id, idem_key))""",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, secret_hash TEXT NOT NULL,
            created_at TEXT NOT NULL, revoked_at TEXT)""",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL, command TEXT NOT NULL,
            status TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
            returncode INTEGER, log TEXT NOT NULL, result TEXT)""",
        """CREATE TABLE training_refs (
            call_id TEXT NOT NULL, dataset TEXT NOT NULL, ref TEXT, created_at TEXT NOT NULL,
            PRIMARY KEY (call_id, dataset))""",
    ]


# MIGRATIONS[n]: schema version n -> n+1. Append only; never edit a released entry.
MIGRATIONS: list[Callable[[str], list[str]]] = [_migration_1]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """A store that cannot be opened or used (bad URL, newer schema, missing driver)."""


class Conflict(ValueError):
    """A write that contradicts what is stored (an id logged twice, an idempotency key reused for another body)."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def resolve_url(configured: str | None, default: str = "data/serve/logtune.db") -> str:
    """The store URL: `LOGTUNE_DB_URL`, else the configured one (params `serve.db_url`), else the default path."""
    return os.environ.get(ENV_URL) or configured or default


def dialect_of(url: str) -> str:
    return "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url)


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def connect(url: str, *, readonly: bool = False):
    """A DB-API connection to the store (SQLite pragmas set: WAL, synchronous=FULL, busy timeout)."""
    if dialect_of(url) == "postgres":
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - psycopg is a dependency
            raise StoreError("PostgreSQL store needs psycopg (pip install 'psycopg[binary]')") from e
        try:
            return psycopg.connect(url)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to {redact_url(url)}: {e}") from None
    path = sqlite_path(url)
    if readonly:
        if not path.is_file():
            raise StoreError(f"{path}: no such store")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged write survives a power cut too,
        # not only a killed process. Group commit pays that fsync once per group.
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Store:
    """A store URL with its dialect; read helpers open one connection per thread."""

    def __init__(self, url: str):
        self.url = url
        self.dialect = dialect_of(url)
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connections and SQL
    def sql(self, text: str) -> str:
        """SQL written with `?` placeholders, in this dialect's paramstyle."""
        return text.replace("?", "%s") if self.dialect == "postgres" else text

    def connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.url)
            if self.dialect == "postgres":
                conn.autocommit = True
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def query(self, text: str, args: Sequence[Any] = ()) -> list[tuple]:
        conn = self.connection()
        cur = conn.cursor()
        cur.execute(self.sql(text), tuple(args))
        rows = cur.fetchall()
        cur.close()
        return rows

    def query_dicts(self, text: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self.connection()
        cur = conn.cursor()
        cur.execute(self.sql(text), tuple(args))
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        cur.close()
        return rows

    def transaction(self, fn: Callable[[Any], Any]) -> Any:
        """Run `fn(cursor)` in one transaction on this thread's connection (for admin writes off the hot path)."""
        conn = self.connection()
        cur = conn.cursor()
        if self.dialect == "postgres":
            with conn.transaction():
                return fn(Cursor(self, cur))
        cur.execute("BEGIN IMMEDIATE")
        try:
            out = fn(Cursor(self, cur))
            cur.execute("COMMIT")
            return out
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing on shutdown, nothing to do about it
                    pass
            self._conns.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        try:
            return int(self.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0])
        except Exception:  # noqa: BLE001 - no table yet: version 0 (sqlite3 and psycopg raise different types;
            return 0        # the read connection is in autocommit mode on PostgreSQL, so nothing is left aborted)

    def migrate(self) -> int:
        """Apply the missing migrations; return the schema version. A newer store than this code is an error."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{redact_url(self.url)} has schema version {version}; this logtune knows up to "
                             f"{SCHEMA_VERSION}: upgrade logtune")
        if version == 0:
            self.transaction(lambda c: c.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)"))
        for n in range(version, SCHEMA_VERSION):
            def apply(c, n=n):
                if self.dialect == "postgres":
                    c.execute("SELECT pg_advisory_xact_lock(?)", (PG_LOCK,))
                    if c.execute("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", (n + 1,)).fetchone()[0]:
                        return   # another instance migrated meanwhile
                for statement in MIGRATIONS[n](self.dialect):
                    c.execute(statement)
                c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                          (n + 1, MIGRATIONS[n].__name__, now_iso()))
            self.transaction(apply)
        return SCHEMA_VERSION

    def ready(self) -> dict[str, Any]:
        """Readiness: the store answers a query and is at this code's schema version."""
        version = self.schema_version()
        return {"store": self.dialect, "schema_version": version, "ok": version == SCHEMA_VERSION}

    def checkpoint(self) -> None:
        """Move SQLite's WAL into the main file (so a copy of the .db file alone holds every committed row)."""
        if self.dialect == "sqlite":
            self.query("PRAGMA wal_checkpoint(TRUNCATE)")

    # ------------------------------------------------------------------ reads
    def max_change(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(seq), 0) FROM changes")[0][0])

    def changed_calls(self, after: int, upto: int) -> list[tuple[str, str]]:
        """(call_id, last op) for every call changed in (after, upto], in order of its last change."""
        rows = self.query("SELECT call_id, op, seq FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq", (after, upto))
        last: dict[str, tuple[str, int]] = {}
        for call_id, op, seq in rows:
            last.pop(call_id, None)
            last[call_id] = (op, seq)
        return [(cid, op) for cid, (op, _) in last.items()]

    def calls_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.query_dicts(f"SELECT * FROM calls WHERE id IN ({marks})", chunk):
                out[row["id"]] = row
        return out

    def feedback_for(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.query_dicts(f"SELECT * FROM feedback WHERE call_id IN ({marks}) ORDER BY seq", chunk):
                out.setdefault(row["call_id"], []).append(row)
        return out

    def iter_calls(self, since: str | None = None, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Every call (received at or after `since`, ISO text), in seq order, with a `feedback` list; bounded memory."""
        last = 0
        while True:
            where, args = "seq > ?", [last]
            if since:
                where += " AND received_at >= ?"
                args.append(since)
            rows = self.query_dicts(f"SELECT * FROM calls WHERE {where} ORDER BY seq LIMIT {int(batch)}", args)
            if not rows:
                return
            feedback = self.feedback_for([r["id"] for r in rows])
            for row in rows:
                row["feedback"] = feedback.get(row["id"], [])
                yield row
            last = rows[-1]["seq"]


class Cursor:
    """A DB-API cursor speaking `?` placeholders on both engines (`execute` returns the cursor)."""

    def __init__(self, store: Store, cur: Any):
        self.store, self.cur = store, cur

    def execute(self, text: str, args: Sequence[Any] = ()) -> Any:
        self.cur.execute(self.store.sql(text), tuple(args))
        return self.cur

    def record_change(self, call_id: str, op: str) -> None:
        if self.store.dialect == "postgres":
            self.execute("SELECT pg_advisory_xact_lock(?)", (PG_LOCK,))
        self.execute("INSERT INTO changes (call_id, op) VALUES (?, ?)", (call_id, op))

    def is_unique_violation(self, exc: BaseException) -> bool:
        if isinstance(exc, sqlite3.IntegrityError):
            return "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc)
        return type(exc).__name__ == "UniqueViolation"


def dumps(obj: Any) -> str | None:
    return None if obj is None else json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
