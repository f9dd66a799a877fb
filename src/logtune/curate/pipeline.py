"""Curation of exported conversations: every session leaves kept, or rejected with its reason.

Order, first reason wins: the session filters (`sessions.SESSION_FILTERS`: broken sessions, then
the params filters task_types / min_confidence / exclude_rejected), the auto-rules file
(`logtune.rules`, reason `auto_rule:<name>`) and exact golden-set overlap look at the text as
logged; then every session, kept or rejected, is PII-redacted (rejects are written out too and must
not leak what training data may not hold); then, among the survivors, on redacted text: near
golden overlap (when `golden_near_threshold` is set), exact duplicates (copies differing only in a
redacted value count as the same), near-duplicates (when `near_duplicate_threshold` is set), and
last the judge's data-quality score of every reply (when `judge_min_quality` is set: `quality`). A
duplicate is rejected but its feedback is not: the kept copy holds every copy's ratings, notes and
rewrites (`dedup`, `logtune.feedback`), counted in the metrics' `merged_feedback`.
Invariant, asserted before the metrics are returned: read = kept + rejected.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from logtune import records
from logtune.feedback import MERGE_COUNTS
from logtune.engine import RuntimeParams, map_files, map_rows
from logtune.runtime import no_cyclic_gc
from logtune.spill import Progress, Shards, SortedSpill
from logtune.golden.overlap import golden_conversation_keys, golden_near_overlaps, golden_overlap
from logtune.curate.dedup import context_salt, split_duplicates, split_near_duplicates
from logtune.curate.dedup_spill import SEQ, dedup_spilled
from logtune.curate.quality import REASONS as JUDGE_REASONS, judge_sessions
from logtune.judge.core import Judge
from logtune.normalize import normalize_context, normalize_text
from logtune.curate.redact import redact_conversation
from logtune.pii import PiiParams
from logtune.curate.sessions import SESSION_FILTERS, first_reject
from logtune.rejects import Reject, rejected_row
from logtune.io import read_rows
from logtune.rules import REASON_PREFIX, Rules

# Every reason this stage can give, so metrics list zeros too and `dvc metrics diff` stays aligned
# (plus `auto_rule:<name>` for each reject rule of the rules file in use).
REASONS = [f.__name__ for f in SESSION_FILTERS] + ["golden_overlap", "golden_near_overlap", "exact_duplicate",
                                                   "near_duplicate"] + JUDGE_REASONS


@dataclass(frozen=True)
class CurateParams:
    drop_statuses: tuple[str, ...] = ("error",)
    min_confidence: float | None = None
    exclude_rejected: bool = True
    task_types: tuple[str, ...] | None = None        # None: every task type
    rules: str | None = None                          # auto-rules YAML path; None: no auto-rules
    near_duplicate_threshold: float | None = None     # None: exact duplicates only
    golden_near_threshold: float | None = None        # None: exact golden overlap only
    pii: PiiParams = PiiParams()                      # phone regions; names/addresses engine (off)
    judge_min_quality: float | None = None            # None: no judge filter; else the `judge` section's judge scores
                                                      # every reply and a session whose worst is below this leaves

    def __post_init__(self) -> None:
        for name in ("near_duplicate_threshold", "golden_near_threshold", "min_confidence", "judge_min_quality"):
            t = getattr(self, name)
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1
                                  or (t == 0 and name not in ("min_confidence", "judge_min_quality"))):
                raise ValueError(f"curate.{name} must be in (0, 1] or null, got {t!r}")
        if not isinstance(self.exclude_rejected, bool):
            raise ValueError(f"curate.exclude_rejected must be true or false, got {self.exclude_rejected!r}")


@dataclass
class Curated:
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)   # records.REJECTED rows
    metrics: dict[str, Any] = field(default_factory=dict)


def exported_files(directory: str | Path) -> list[Path]:
    """Every *.parquet in `directory`, in name order (FileNotFoundError when there is none)."""
    files = sorted(Path(directory).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{directory}: no *.parquet files to curate")
    return files


def read_exported(directory: str | Path) -> list[dict[str, Any]]:
    """Every conversation of every *.parquet in `directory`, files in name order."""
    return [row for f in exported_files(directory) for row in read_rows(f)]


def auto_rule(conversation: dict[str, Any], rules: Rules) -> Reject | None:
    """The rules file's verdict (`logtune.rules`): a reject rule that matches names the reason."""
    keep, name = rules.decide(conversation)
    return None if keep else Reject(REASON_PREFIX + name, f"auto-rule {name} matched")


