"""Mix: split built records into train and held-out by session, then shape the train sets by a table.

The split is by conversation (session): a conversation's records all land on one side, chosen by a
sha256 of the seed and the conversation id, so a session keeps its side when the data grows and no
session is on both sides. The mix table (params `mix.table`, seed 002's data-mix table is the model)
then selects train records by source, record type, task type, provenance or build rule, each row
asking for a `count` or a `share` of the final set, with `oversample` = the most copies of one record
allowed to reach it. The first matching row wins; records no row selects are kept or dropped
(`unmatched`). Sampling is seeded; repeated copies get ids `<id>#2`, `<id>#3`, ... and the output is
sorted by id, so the same inputs and params give byte-identical files.

Records are handled as pyarrow tables, never re-shaped: the columns a built set has pass through with
the Parquet schema they were read with (an older set without a newer optional column stays as it was). Held-out records are not mixed
(an eval set keeps its natural distribution). Not for building records: that is `logtune.build`.

Every record read is checked against its set's JSON Schema first (`logtune.schema_check`, the files
build uses): one that breaks it (e.g. from a stage between build and mix, such as `rewrite`) reaches
neither side; it is dropped with reason `schema` and detail `set <name>: <field path>: <message>`.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from logtune import records
from logtune.params import ParamsError
from logtune.rejects import Reject, rejected_row
from logtune.schema_check import RecordCheck

SETS = ("sft", "preference", "kto")
OPTIONAL_SETS = ("kto",)   # built by a later build rule: older built folders have no kto.parquet
SELECTORS = ("source", "record_type", "task_type", "provenance", "rule")
DROP_REASONS = ("schema", "unmatched", "downsampled")
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
CONTRACTS = {"sft": "sft_example.v1.schema.json", "preference": "preference_pair.v1.schema.json",
             "kto": "kto_example.v1.schema.json"}
ANY = "*"


@dataclass(frozen=True)
class MixRow:
    """One row of the mix table: which train records it selects, and how many of them the set gets."""
    name: str | None = None             # the row's key in metrics/mix.json (default: its selectors)
    source: str | list[str] = ANY       # the conversation's source name (params.yaml: sources)
    record_type: str | list[str] = ANY
    task_type: str | list[str] = ANY
    provenance: str | list[str] = ANY
    rule: str | list[str] = ANY         # the build rule that made the record
    sets: list[str] | None = None       # which sets (sft, preference, kto) the row applies to; None: all
    count: int | None = None            # exactly this many rows (downsampled, or oversampled up to the cap)
    share: float | None = None          # this share of the final set
    oversample: int = 1                 # the most copies of one record allowed to reach the count/share


@dataclass(frozen=True)
class MixParams:
    seed: int = 0
    eval_share: float = 0.1             # share of sessions held out
    unmatched: str = "keep"             # keep | drop: records no table row selects
    per_task_type: bool = False         # also write <out>/<task_type>/<set>.parquet (seed 003)
    table: tuple[MixRow, ...] = ()      # empty: keep every train record once

    def __post_init__(self) -> None:
        check(self)


@dataclass
class Mixed:
    """One set after the split and the mix: tables to write, dropped rows with reasons, metrics."""
    train: pa.Table
    heldout: pa.Table
    dropped: list[dict[str, Any]] = field(default_factory=list)   # records.REJECTED rows
    metrics: dict[str, Any] = field(default_factory=dict)


def check(p: MixParams) -> None:
    """Fail at start on a table that cannot mean anything (ParamsError names the row)."""
    if not 0.0 <= p.eval_share < 1.0:
        raise ParamsError(f"params section 'mix': eval_share must be in [0, 1), got {p.eval_share}")
    if p.unmatched not in ("keep", "drop"):
        raise ParamsError(f"params section 'mix': unmatched must be keep or drop, got {p.unmatched!r}")
    for i, row in enumerate(p.table):
        where = f"params section 'mix.table[{i}]'"
        if (row.count is None) == (row.share is None):
            raise ParamsError(f"{where}: give exactly one of count and share")
        if row.count is not None and row.count < 0:
            raise ParamsError(f"{where}: count must be >= 0, got {row.count}")
        if row.share is not None and not 0.0 < row.share <= 1.0:
            raise ParamsError(f"{where}: share must be in (0, 1], got {row.share}")
        if row.oversample < 1:
            raise ParamsError(f"{where}: oversample must be >= 1 (1 = no repetition), got {row.oversample}")
        unknown = sorted(set(row.sets or ()) - set(SETS))
        if unknown:
            raise ParamsError(f"{where}: unknown set '{unknown[0]}' (sets: {', '.join(SETS)})")
    for name in SETS:
        total = sum(r.share for r in p.table if r.share is not None and applies(r, name))
        if total > 1.0 + 1e-9:
            raise ParamsError(f"params section 'mix.table': shares for set '{name}' add up to {total:g} > 1")


def applies(row: MixRow, set_name: str) -> bool:
    return row.sets is None or set_name in row.sets


def row_names(table: tuple[MixRow, ...]) -> list[str]:
    """Each row's key in the metrics: its name, or its non-'*' selectors; made unique by position."""
    names: list[str] = []
    for i, row in enumerate(table):
        name = row.name or ",".join(f"{s}={_text(getattr(row, s))}" for s in SELECTORS
                                    if getattr(row, s) != ANY) or ANY
        names.append(name if name not in names else f"{name}#{i}")
    return names


