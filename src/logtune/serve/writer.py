"""Group commit: one writer thread committing queued writes together, each acknowledged after its commit.

Every write queued while the previous commit was running is committed in the next group (one fsync for
the group), and a request is acknowledged only after its group committed: acknowledged = durable. A failed
write (a duplicate id, say) rolls back to its own savepoint and fails alone. Not for reads (`logtune.store`).
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

from logtune.store import Cursor, Store, StoreError, connect


@dataclass
class _Op:
    fn: Callable[[Cursor], Any]
    done: Callable[[Any, BaseException | None], None]


class GroupCommitWriter:
    """One writer thread committing queued writes in groups; each write's callback runs after its group commits.

    `submit(fn, done)` queues `fn(cursor)`; the thread takes everything queued (up to `max_batch`), runs
    each op under its own savepoint (a failing op rolls back alone and gets its exception), commits once,
    and then calls each `done(result, error)`. A request handler awaits that callback: acknowledged means
    committed. If the commit itself fails every op of the group gets the error.
    """

    def __init__(self, store: Store, max_batch: int = 256, max_wait_s: float = 0.0, sqlite_synchronous: str = "FULL"):
        if sqlite_synchronous.upper() not in ("FULL", "NORMAL"):
            raise ValueError(f"sqlite_synchronous must be FULL or NORMAL, got {sqlite_synchronous!r}")
        self.sqlite_synchronous = sqlite_synchronous.upper()
        self.store = store
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s   # extra wait for a fuller group; 0: groups form from what queued meanwhile
        self._queue: queue.Queue[_Op | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="logtune-group-commit", daemon=True)
        self._conn = None
        self._stopping = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self.commits = 0
        self.writes = 0
        self._started = False

    def start(self) -> None:
        self._conn = connect(self.store.url)
        if self.store.dialect == "sqlite":
            # Checkpoints (WAL -> main file, with their own fsyncs) run on a separate connection and thread,
            # not inside a group's COMMIT, where they showed as latency spikes.
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn.execute(f"PRAGMA synchronous={self.sqlite_synchronous}")
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="logtune-checkpoint", daemon=True)
            self._checkpointer.start()
        self._started = True
        self._thread.start()

    def _checkpoint_loop(self, every_s: float = 1.0) -> None:
        conn = connect(self.store.url)
        try:
            while not self._stopping.wait(every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")   # never blocks the writer
                except Exception:  # noqa: BLE001 - a busy or failed checkpoint is retried next second
                    pass
        finally:
            conn.close()

    def submit(self, fn: Callable[[Cursor], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        if not self._started:
            raise StoreError("writer not started")
        self._queue.put(_Op(fn, done))

    def call(self, fn: Callable[[Cursor], Any], timeout: float = 60.0) -> Any:
        """Blocking submit (for threads, CLI and tests): the op's result once committed, or its exception."""
        fut: Future = Future()
        self.submit(fn, lambda result, error: fut.set_exception(error) if error else fut.set_result(result))
        return fut.result(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=30)
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._started = False
            if self._conn is not None:
                self._conn.close()

    def _take(self) -> tuple[list[_Op], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        ops, stop = [first], False
        deadline = time.monotonic() + self.max_wait_s
        while len(ops) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                op = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if op is None:
                stop = True
                break
            ops.append(op)
        return ops, stop

    def _run(self) -> None:
        pg = self.store.dialect == "postgres"
        while True:
            ops, stop = self._take()
            if ops:
                self._commit(ops, pg)
            if stop:
                return

    def _commit(self, ops: list[_Op], pg: bool) -> None:
        """Commit the group in one transaction; if an op fails, redo the group with a savepoint per op.

        The fast path (no op fails: the common case) costs two statements per op; the slow path isolates
        the failing op so the others still commit and only it gets its error.
        """
        results = self._transaction(ops, pg, isolate=False)
        if results is None:
            results = self._transaction(ops, pg, isolate=True)
        if isinstance(results, BaseException):
            for op in ops:
                op.done(None, StoreError(f"commit failed: {results}"))
            return
        self.commits += 1
        self.writes += len(ops)
        for op, (result, error) in zip(ops, results):
            op.done(result, error)

    def _transaction(self, ops: list[_Op], pg: bool, isolate: bool):
        """[(result, error)] per op once committed; None when an op failed and isolate is off (rolled back);
        the exception when the transaction itself failed."""
        conn = self._conn
        raw = conn.cursor()
        cur = Cursor(self.store, raw)
        results: list[tuple[Any, BaseException | None]] = []
        try:
            if not pg:
                raw.execute("BEGIN IMMEDIATE")
            for op in ops:
                if not isolate:
                    try:
                        results.append((op.fn(cur), None))
                    except Exception:  # noqa: BLE001 - redo the group with savepoints
                        conn.rollback() if pg else raw.execute("ROLLBACK")
                        return None
                    continue
                raw.execute("SAVEPOINT op")
                try:
                    results.append((op.fn(cur), None))
                    raw.execute("RELEASE SAVEPOINT op")
                except Exception as e:  # noqa: BLE001 - the op's own failure goes back to its caller
                    raw.execute("ROLLBACK TO SAVEPOINT op")
                    raw.execute("RELEASE SAVEPOINT op")
                    results.append((None, e))
            conn.commit() if pg else raw.execute("COMMIT")
            return results
        except BaseException as e:  # noqa: BLE001 - the group failed to commit: nobody is acknowledged
            try:
                conn.rollback() if pg else raw.execute("ROLLBACK")
            except Exception:  # noqa: BLE001
                pass
            return e