def curate(conversations: Iterable[dict[str, Any]], params: CurateParams, golden: list[dict[str, Any]],
           rules: Rules | None = None, judge: Judge | None = None) -> Curated:
    """Filter, decontaminate, redact, deduplicate and (with `judge_min_quality`) judge; kept and rejected both
    sorted by id (in memory). `judge`: the `judge` section's judge (`logtune.judge.core.load_judge`), needed only then."""
    out = Curated()
    with no_cyclic_gc():
        out.metrics = curate_into({"kept": out.kept.append, "rejected": out.rejected.append},
                                  lambda fn, state: map_rows(fn, state, conversations), params, golden,
                                  rules or Rules(), Partitions(), judge)
    out.kept.sort(key=KEPT_ORDER)
    out.rejected.sort(key=REJECTED_ORDER)
    out.kept = [{k: v for k, v in row.items() if k != SEQ} for row in out.kept]
    for row in out.rejected:
        del row[SEQ]
    return out


SALT = "_salt"   # working columns: SEQ the input position, SALT the CONTEXT key (`dedup.context_salt`)


def KEPT_ORDER(row: dict[str, Any]) -> tuple:
    return row["id"], row[SEQ]


def REJECTED_ORDER(row: dict[str, Any]) -> tuple:
    return row["id"], row["reason"], row[SEQ]


def PARTITION_ORDER(row: dict[str, Any]) -> tuple:
    return row[SALT], row[SEQ]


class Partitions:
    """Survivors grouped by CONTEXT key, in memory (`grouped`). `curate_files` uses a
    `logtune.spill.SortedSpill` on PARTITION_ORDER instead: the same groups, from disk, a group of more than
    `runtime.spill_rows` sessions deduplicated out of core (`dedup_large`)."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def groups(self) -> Iterator[list[dict[str, Any]]]:
        rows, self._rows = self._rows, []
        rows.sort(key=PARTITION_ORDER)
        return grouped(rows)


class LargeGroup:
    """The rows of one CONTEXT-key run too long to hold (`grouped`'s `large_rows`), in PARTITION_ORDER, read once."""

    def __init__(self, rows: Iterator[dict[str, Any]]):
        self.rows = rows


def grouped(rows: Iterable[dict[str, Any]], chunk_rows: int = 20_000, large_rows: int | None = None
            ) -> Iterator[list[dict[str, Any]] | LargeGroup]:
    """Rows in PARTITION_ORDER as lists of whole CONTEXT-key runs, each list about `chunk_rows` rows (one
    longer run alone). Deduplicating a list of whole runs decides as each run alone would, so lists
    spare the per-call cost of thousands of one-session groups. A run of more than `large_rows` rows
    (None: no bound) comes as a `LargeGroup` instead, to be read through before the next group."""
    chunk: list[dict[str, Any]] = []
    for _, run in itertools.groupby(rows, key=lambda r: r[SALT]):
        head = list(run if large_rows is None else itertools.islice(run, large_rows + 1))
        if large_rows is not None and len(head) > large_rows:
            if chunk:
                yield chunk
                chunk = []
            yield LargeGroup(itertools.chain(head, run))
            continue
        if chunk and len(chunk) + len(head) > chunk_rows:
            yield chunk
            chunk = []
        chunk += head
    if chunk:
        yield chunk


def screen_batch(conversations: list[dict[str, Any]], state: dict[str, Any]) -> list[tuple]:
    """The per-session steps of one batch (filters, auto-rules, golden overlap, redaction, near golden
    overlap): per conversation (row, Reject or None, redacted kinds), the row a redacted copy, tagged
    with its CONTEXT key (SALT) when it survives. Runs in a worker (process or Ray task)."""
    params: CurateParams = state["params"]
    rules: Rules = state["rules"]
    golden_keys = state["golden_keys"]
    out: list[list] = []
    survivors: list[int] = []
    for n, conv in enumerate(conversations):
        reject = first_reject(conv, params) or auto_rule(conv, rules) or golden_overlap(conv, golden_keys)
        conv, kinds = redact_conversation(conv, params.pii)
        conv = dict(conv)   # tagged below and by the caller: never the caller's own dict
        if reject is None:
            survivors.append(n)
        out.append([conv, reject, kinds])
    if params.golden_near_threshold is not None and survivors:
        rows = [out[n][0] for n in survivors]
        near = golden_near_overlaps(rows, state["golden"], params.golden_near_threshold)
        for i, r in near.items():
            out[survivors[i]][1] = r
    for item in out:
        if item[1] is None:   # valid: broken_context passed it
            item[0][SALT] = context_salt(normalize_context(item[0].get("context")))
    return [tuple(item) for item in out]


def dedup_group(group: list[dict[str, Any]], params: CurateParams, merged: dict[str, int]
                ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]:
    """Exact, then near, duplicates among survivors: whole CONTEXT-key runs, each in input order.

    Both compare only sessions under the same normalized CONTEXT (the exact key holds it; near
    candidates under another are skipped), so deduplicating each group alone decides as one pass
    over all survivors would: the same kept copies, rejects and merged feedback."""
    contexts = [normalize_context(c.get("context")) for c in group]
    texts = [[normalize_text(m.get("content")) for m in c.get("messages") or []] for c in group]
    kept, rejects = split_duplicates(group, contexts, texts, merged)
    if params.near_duplicate_threshold is not None:
        dropped_ids = {id(c) for c, _ in rejects}
        keep = [i for i, c in enumerate(group) if id(c) not in dropped_ids]
        kept, near = split_near_duplicates(kept, params.near_duplicate_threshold,
                                           [contexts[i] for i in keep], [texts[i] for i in keep], merged)
        rejects += near
    return kept, rejects


def deduplicated(partitions: Any, params: CurateParams, merged: dict[str, int]
                 ) -> Iterator[tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]]:
    """(kept, rejects) of each of `partitions.groups()`: `dedup_group` of a list of runs; a `LargeGroup` through
    `partitions.dedup_large(rows, params, merged)` (out of core, the same decisions), in pieces."""
    for group in partitions.groups():
        if isinstance(group, LargeGroup):
            yield from partitions.dedup_large((_without_salt(c) for c in group.rows), params, merged)
            continue
        for c in group:
            del c[SALT]
        yield dedup_group(group, params, merged)