def _text(value: str | list[str]) -> str:
    return "|".join(value) if isinstance(value, list) else str(value)


def matches(row: MixRow, fields: dict[str, Any]) -> bool:
    for s in SELECTORS:
        want = getattr(row, s)
        if want == ANY:
            continue
        allowed = want if isinstance(want, list) else [want]
        if fields.get(s) not in allowed:
            return False
    return True


# ------------------------------------------------------------------------------------------ split

def heldout_bucket(seed: int, session: str) -> float:
    """A session's place in [0, 1): stable per (seed, session), independent of every other session."""
    digest = hashlib.sha256(f"{seed}\x1f{session}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def session_of(record_id: str, conversation_id: str | None) -> str:
    # A record made from no conversation (synthetic) is its own session.
    return conversation_id if conversation_id is not None else f"record:{record_id}"


def is_heldout(seed: int, eval_share: float, session: str) -> bool:
    return heldout_bucket(seed, session) < eval_share


# ------------------------------------------------------------------------------------------- mix

def _rng(seed: int, set_name: str, row: int) -> random.Random:
    # One generator per (set, row): editing one row never changes what another row samples.
    return random.Random(int(hashlib.sha256(f"{seed}\x1f{set_name}\x1f{row}".encode()).hexdigest()[:16], 16))


def sample(indices: list[int], n: int, rng: random.Random) -> list[tuple[int, int]]:
    """`n` picks from `indices` as (index, copy number): every record once per full pass, then a seeded
    subset without replacement, so no record has more than ceil(n / len(indices)) copies."""
    if n <= 0 or not indices:
        return []
    full, rest = divmod(n, len(indices))
    picks = [(i, c) for c in range(1, full + 1) for i in indices]
    picks += [(i, full + 1) for i in sorted(rng.sample(indices, rest))]
    return picks


def targets(p: MixParams, set_name: str, available: list[int], unmatched_kept: int) -> list[int]:
    """How many rows each table row gets in this set (0 for rows that do not apply).

    Count rows get their count (capped at available x oversample). Share rows share the final set:
    when other rows are fixed (counts, kept unmatched records) and shares leave room, the final size
    is fixed / (1 - shares); otherwise it is the largest size every share row can reach within its
    oversample cap, and shares are taken relative to each other.
    """
    rows = p.table
    out = [0] * len(rows)
    for i, row in enumerate(rows):
        if applies(row, set_name) and row.count is not None:
            out[i] = min(row.count, available[i] * row.oversample)
    share_rows = [i for i, r in enumerate(rows) if applies(r, set_name) and r.share is not None]
    if not share_rows:
        return out
    fixed = sum(out) + unmatched_kept
    total_share = sum(rows[i].share for i in share_rows)
    if fixed > 0 and total_share < 1.0 - 1e-9:
        final = fixed / (1.0 - total_share)
        for i in share_rows:
            out[i] = min(int(round(rows[i].share * final)), available[i] * rows[i].oversample)
        return out
    reachable = [available[i] * rows[i].oversample / (rows[i].share / total_share)
                 for i in share_rows if available[i] > 0]
    size = min(reachable) if reachable else 0.0
    for i in share_rows:
        out[i] = min(int(round(rows[i].share / total_share * size + 1e-9)), available[i] * rows[i].oversample)
    return out


def schema_problems(table: pa.Table, set_name: str, check: RecordCheck | None = None) -> dict[int, str]:
    """{row index: '<field path>: <message>'} for the rows of `table` that break the set's JSON Schema."""
    check = check or RecordCheck(SCHEMAS / CONTRACTS[set_name])
    problems = {}
    for i, row in enumerate(table.to_pylist()):
        problem = check(row)
        if problem is not None:
            problems[i] = problem
    return problems


def mix_set(table: pa.Table, set_name: str, p: MixParams, sources: dict[str, str],
            check: RecordCheck | None = None) -> Mixed:
    """Split one built set by session and mix its train side by the table; metrics add up or this raises.

    Rows breaking the set's JSON Schema (`check`, default: the set's file in schemas/) are dropped first.
    """
    ids = table.column("id").to_pylist()
    order = sorted(range(len(ids)), key=lambda i: ids[i] or "")   # input order never matters
    column = {c: (table.column(c).to_pylist() if c in table.column_names else [None] * len(ids))
              for c in ("conversation_id",) + SELECTORS if c != "source"}
    sessions = [session_of(ids[i], column["conversation_id"][i]) for i in range(len(ids))]
    invalid = schema_problems(table, set_name, check)
    heldout_idx, train_idx = [], []
    for i in order:
        if i in invalid:
            continue
        (heldout_idx if is_heldout(p.seed, p.eval_share, sessions[i]) else train_idx).append(i)

    def fields(i: int) -> dict[str, Any]:
        return {"source": sources.get(column["conversation_id"][i]),
                **{s: column[s][i] for s in SELECTORS if s != "source"}}

    groups: list[list[int]] = [[] for _ in p.table]
    unmatched: list[int] = []
    for i in train_idx:
        f = fields(i)
        row = next((k for k, r in enumerate(p.table) if applies(r, set_name) and matches(r, f)), None)
        (unmatched if row is None else groups[row]).append(i)
    kept_unmatched = unmatched if p.unmatched == "keep" else []
    wanted = targets(p, set_name, [len(g) for g in groups], len(kept_unmatched))

    picks = [(i, 1) for i in kept_unmatched]
    per_row = []
    for k, group in enumerate(groups):
        chosen = sample(group, wanted[k], _rng(p.seed, set_name, k))
        picks += chosen
        per_row.append(chosen)
    picks.sort(key=lambda pc: (ids[pc[0]], pc[1]))

    dropped = [(i, "schema") for i in invalid]
    dropped += [(i, "unmatched") for i in unmatched if p.unmatched == "drop"]
    for group, chosen in zip(groups, per_row):
        used = {i for i, _ in chosen}
        dropped += [(i, "downsampled") for i in group if i not in used]
    dropped.sort(key=lambda ir: (ids[ir[0]] or "", ir[0]))

    train = _take(table, picks, ids)
    heldout = table.take(pa.array(heldout_idx, pa.int64())) if heldout_idx else table.slice(0, 0)
    metrics = set_metrics(p, set_name, sessions, ids, train_idx, heldout_idx, groups, per_row, wanted,
                          unmatched, picks, dropped, column["provenance"])
    rejected = [rejected_row(ids[i], "mix",
                             Reject(reason, f"set {set_name}: {invalid[i]}" if reason == "schema" else f"set {set_name}"),
                             table.slice(i, 1).to_pylist()[0]) for i, reason in dropped]
    return Mixed(train=train, heldout=heldout, dropped=rejected, metrics=metrics)


def _take(table: pa.Table, picks: list[tuple[int, int]], ids: list[str]) -> pa.Table:
    if not picks:
        return table.slice(0, 0)
    out = table.take(pa.array([i for i, _ in picks], pa.int64()))
    new_ids = pa.array([ids[i] if c == 1 else f"{ids[i]}#{c}" for i, c in picks],
                       table.schema.field("id").type)
    return out.set_column(out.schema.get_field_index("id"), table.schema.field("id"), new_ids)


def set_metrics(p: MixParams, set_name: str, sessions: list[str], ids: list[str], train_idx: list[int],
                heldout_idx: list[int], groups: list[list[int]], per_row: list[list[tuple[int, int]]],
                wanted: list[int], unmatched: list[int], picks: list[tuple[int, int]],
                dropped: list[tuple[int, str]], provenance: list[Any]) -> dict[str, Any]:
    train_rows = len(picks)
    train_unique = len({i for i, _ in picks})
    by_reason = Counter({r: 0 for r in DROP_REASONS})
    by_reason.update(reason for _, reason in dropped)
    read = len(ids)
    # The ledger counts records before oversampling: each record read is held out, trained on, or dropped.
    if read != train_unique + len(heldout_idx) + sum(by_reason.values()):
        raise AssertionError(f"mix {set_name}: read {read} != train {train_unique} + heldout "
                             f"{len(heldout_idx)} + dropped {sum(by_reason.values())}")
    rows = {}
    for k, (name, row) in enumerate(zip(row_names(p.table), p.table)):
        if not applies(row, set_name):
            continue
        achieved = len(per_row[k])
        requested = {"count": row.count} if row.count is not None else {"share": row.share}
        rows[name] = {
            "requested": requested, "available": len(groups[k]), "target": wanted[k],
            "achieved_count": achieved,
            "achieved_share": round(achieved / train_rows, 4) if train_rows else 0.0,
            "selected_records": len({i for i, _ in per_row[k]}),
            "oversampled_copies": sum(1 for _, c in per_row[k] if c > 1),
            "oversample_cap": row.oversample,
            "max_copies": max((c for _, c in per_row[k]), default=0),
            "shortfall": max(0, (row.count if row.count is not None else
                                 int(round(row.share * train_rows))) - achieved),
        }
    real = sum(1 for i, _ in picks if provenance[i] == "real")
    sessions_train = {sessions[i] for i in train_idx}
    sessions_heldout = {sessions[i] for i in heldout_idx}
    if sessions_train & sessions_heldout:
        raise AssertionError(f"mix {set_name}: sessions on both sides of the split")
    return {
        "read": read, "heldout": len(heldout_idx), "train_before_mix": len(train_idx),
        "train": train_rows, "train_records": train_unique,
        "oversampled_copies": train_rows - train_unique,
        "dropped": sum(by_reason.values()), "dropped_by_reason": dict(sorted(by_reason.items())),
        "unmatched": len(unmatched), "unmatched_kept": len(unmatched) if p.unmatched == "keep" else 0,
        "real_share": round(real / train_rows, 4) if train_rows else 0.0,
        "sessions_train": len(sessions_train), "sessions_heldout": len(sessions_heldout),
        "rows": rows,
    }


# -------------------------------------------------------------------------------------------- io

def known_schema(set_name: str) -> pa.Schema | None:
    """The contract of a set, for a set whose file is missing (KTO_EXAMPLE may not exist yet)."""
    return {"sft": records.SFT_EXAMPLE, "preference": records.PREFERENCE_PAIR,
            "kto": getattr(records, "KTO_EXAMPLE", None)}[set_name]


def read_set(built: Path, set_name: str) -> pa.Table | None:
    """A built set as read (its own schema); an optional set's missing file is an empty table (None if
    its contract is unknown too); a missing required set is an error, not an empty training set."""
    path = Path(built) / f"{set_name}.parquet"
    if path.exists():
        table = pq.read_table(path)
        return table.replace_schema_metadata(None)
    if set_name not in OPTIONAL_SETS:
        raise FileNotFoundError(f"{path}: built set '{set_name}' is missing (run the build stage first)")
    schema = known_schema(set_name)
    return schema.empty_table() if schema is not None else None


def read_sources(curated: Path | None) -> dict[str, str]:
    """conversation id -> source name, from the curated conversations (SFT records carry the id only)."""
    if curated is None:
        return {}
    table = pq.read_table(curated, columns=["id", "source"])
    return dict(zip(table.column("id").to_pylist(), table.column("source").to_pylist()))


def task_dir(task_type: str | None) -> str:
    """A task type as a folder name (null -> 'unknown'; anything unsafe in a path -> '_')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", task_type) if task_type else "unknown"


def by_task_type(table: pa.Table) -> dict[str, pa.Table]:
    if "task_type" not in table.column_names:
        return {"unknown": table}
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(table.column("task_type").to_pylist()):
        groups.setdefault(task_dir(t), []).append(i)
    return {name: table.take(pa.array(idx, pa.int64())) for name, idx in sorted(groups.items())}


def mix(built: Path, p: MixParams, sources: dict[str, str]) -> dict[str, Mixed]:
    """Every set of `built` split and mixed (sets whose file and contract are both missing are skipped)."""
    out = {}
    for name in SETS:
        table = read_set(built, name)
        if table is not None:
            out[name] = mix_set(table, name, p, sources)
    return out


def ledger(mixed: dict[str, Mixed], p: MixParams, sources_known: bool) -> dict[str, Any]:
    train = sum(m.metrics["train"] for m in mixed.values())
    real = sum(m.metrics["real_share"] * m.metrics["train"] for m in mixed.values())
    return {
        "seed": p.seed, "eval_share": p.eval_share, "unmatched": p.unmatched,
        "counted_before_oversampling": True,   # read = train_records + heldout + dropped
        "sources_known": sources_known,
        "real_share": round(real / train, 4) if train else 0.0,
        "sets": {name: m.metrics for name, m in mixed.items()},
    }
