"""Retention: delete logged calls older than N days (per task type if wanted), never a referenced one unsaid.

A call is due when it was received before its task type's cutoff (`retention.by_task_type`, else
`retention.days`; null keeps it forever). A due call that a training set references (`training_refs`,
recorded by `hold_training_set` when a training run's set is kept, or by `logtune retention --hold`) is
held: reported and kept, unless `include_held` is asked for, and then the report says how many referenced
rows went. Deleting a call deletes its feedback and appends a `delete` change, so the next export drops
it too. Old idempotency records (older than the longest retry window a client would use, 7 days) go as well.
The same `plan` backs `logtune retention --dry-run`, the background pass and `/api/retention`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from logtune.ids import conversation_id
from logtune.serve.config import RetentionParams
from logtune.store import Store, now_iso

IDEMPOTENCY_DAYS = 7


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def rules(p: RetentionParams, now: datetime) -> list[tuple[str | None, list[str], str]]:
    """(task type or None for the rest, task types excluded from the rest, cutoff ISO text) per rule."""
    out: list[tuple[str | None, list[str], str]] = []
    specific = sorted(p.by_task_type)
    for task in specific:
        out.append((task, [], _iso(now - timedelta(days=float(p.by_task_type[task])))))
    if p.days is not None:
        out.append((None, specific, _iso(now - timedelta(days=float(p.days)))))
    return out


def _where(task: str | None, excluded: list[str], cutoff: str) -> tuple[str, list[Any]]:
    if task is not None:
        return "task_type = ? AND received_at < ?", [task, cutoff]
    if excluded:
        return f"task_type NOT IN ({','.join('?' * len(excluded))}) AND received_at < ?", [*excluded, cutoff]
    return "received_at < ?", [cutoff]


HELD = "id IN (SELECT call_id FROM training_refs)"


def plan(store: Store, p: RetentionParams, now: datetime | None = None) -> dict[str, Any]:
    """What a retention pass would do: due, held (referenced by a training set) and deletable calls per rule."""
    now = now or datetime.now(timezone.utc)
    out = []
    for task, excluded, cutoff in rules(p, now):
        where, args = _where(task, excluded, cutoff)
        due = store.query(f"SELECT COUNT(*) FROM calls WHERE {where}", args)[0][0]
        held = store.query(f"SELECT COUNT(*) FROM calls WHERE {where} AND {HELD}", args)[0][0]
        out.append({"task_type": task or "*", "cutoff": cutoff, "due": int(due), "held": int(held),
                    "delete": int(due) - int(held)})
    return {"now": _iso(now), "rules": out, "due": sum(r["due"] for r in out), "held": sum(r["held"] for r in out),
            "delete": sum(r["delete"] for r in out)}


def apply(store: Store, p: RetentionParams, *, include_held: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Delete what `plan` says (in batches of `p.batch_size`); returns the plan with what was deleted."""
    now = now or datetime.now(timezone.utc)
    report = plan(store, p, now)
    deleted = deleted_held = 0
    for task, excluded, cutoff in rules(p, now):
        where, args = _where(task, excluded, cutoff)
        if not include_held:
            where += f" AND NOT {HELD}"
        while True:
            ids = [r[0] for r in store.query(f"SELECT id FROM calls WHERE {where} ORDER BY seq LIMIT {int(p.batch_size)}",
                                             args)]
            if not ids:
                break
            held = store.query(f"SELECT COUNT(*) FROM training_refs WHERE call_id IN ({','.join('?' * len(ids))})", ids)
            deleted_held += int(held[0][0])

            def delete(c, ids=ids):
                marks = ",".join("?" * len(ids))
                c.execute(f"DELETE FROM feedback WHERE call_id IN ({marks})", ids)
                c.execute(f"DELETE FROM calls WHERE id IN ({marks})", ids)
                for cid in ids:
                    c.record_change(cid, "delete")
            store.transaction(delete)
            deleted += len(ids)
    cutoff = _iso(now - timedelta(days=IDEMPOTENCY_DAYS))
    store.transaction(lambda c: c.execute("DELETE FROM idempotency WHERE created_at < ?", (cutoff,)))
    report.update(deleted=deleted, deleted_referenced=deleted_held, include_held=include_held)
    return report


def hold_training_set(store: Store, train_dir: str | Path, source_names: Iterable[str], dataset: str,
                      ref: str | None = None) -> int:
    """Record which stored calls the training set in `train_dir` was built from (its records' conversation_id).

    A call's conversation id is `conversation_id(<source name>, <call id>)` for the serve_store source(s)
    that exported it. Returns how many calls are now referenced by `dataset`.
    """
    import pyarrow.parquet as pq

    wanted: set[str] = set()
    for f in sorted(Path(train_dir).glob("*.parquet")):
        if "conversation_id" in pq.read_schema(f).names:
            wanted.update(v for v in pq.read_table(f, columns=["conversation_id"]).column(0).to_pylist() if v)
    names = list(source_names)
    hits: list[str] = []
    for (call_id,) in store.query("SELECT id FROM calls"):
        if any(conversation_id(n, call_id) in wanted for n in names):
            hits.append(call_id)
    stamp = now_iso()

    def record(c):
        c.execute("DELETE FROM training_refs WHERE dataset = ?", (dataset,))
        for cid in hits:
            c.execute("INSERT INTO training_refs (call_id, dataset, ref, created_at) VALUES (?, ?, ?, ?)",
                      (cid, dataset, ref, stamp))
    store.transaction(record)
    return len(hits)