def _without_salt(row: dict[str, Any]) -> dict[str, Any]:
    del row[SALT]
    return row


def curate_into(sinks: dict[str, Callable[[dict[str, Any]], None]], mapper: Callable[[Callable, dict], Iterable],
                params: CurateParams, golden: list[dict[str, Any]], rules: Rules, partitions: Any,
                judge: Judge | None = None, shards: Shards | None = None) -> dict[str, Any]:
    """Curate batches of conversations, handing kept rows to `sinks["kept"]` and records.REJECTED rows to
    `sinks["rejected"]` (each with its input position SEQ, for KEPT_ORDER / REJECTED_ORDER); return the metrics.

    The per-session steps run on each batch alone (`screen_batch`, through `mapper(fn, state)`: results in
    input order, e.g. `runtime.map_files`); survivors go
    to `partitions` (`add(row)`, then `groups()`: lists of rows of one CONTEXT key in input order, or a
    `LargeGroup` that `partitions.dedup_large` deduplicates out of core), and each group is deduplicated
    alone (`deduplicated`), then (with `judge_min_quality`) judged by its worst reply
    (`curate.quality.judge_sessions`), after redaction and dedup so an API judge never sees PII.
    Memory: the batches in flight plus one list of groups (a `LargeGroup`: see `curate.dedup_spill`). With
    `shards` (the input files): the metrics' `shards` hold read = kept + rejected by reason for each file too.
    """
    if params.judge_min_quality is not None and judge is None:
        raise ValueError("curate.judge_min_quality is set but no judge was given")
    judged: dict[str, Any] | None = None
    state = {"params": params, "rules": rules, "golden": golden, "golden_keys": golden_conversation_keys(golden)}
    redacted_by_kind: Counter = Counter()
    by_reason = Counter({reason: 0 for reason in REASONS + rules.reject_reasons})
    conversations_redacted = read = kept = 0

    def reject(conv: dict[str, Any], r: Reject) -> None:
        by_reason[r.reason] += 1
        if shards is not None:
            shards.count(conv[SEQ], r.reason)
        conv.pop(SALT, None)
        row = rejected_row(conv.get("id"), "curate", r, {k: v for k, v in conv.items() if k != SEQ})
        row[SEQ] = conv[SEQ]
        sinks["rejected"](row)

    for results in mapper(screen_batch, state):
        for conv, r, kinds in results:
            conv[SEQ] = read
            if shards is not None:
                shards.count(read, "read")
            read += 1
            if kinds:
                redacted_by_kind.update(kinds)
                conversations_redacted += 1
            if r is None:
                partitions.add(conv)
            else:
                reject(conv, r)
    merged: dict[str, int] = {k: 0 for k in MERGE_COUNTS}
    for group_kept, rejects in deduplicated(partitions, params, merged):   # rows keep SEQ (merged copies too)
        if params.judge_min_quality is not None:
            low, stats = judge_sessions(group_kept, judge, params.judge_min_quality)
            rejects += [(group_kept[i], r) for i, r in sorted(low.items())]
            group_kept = [c for i, c in enumerate(group_kept) if i not in low]
            judged = stats if judged is None else {k: judged[k] + v if k.startswith(("sessions_", "replies_")) else v
                                                   for k, v in stats.items()}
        for c in group_kept:
            kept += 1
            if shards is not None:
                shards.count(c[SEQ], "kept")
            sinks["kept"](c)
        for c, r in rejects:
            reject(c, r)
    rejected = sum(by_reason.values())
    assert read == kept + rejected, "curate lost or invented a record"
    metrics = {"read": read, "kept": kept, "rejected": rejected,
            "rejected_by_reason": dict(sorted(by_reason.items())),
            "redacted_by_kind": dict(sorted(redacted_by_kind.items())),
            "conversations_redacted": conversations_redacted,
            "merged_feedback": dict(sorted(merged.items())),
            "judge_quality": judged if params.judge_min_quality is None or judged is not None
            else {"judge": judge.name, "stand_in": judge.stand_in, "min_quality": params.judge_min_quality,
                  "sessions_scored": 0, "sessions_unscored": 0, "replies_scored": 0, "replies_unparsed": 0,
                  "replies_below": 0}}
    if shards is not None:
        metrics["shards"] = shards.ledgers(lambda name, c: shard_ledger(name, c, by_reason))
    return metrics


