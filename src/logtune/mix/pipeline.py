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
from logtune.engine import map_rows
from logtune.schema_check import RecordCheck
from logtune.spill import SortedSpill
from logtune.mix import quality

SETS = ("sft", "preference", "kto")
OPTIONAL_SETS = ("kto",)   # built by a later build rule: older built folders have no kto.parquet
SELECTORS = ("source", "record_type", "task_type", "provenance", "rule")
DROP_REASONS = ("schema", "unmatched", "downsampled", "low_quality")
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
    min_quality: float | None = None    # issue 18: drop selected records scoring below this (`mix.quality`, 0-1)


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
        if row.min_quality is not None and not 0.0 <= row.min_quality <= 1.0:
            raise ParamsError(f"{where}: min_quality must be in [0, 1], got {row.min_quality}")
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


def positions(size: int, n: int, rng: random.Random) -> tuple[int, list[int]]:
    """`sample`'s picks by position in a group of `size` records: (full passes, sorted positions of the
    records getting one more copy). `random.sample` draws positions from the group's size alone, so this
    needs no list of the group (what lets `SetMix` decide in a second streaming pass)."""
    if n <= 0 or size <= 0:
        return 0, []
    full, rest = divmod(n, size)
    return full, sorted(rng.sample(range(size), rest))


def sample(indices: list[int], n: int, rng: random.Random) -> list[tuple[int, int]]:
    """`n` picks from `indices` as (index, copy number): every record once per full pass, then a seeded
    subset without replacement, so no record has more than ceil(n / len(indices)) copies."""
    full, chosen = positions(len(indices), n, rng)
    picks = [(i, c) for c in range(1, full + 1) for i in indices]
    picks += [(i, full + 1) for i in sorted(indices[j] for j in chosen)]
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


# What pass 1 makes of a record (`classify`): one of these, or the index of the table row selecting it.
SCHEMA, HELDOUT, LOW_QUALITY, UNMATCHED = -1, -2, -3, -4


def record_key(row: dict[str, Any]) -> str:
    """The order mix reads a set in (stable: records with equal ids keep their input order)."""
    return row.get("id") or ""


def classify(rows: list[dict[str, Any]], state: dict[str, Any]) -> list[int]:
    """Pass 1, per record (`logtune.engine` batches): SCHEMA, HELDOUT, LOW_QUALITY, UNMATCHED or the
    selecting table row. `state`: {"set", "params", "sources", "check"}."""
    set_name, p, sources, check = state["set"], state["params"], state["sources"], state["check"]
    out = []
    for row in rows:
        if check(row) is not None:
            out.append(SCHEMA)
            continue
        if is_heldout(p.seed, p.eval_share, session_of(row.get("id"), row.get("conversation_id"))):
            out.append(HELDOUT)
            continue
        f = {"source": sources.get(row.get("conversation_id")), **{s: row.get(s) for s in SELECTORS if s != "source"}}
        k = next((k for k, r in enumerate(p.table) if applies(r, set_name) and matches(r, f)), None)
        threshold = None if k is None else p.table[k].min_quality
        if threshold is not None and quality.score(set_name, row) < threshold:
            out.append(LOW_QUALITY)
        else:
            out.append(UNMATCHED if k is None else k)
    return out


