"""Issue 19: curate and build in bounded memory give the bytes the in-memory path gives, whatever the
number of workers, the batch size and the spill size; the external sort and the ordered pool map.

Input: tests/fixtures/curate/conversations.json (every curate reason, exact and near duplicates, see
its README) and two_sources.json (duplicates across sources whose feedback merges), plus 120 sessions of
the sample log (`logtune.sample.db`, exported by the real export path) so batches and spills cut
through many CONTEXT groups.
"""

import hashlib
import json
import random
from pathlib import Path

import pytest

from logtune import records
from logtune.build import BuildParams, build, build_files
from logtune.curate import CurateParams, curate, curate_files
from logtune.golden.overlap import load_golden
from logtune.io import read_rows, write_rows
from logtune.params import load_params
from logtune.rules import load_rules
from logtune.engine import RuntimeParams, ordered_map
from logtune.spill import SortedSpill

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "curate"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("group_rows", [131_072, 37])
def test_sorted_spill_writes_what_write_rows_writes_of_the_sorted_rows(tmp_path, monkeypatch, group_rows):
    monkeypatch.setattr("logtune.spill.CONVERT_ROWS", 9)    # the row group is filled in Arrow pieces
    monkeypatch.setattr("logtune.spill.ROW_GROUP_ROWS", group_rows)
    monkeypatch.setattr("logtune.io.ROW_GROUP_ROWS", group_rows)
    rng = random.Random(0)
    rows = [{"id": f"r{rng.randrange(50):03d}", "stage": "curate", "reason": rng.choice("ab"), "detail": str(i),
             "record": "{}"} for i in range(200)]
    key = lambda r: (r["id"], r["reason"])   # noqa: E731 - ties: the stable order of arrival decides
    write_rows(tmp_path / "ref.parquet", sorted(rows, key=key), records.REJECTED)
    with SortedSpill(tmp_path / "out.parquet", records.REJECTED, key, run_rows=7, tmp_dir=tmp_path) as spill:
        spill.extend(rows)
        assert len(spill._runs) == 28      # the rows went to disk in sorted runs, merged at the end
    assert sha(tmp_path / "out.parquet") == sha(tmp_path / "ref.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "ref.parquet"]   # runs removed


def test_sorted_spill_refuses_two_rows_with_one_unique_key(tmp_path):
    spill = SortedSpill(tmp_path / "out.parquet", records.REJECTED, lambda r: r["id"], run_rows=2, unique=True)
    spill.extend({"id": i, "stage": "s", "reason": "r", "detail": "", "record": ""} for i in ("b", "a", "b"))
    with pytest.raises(ValueError, match="two rows share the key 'b'"):
        spill.finish()


def _square_plus(item, state):
    return item * item + state["add"]


@pytest.mark.parametrize("workers", [1, 2])
def test_ordered_map_yields_in_input_order(workers):
    assert list(ordered_map(_square_plus, range(50), {"add": 1}, workers)) == [i * i + 1 for i in range(50)]


def test_runtime_params_are_checked():
    with pytest.raises(ValueError, match="runtime.engine"):
        RuntimeParams(engine="spark")   # no such engine: an error, not a silent local run
    with pytest.raises(ValueError, match="runtime.batch_rows"):
        RuntimeParams(batch_rows=0)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> list[Path]:
    from logtune.sample.db import SampleParams, build_sample_db
    from logtune.sources.export import ExportParams, SourceParams, export_source

    d = tmp_path_factory.mktemp("exported")
    write_rows(d / "a_fixture.parquet", json.loads((FIXTURES / "conversations.json").read_text()), records.CONVERSATION)
    write_rows(d / "b_two_sources.parquet", json.loads((FIXTURES / "two_sources.json").read_text()),
               records.CONVERSATION)
    build_sample_db(d / "sample.db", SampleParams(seed=3, sessions=120), "You are the support assistant.")
    export_source(SourceParams(name="c_sample", kind="assistant_sqlite", path=str(d / "sample.db")), d, ExportParams())
    return sorted(d.glob("*.parquet"))


def test_curate_and_build_files_give_the_in_memory_bytes_whatever_the_runtime(exported, tmp_path):
    params = load_params(ROOT / "params.yaml", "curate", CurateParams)
    build_params = load_params(ROOT / "params.yaml", "build", BuildParams)
    golden = load_golden(FIXTURES / "golden.jsonl")
    rules = load_rules(ROOT / params.rules)
    ref = tmp_path / "ref"
    curated = curate([row for f in exported for row in read_rows(f)], params, golden, rules)
    write_rows(ref / "curated" / "conversations.parquet", curated.kept, records.CONVERSATION)
    write_rows(ref / "curated" / "rejected.parquet", curated.rejected, records.REJECTED)
    built = build(curated.kept, build_params, golden)
    for name, schema in (("sft", records.SFT_EXAMPLE), ("preference", records.PREFERENCE_PAIR),
                         ("kto", records.KTO_EXAMPLE), ("rejected", records.REJECTED)):
        write_rows(ref / "built" / f"{name}.parquet", getattr(built, name), schema)
    reasons = curated.metrics["rejected_by_reason"]
    assert reasons["exact_duplicate"] and reasons["near_duplicate"] and reasons["golden_near_overlap"]
    assert curated.metrics["merged_feedback"]["conversations_merged"] >= 3
    files = sorted(str(p.relative_to(ref)) for p in ref.rglob("*.parquet"))
    for runtime in (RuntimeParams(workers=1, batch_rows=10_000, spill_rows=10**6),
                    RuntimeParams(workers=2, batch_rows=7, spill_rows=13)):
        out = tmp_path / f"w{runtime.workers}"
        m = curate_files(exported, out / "curated", params, golden, rules, runtime)
        b = build_files(out / "curated" / "conversations.parquet", out / "built", build_params, golden, runtime)
        assert {k: v for k, v in m.items() if k != "shards"} == curated.metrics
        assert {k: v for k, v in b.items() if k != "shards"} == built.metrics
        # per input file (shard): read = kept + rejected by reason, adding up to the totals
        rows = {f.name: len(read_rows(f)) for f in exported}
        assert {f: s["read"] for f, s in m["shards"].items()} == rows
        assert sum(s["kept"] for s in m["shards"].values()) == m["kept"]
        for reason, n in m["rejected_by_reason"].items():
            assert sum(s["rejected_by_reason"][reason] for s in m["shards"].values()) == n
        assert all(s["rejected"] for s in m["shards"].values())
        (shard,) = b["shards"].values()
        assert (shard["read"], shard["replies_seen"]) == (b["read"], b["replies_seen"])
        assert shard["replies_rejected"] == b["rejected"] - sum(b["schema_rejected"].values())
        assert shard["replies_rejected_by_reason"]["duplicate_reply"] == b["rejected_by_reason"]["duplicate_reply"]
        assert {f: sha(out / f) for f in files} == {f: sha(ref / f) for f in files}, runtime
        assert not list(tmp_path.rglob("logtune-spill-*"))   # every sorted run was removed