def shard_ledger(name: str, counts: Counter, reasons: Iterable[str]) -> dict[str, Any]:
    """One input file's read = kept + rejected by reason (`curate_into`'s `shards` counts)."""
    by_reason = {reason: counts.get(reason, 0) for reason in sorted(reasons)}
    out = {"read": counts["read"], "kept": counts["kept"], "rejected": sum(by_reason.values()),
           "rejected_by_reason": by_reason}
    if out["read"] != out["kept"] + out["rejected"]:
        raise AssertionError(f"curate {name}: read {out['read']} != kept {out['kept']} + rejected {out['rejected']}")
    return out


def curate_files(files: list[Path], out_dir: str | Path, params: CurateParams, golden: list[dict[str, Any]],
                 rules: Rules | None = None, runtime: RuntimeParams = RuntimeParams(),
                 judge: Judge | None = None) -> dict[str, Any]:
    """The curate stage in bounded memory: stream the exported `files` in batches over `runtime.workers`
    processes, group the survivors by CONTEXT on disk, write `<out_dir>/conversations.parquet` and
    `rejected.parquet` (`logtune.spill`), return the metrics. The same bytes as writing `curate(...)`'s
    lists, whatever the workers and batch size. Memory: the batches in flight, the sort buffers
    (`runtime.spill_rows` rows each) and the survivors of at most `runtime.spill_rows` sessions under one
    CONTEXT (exact and near duplicates are only looked for within one); a larger CONTEXT group (e.g. every
    session of a log without CONTEXTs) is deduplicated out of core (`curate.dedup_spill`: one byte per
    session of the group in memory, rows, signatures and band buckets on disk; with `runtime.engine: ray`
    the band-bucket shuffle runs on the cluster)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress("curate")
    seq = pa.field(SEQ, pa.int64())
    common = dict(run_rows=runtime.spill_rows, tmp_dir=out_dir.parent)
    kept = SortedSpill(out_dir / "conversations.parquet", records.CONVERSATION, KEPT_ORDER, extra=(seq,), **common)
    rejected = SortedSpill(out_dir / "rejected.parquet", records.REJECTED, REJECTED_ORDER, extra=(seq,), **common)
    survivors = SortedSpill(None, records.CONVERSATION, PARTITION_ORDER, extra=(seq, pa.field(SALT, pa.uint64())),
                            **common)

    class OnDisk:
        add = survivors.add

        @staticmethod
        def groups() -> Iterator[list[dict[str, Any]] | LargeGroup]:
            return grouped(survivors.merged(), large_rows=runtime.spill_rows)

        @staticmethod
        def dedup_large(rows: Iterator[dict[str, Any]], params: CurateParams, merged: dict[str, int]) -> Iterator:
            return dedup_spilled(rows, params.near_duplicate_threshold, merged, runtime, out_dir.parent)

    try:
        with no_cyclic_gc():
            metrics = curate_into({"kept": kept.add, "rejected": rejected.add},
                                  lambda fn, state: map_files(fn, state, files, runtime, progress), params, golden,
                                  rules or Rules(), OnDisk(), judge, Shards(files))
            progress.done()
            kept.finish()
            rejected.finish()
    finally:
        for spill in (kept, rejected, survivors):
            spill.close()
    return metrics