class SetMix:
    """One set mixed in two streaming passes over its records in `record_key` order, memory independent
    of the set's size except the positions `random.sample` draws (one int per sampled record).

    Pass 1: `count(codes)` with `classify`'s codes, batch by batch. `plan()`: every row's target and its
    sampled positions (counts first, so quotas and shares see the whole set). Pass 2: `take(rows, codes)`
    with the same records and codes in the same order returns (train rows, held-out rows, dropped
    `records.REJECTED` rows) decided so far; `finish()` the rest and the metrics. Train rows
    come out sorted by (id, copy) and repeated copies are `<id>#<n>`, as `mix_set` always wrote them.
    Distinct sessions are counted through `SortedSpill` (runs of `spill_rows` on disk).
    """

    def __init__(self, set_name: str, p: MixParams, check: RecordCheck, spill_rows: int = 50_000):
        self.set_name, self.p, self.check = set_name, p, check
        self.available = [0] * len(p.table)
        self.codes = Counter()
        self.sessions = SortedSpill(None, pa.schema([("session", pa.string()), ("heldout", pa.bool_())]),
                                    key=lambda r: r["session"], run_rows=spill_rows)
        self._pos = [0] * len(p.table)
        self._copies = [Counter() for _ in p.table]     # per table row: copies a record got -> records
        self._train_types: Counter = Counter()
        self._heldout_types: Counter = Counter()
        self._dropped: Counter = Counter({r: 0 for r in DROP_REASONS})
        self._run_id: Any = object()
        self._run: list[tuple[int, int, int, dict[str, Any]]] = []   # (copy, rank, position, row) of one id
        self._seen = self.train_rows = self.train_records = self.real = 0

    def count(self, codes: list[int]) -> None:
        self.codes.update(codes)
        for c in codes:
            if c >= 0:
                self.available[c] += 1

    def plan(self) -> None:
        kept = self.codes[UNMATCHED] if self.p.unmatched == "keep" else 0
        self.wanted = targets(self.p, self.set_name, self.available, kept)
        drawn = [positions(n, w, _rng(self.p.seed, self.set_name, k))
                 for k, (n, w) in enumerate(zip(self.available, self.wanted))]
        self._full = [full for full, _ in drawn]
        self._chosen = [iter(chosen) for _, chosen in drawn]
        self._next = [next(it, None) for it in self._chosen]

    def _copies_of(self, k: int) -> int:
        pos = self._pos[k]
        self._pos[k] += 1
        extra = self._next[k] == pos
        if extra:
            self._next[k] = next(self._chosen[k], None)
        return self._full[k] + extra

    def _flush(self, train: list[dict[str, Any]]) -> None:
        # mix_set sorted its picks by (id, copy); records sharing an id: kept unmatched first, then by table row
        for c, _, _, row in sorted(self._run, key=lambda t: t[:3]):
            train.append(row if c == 1 else {**row, "id": f"{row['id']}#{c}"})
        self._run = []

    def take(self, rows: list[dict[str, Any]], codes: list[int]
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        train, heldout, dropped = [], [], []
        for row, code in zip(rows, codes):
            rid, self._seen = row.get("id"), self._seen + 1
            reason = None
            if code == SCHEMA:
                reason = Reject("schema", f"set {self.set_name}: {self.check(row)}")
            elif code == HELDOUT:
                heldout.append(row)
                self._heldout_types[str(row.get("record_type"))] += 1
            else:
                copies, rank = 1, -1
                if code == LOW_QUALITY:
                    reason = Reject("low_quality", f"set {self.set_name}")
                elif code == UNMATCHED and self.p.unmatched == "drop":
                    reason = Reject("unmatched", f"set {self.set_name}")
                elif code >= 0:
                    copies, rank = self._copies_of(code), code
                    self._copies[code][copies] += 1
                    if not copies:
                        reason = Reject("downsampled", f"set {self.set_name}")
                if reason is None:
                    if rid != self._run_id:
                        self._flush(train)
                        self._run_id = rid
                    self._run += [(c, rank, self._seen, row) for c in range(1, copies + 1)]
                    self.train_rows += copies
                    self.train_records += 1
                    self.real += copies * (row.get("provenance") == "real")
                    self._train_types[str(row.get("record_type"))] += copies
            if code != SCHEMA:
                self.sessions.add({"session": session_of(rid, row.get("conversation_id")), "heldout": code == HELDOUT})
            if reason is not None:
                self._dropped[reason.reason] += 1
                dropped.append(rejected_row(rid, "mix", reason, row))
        return train, heldout, dropped

    def finish(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(the last train rows, the set's metrics); raises when the ledger does not add up."""
        train: list[dict[str, Any]] = []
        self._flush(train)
        sessions_train = sessions_heldout = 0
        try:
            previous, sides = object(), set()
            for r in [*self.sessions.merged(), {"session": object(), "heldout": None}]:
                if r["session"] != previous:
                    if len(sides) > 1:
                        raise AssertionError(f"mix {self.set_name}: sessions on both sides of the split")
                    sessions_train += sides == {False}
                    sessions_heldout += sides == {True}
                    previous, sides = r["session"], set()
                sides.add(r["heldout"])
        finally:
            self.sessions.close()
        return train, self._metrics(sessions_train, sessions_heldout)

    def _metrics(self, sessions_train: int, sessions_heldout: int) -> dict[str, Any]:
        p, codes, train_rows = self.p, self.codes, self.train_rows
        read, heldout = sum(codes.values()), codes[HELDOUT]
        dropped = sum(self._dropped.values())
        # The ledger counts records before oversampling: each record read is held out, trained on, or dropped.
        if read != self.train_records + heldout + dropped:
            raise AssertionError(f"mix {self.set_name}: read {read} != train {self.train_records} + heldout "
                                 f"{heldout} + dropped {dropped}")
        rows = {}
        for k, (name, row) in enumerate(zip(row_names(p.table), p.table)):
            if not applies(row, self.set_name):
                continue
            copies = self._copies[k]
            achieved = sum(c * n for c, n in copies.items())
            requested = {"count": row.count} if row.count is not None else {"share": row.share}
            rows[name] = {
                "requested": requested, "available": self.available[k], "target": self.wanted[k],
                "achieved_count": achieved,
                "achieved_share": round(achieved / train_rows, 4) if train_rows else 0.0,
                "selected_records": sum(n for c, n in copies.items() if c > 0),
                "oversampled_copies": sum((c - 1) * n for c, n in copies.items() if c > 1),
                "oversample_cap": row.oversample,
                "max_copies": max((c for c, n in copies.items() if n), default=0),
                "shortfall": max(0, (row.count if row.count is not None else
                                     int(round(row.share * train_rows))) - achieved),
            }
        unmatched = codes[UNMATCHED]
        return {
            "read": read, "heldout": heldout, "train_before_mix": read - codes[SCHEMA] - heldout,
            "train": train_rows, "train_records": self.train_records,
            "oversampled_copies": train_rows - self.train_records,
            "dropped": dropped, "dropped_by_reason": dict(sorted(self._dropped.items())),
            "unmatched": unmatched, "unmatched_kept": unmatched if p.unmatched == "keep" else 0,
            "real_share": round(self.real / train_rows, 4) if train_rows else 0.0,
            "sessions_train": sessions_train, "sessions_heldout": sessions_heldout,
            "rows": rows,
            # issue 18: what each record type became (train rows after oversampling, held-out records)
            "train_by_record_type": dict(sorted(self._train_types.items())),
            "heldout_by_record_type": dict(sorted(self._heldout_types.items())),
        }


def record_check(set_name: str) -> RecordCheck:
    return RecordCheck(SCHEMAS / CONTRACTS[set_name])


def needs_sources(p: MixParams) -> bool:
    """Whether any table row selects by source (else the curated id -> source map is never read)."""
    return any(row.source != ANY for row in p.table)


def mix_set(table: pa.Table, set_name: str, p: MixParams, sources: dict[str, str],
            check: RecordCheck | None = None) -> Mixed:
    """Split one built set by session and mix its train side by the table; metrics add up or this raises.

    Rows breaking the set's JSON Schema (`check`, default: the set's file in schemas/) are dropped first.
    In memory, through the passes the stage streams (`logtune.mix.files`).
    """
    check = check or record_check(set_name)
    ids = table.column("id").to_pylist()
    rows = table.take(pa.array(sorted(range(len(ids)), key=lambda i: ids[i] or ""), pa.int64())).to_pylist()
    state = {"set": set_name, "params": p, "sources": sources, "check": check}
    codes = [c for batch in map_rows(classify, state, rows) for c in batch]
    mixer = SetMix(set_name, p, check)
    mixer.count(codes)
    mixer.plan()
    train, heldout, dropped = mixer.take(rows, codes)
    rest, metrics = mixer.finish()
    return Mixed(train=pa.Table.from_pylist(train + rest, schema=table.schema),
                 heldout=pa.Table.from_pylist(heldout, schema=table.schema), dropped=dropped, metrics=metrics)


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


def mix(built: Path, p: MixParams, sources: dict[str, str]) -> dict[str, Mixed]:
    """Every set of `built` split and mixed (sets whose file and contract are both missing are skipped)."""
    out = {}
    for name in SETS:
        table = read_set(built, name)
        if table is not None:
            out[name] = mix_set(table, name, p, sources)
    return out


def ledger(sets: dict[str, dict[str, Any]], p: MixParams, sources_known: bool) -> dict[str, Any]:
    """metrics/mix.json from each set's metrics (`SetMix.finish`, after the review)."""
    train = sum(m["train"] for m in sets.values())
    real = sum(m["real_share"] * m["train"] for m in sets.values())
    return {
        "seed": p.seed, "eval_share": p.eval_share, "unmatched": p.unmatched,
        "counted_before_oversampling": True,   # read = train_records + heldout + dropped
        "sources_known": sources_known,
        "real_share": round(real / train, 4) if train else 0.0,
        "sets": sets,
    }
