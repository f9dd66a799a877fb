"""Issue 19: a CONTEXT group larger than `runtime.spill_rows` is deduplicated out of core
(`logtune.curate.dedup_spill`: exact duplicates by an on-disk sort, near-duplicates by a band-bucket shuffle,
candidate pairs and one greedy pass in visit order) with exactly the in-memory decisions: the same bytes of
conversations.parquet and rejected.parquet and the same metrics.

The log (`no_context_log`) is written here, most of it without a CONTEXT, as real exports are (one group).
Word lists stand for texts: a user turn of 60 words, one changed word moves 3 of its 58 word 3-grams, so
(with the shared reply) one change is Jaccard 0.905 (>= 0.9: a near-duplicate), two changes 0.818 (not),
a change in the last word 0.967. Why each family exists:

- `e*`: one dialogue three times (case and spacing differ), two copies up-voted: the first best copy is kept
  and holds the others' feedback (a tie in rating goes to input order); the others `exact_duplicate`.
- `b*`, a chain A~B~C (A~C is not near): B is dropped for A; C must be compared only with kept sessions, so it
  is kept. Read C, B, A; visited A, B, C (A up-voted, C down-voted).
- `c*`: X near two kept sessions (0.967 to K1, 0.905 to K2; K1 and K2 0.875 apart): named K1, the most similar,
  though K1 is read last.
- `d*`: X equally near (0.905) to K3 and K2; K2 is visited first (up-voted) but K3 is read first: the tie
  goes to input order, as in memory.
- `g*`: 30 sessions differing in their last word (all pairs 0.967) and 10 more with a second change, in one
  band bucket: with `BUCKET_MAX` lowered to 4 it is a "giant" bucket, compared with its kept members only.
- `f*`: unrelated sessions; `k*`: the chain again under a CONTEXT, a second group over the bound; `z-error`:
  rejected before dedup.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from logtune import records
from logtune.curate import CurateParams, curate, curate_files
from logtune.curate import dedup_spill
from logtune.curate.dedup_spill import PAIR, bucket_pairs
from logtune.engine import RuntimeParams
from logtune.golden.overlap import load_golden
from logtune.io import write_rows
from logtune.params import load_params
from logtune.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
REPLY = "here is the answer"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def words(tag: str, *changed: int, last: str | None = None) -> str:
    ws = [f"{tag}{i}" for i in range(60)]
    for p in changed:
        ws[p] += "x"
    if last is not None:
        ws[59] = last
    return " ".join(ws)


def conv(cid: str, text: str, rating: int | None = None, note: str | None = None, context: str | None = None,
         status: str = "ok") -> dict:
    message = {"created_at": "2026-01-05T10:00:00", "tool_calls": None, "feedback_meta": None, "rewrite": None}
    return {"id": cid, "source": "support", "source_id": cid, "task_type": "support", "system_prompt": "S.",
            "prompt_version": "p1", "model_version": "m1", "context": context,
            "messages": [{**message, "id": "1", "role": "user", "content": text, "rating": None, "feedback_note": None},
                         {**message, "id": "2", "role": "assistant", "content": REPLY, "rating": rating,
                          "feedback_note": note}],
            "status": status, "error": None, "confidence": None, "approval": None, "latency_ms": 1.0, "cost": 0.0,
            "created_at": "2026-01-05T10:00:00", "provenance": "real"}


def no_context_log() -> list[dict]:
    rows = [conv("e1", words("e"), note="slow"), conv("e2", words("e").upper(), 1),
            conv("e3", "  " + words("e"), 1, note="ok"),
            conv("b-C", words("b", 20, 40), -1), conv("b-B", words("b", 20)), conv("b-A", words("b"), 1),
            conv("c-K2", words("c", 30)), conv("c-X", words("c"), -1, note="dup"), conv("c-K1", words("c", 59)),
            conv("d-K3", words("d", 10)), conv("d-X", words("d"), -1), conv("d-K2", words("d", 30), 1),
            conv("z-error", words("z"), status="error")]
    rows += [conv(f"g{k:02d}", words("g", last=f"v{k}"), 1 if k == 17 else (-1 if k % 5 == 0 else None),
                  note="n" if k % 7 == 0 else None) for k in range(30)]
    rows += [conv(f"h{k:02d}", words("g", 30, last=f"w{k}"), -1 if k % 3 == 0 else None) for k in range(10)]
    rows += [conv(f"f{k:02d}", words(f"f{k}x")) for k in range(12)]
    rows += [conv(f"k-{n}", words("b", *c), r, context='{"k": 1}') for n, c, r in
             (("C", (20, 40), -1), ("B", (20,), None), ("A", (), 1), ("A2", (), None))]
    rows += [conv(f"k-f{k}", words(f"kf{k}x"), context='{"k": 1}') for k in range(8)]
    return rows


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("exported")
    rows = no_context_log()
    write_rows(d / "a.parquet", rows[:31], records.CONVERSATION)   # two input files (shards)
    write_rows(d / "b.parquet", rows[31:], records.CONVERSATION)
    return sorted(d.glob("*.parquet"))


def setup():
    params = load_params(ROOT / "params.yaml", "curate", CurateParams)
    return params, load_golden(ROOT / "tests" / "fixtures" / "curate" / "golden.jsonl"), load_rules(ROOT / params.rules)


def outputs(files, out: Path, runtime: RuntimeParams) -> tuple[dict, dict]:
    params, golden, rules = setup()
    metrics = curate_files(files, out, params, golden, rules, runtime)
    return {f: sha(out / f) for f in ("conversations.parquet", "rejected.parquet")}, metrics


def test_the_log_holds_what_its_docstring_says(log):
    params, golden, rules = setup()
    from logtune.io import read_rows

    curated = curate([r for f in log for r in read_rows(f)], params, golden, rules)
    kept = {c["id"] for c in curated.kept}
    why = {r["id"]: (r["reason"], r["detail"]) for r in curated.rejected}
    assert "e2" in kept and why["e1"] == why["e3"] == ("exact_duplicate", "duplicate of e2")
    assert why["b-B"] == ("near_duplicate", "near-duplicate of b-A (jaccard 0.905)") and {"b-A", "b-C"} <= kept
    assert why["c-X"] == ("near_duplicate", "near-duplicate of c-K1 (jaccard 0.967)") and {"c-K1", "c-K2"} <= kept
    assert why["d-X"] == ("near_duplicate", "near-duplicate of d-K3 (jaccard 0.905)") and {"d-K2", "d-K3"} <= kept
    assert "g17" in kept and why["g00"] == ("near_duplicate", "near-duplicate of g17 (jaccard 0.967)")
    assert why["k-B"][0] == "near_duplicate" and {"k-A", "k-C"} <= kept and why["k-A2"][0] == "exact_duplicate"
    assert why["z-error"][0] == "error_status"
    m = curated.metrics
    assert m["merged_feedback"]["conversations_merged"] >= 2 and m["rejected_by_reason"]["near_duplicate"] >= 30


def test_bucket_pairs_pairs_small_buckets_and_lists_giant_ones():
    keys = np.array([7, 5, 7, 9, 7, 5, 9, 9, 9], dtype=np.uint64)
    ranks = np.array([4, 3, 0, 8, 2, 1, 5, 6, 7], dtype=np.int64)
    got = bucket_pairs(keys, ranks, bucket_max=3)
    pairs = sorted((int(p["x"]), int(p["y"])) for p in got if p["x"] >= 0)
    assert pairs == [(0, 2), (0, 4), (1, 3), (2, 4)]     # buckets 5: {1, 3}; 7: {0, 2, 4}
    assert sorted((int(p["g"]), int(p["y"])) for p in got if p["x"] < 0) == [(9, 5), (9, 6), (9, 7), (9, 8)]
    assert bucket_pairs(keys[:0], ranks[:0]).dtype == PAIR


@pytest.mark.parametrize("bucket_max", [64, 4, 1])   # 1: every shared bucket is "giant"
def test_out_of_core_dedup_writes_the_in_memory_bytes(log, tmp_path, monkeypatch, bucket_max):
    ref, ref_metrics = outputs(log, tmp_path / "ref", RuntimeParams(workers=1, batch_rows=10_000, spill_rows=10**6))
    params, golden, rules = setup()
    from logtune.io import read_rows

    curated = curate([r for f in log for r in read_rows(f)], params, golden, rules)   # the in-memory lists
    write_rows(tmp_path / "lists" / "conversations.parquet", curated.kept, records.CONVERSATION)
    write_rows(tmp_path / "lists" / "rejected.parquet", curated.rejected, records.REJECTED)
    assert {f: sha(tmp_path / "lists" / f) for f in ref} == ref
    assert {k: v for k, v in ref_metrics.items() if k != "shards"} == curated.metrics

    calls = []
    real = dedup_spill.dedup_spilled
    monkeypatch.setattr("logtune.curate.pipeline.dedup_spilled", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr("logtune.curate.dedup_spill.BUCKET_MAX", bucket_max)
    monkeypatch.setattr("logtune.curate.dedup_spill.PART_ROWS", 50)      # several shuffle partitions
    monkeypatch.setattr("logtune.curate.dedup_spill.RANGE_SESSIONS", 8)  # several rank ranges
    for runtime in (RuntimeParams(workers=1, batch_rows=7, spill_rows=5),
                    RuntimeParams(workers=2, batch_rows=3, spill_rows=11),
                    RuntimeParams(workers=2, batch_rows=500, spill_rows=40)):
        calls.clear()
        got, metrics = outputs(log, tmp_path / f"b{runtime.batch_rows}", runtime)
        assert len(calls) == (1 if runtime.spill_rows == 40 else 2), runtime   # the no-CONTEXT group (and k-*)
        assert got == ref, runtime
        assert metrics == ref_metrics, runtime
    assert not list(tmp_path.rglob("logtune-dedup-*")) and not list(tmp_path.rglob("logtune-spill-*"))


def test_out_of_core_exact_only(log, tmp_path):
    params, golden, rules = setup()
    params = CurateParams(**{**params.__dict__, "near_duplicate_threshold": None})
    digests = []
    for runtime in (RuntimeParams(workers=1, spill_rows=10**6), RuntimeParams(workers=1, batch_rows=4, spill_rows=3)):
        out = tmp_path / str(runtime.spill_rows)
        metrics = curate_files(log, out, params, golden, rules, runtime)
        digests.append(({f: sha(out / f) for f in ("conversations.parquet", "rejected.parquet")}, json.dumps(metrics)))
    assert digests[0] == digests[1]
    assert json.loads(digests[0][1])["rejected_by_reason"]["near_duplicate"] == 0
