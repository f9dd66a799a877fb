"""Issue 19: `runtime.engine: ray` writes the bytes of the local engine.

A Ray cluster of three nodes is started here (`logtune.engine.local_ray_cluster`: Ray's own test utility
`ray.cluster_utils.Cluster`, real GCS and raylet processes per node, stopped by process id in teardown even
on failure): a
head with no CPUs, so every batch task runs on one of two worker nodes of one CPU each, all registered
on 127.0.0.1 (Ray's gRPC servers listen on every interface and have no option to bind loopback only, so
the cluster requires a random token per test run: `RAY_AUTH_MODE=token`). Curate and build run through
their library entry points (`curate_files`, `build_files`, what stages/curate.py and build.py call) on
the fixture inputs of test_streaming.py with the local engine (1 and 2 workers, two batch sizes) and with
the Ray engine (two batch sizes, 1 and 2 tasks at once), then mix and validate on each run's output;
every output file, the metrics and validate's report must have the same sha256. A SIGALRM watchdog bounds the whole module.
"""

import hashlib
import json
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logtune.build import BuildParams, build_files
from logtune.curate import CurateParams, curate_files
from logtune.engine import RuntimeParams, load_runtime, local_ray_cluster, map_files, open_parquet, ray_units
from logtune.golden.overlap import load_golden
from logtune.params import load_params
from logtune.rules import load_rules
from tests.unit.test_streaming import exported  # noqa: F401 - the fixture: test_streaming.py's inputs
from tests.unit.test_curate_dedup_spill import log  # noqa: F401 - the fixture: a no-CONTEXT log

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "curate"
WATCHDOG_S = 420   # the whole module, cluster start and teardown included (about a minute when the machine is idle)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_runtime_params_check_engine_and_address(tmp_path):
    assert RuntimeParams(engine="ray").ray_address is None
    assert RuntimeParams(engine="ray", ray_address="ray://head:10001").ray_address == "ray://head:10001"
    with pytest.raises(ValueError, match="runtime.engine must be one of"):
        RuntimeParams(engine="spark")
    with pytest.raises(ValueError, match="runtime.ray_address must be a Ray address"):
        RuntimeParams(engine="ray", ray_address="")
    with pytest.raises(ValueError, match="runtime.ray_address must be a Ray address"):
        RuntimeParams(engine="ray", ray_address=6379)
    with pytest.raises(ValueError, match="runtime.engine is 'local': it would be ignored"):
        RuntimeParams(engine="local", ray_address="auto")
    (tmp_path / "p.yaml").write_text("runtime:\n  engine: ray\n  ray_adress: auto\n")
    with pytest.raises(ValueError, match="ray_adress"):
        load_runtime(tmp_path / "p.yaml")   # a misspelt key is an error, not the default address
    (tmp_path / "p.yaml").write_text("runtime:\n  engine: ray\n  ray_address: 127.0.0.1:6379\n")
    assert load_runtime(tmp_path / "p.yaml") == RuntimeParams(engine="ray", ray_address="127.0.0.1:6379")


def test_open_parquet_reads_paths_and_urls(tmp_path):
    import fsspec

    table = pa.table({"n": pa.array(range(40), pa.int64())})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=16)
    with fsspec.filesystem("memory").open("/logtune-test/a.parquet", "wb") as f:   # fsspec only: not pyarrow's
        pq.write_table(table, f, row_group_size=16)
    try:
        for where in (str(tmp_path / "a.parquet"), (tmp_path / "a.parquet").as_uri(), "memory://logtune-test/a.parquet"):
            assert open_parquet(where).read().equals(table), where
        assert [u["stop"] for u in ray_units(["memory://logtune-test/a.parquet"], 16)] == [16, 16, 8]
    finally:
        fsspec.filesystem("memory").rm("/logtune-test", recursive=True)
    with pytest.raises(FileNotFoundError):
        open_parquet((tmp_path / "missing.parquet").as_uri())


@pytest.fixture(scope="module")
def ray_cluster():
    """A head (0 CPUs) and two worker nodes (1 CPU each) on 127.0.0.1 (`local_ray_cluster`); yields the address."""
    def timeout(signum, frame):
        raise TimeoutError(f"the Ray engine tests took over {WATCHDOG_S} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(WATCHDOG_S)
    try:
        with local_ray_cluster(nodes=2, cpus=1, object_store_mb=80) as address:
            import ray

            nodes = [n for n in ray.nodes() if n["Alive"]]
            assert sorted(n["Resources"].get("CPU", 0) for n in nodes) == [0, 1, 1]
            assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
            yield address
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _square_rows(rows, state):
    return [r["n"] * r["n"] + state["add"] for r in rows]


def _node_of_batch(rows, state):
    import ray

    time.sleep(0.2)   # tasks overlap: two at once need both one-CPU nodes
    return ray.get_runtime_context().get_node_id()


@pytest.mark.slow
def test_ray_map_files_yields_in_input_order(ray_cluster, tmp_path, monkeypatch):
    files, want = [], []
    for i, n in enumerate((0, 37, 5, 120)):   # an empty file too; row groups of 16 rows
        files.append(tmp_path / f"{i}.parquet")
        pq.write_table(pa.table({"n": pa.array(range(i * 1000, i * 1000 + n), pa.int64())}), files[-1],
                       row_group_size=16)
        want += [k * k + 1 for k in range(i * 1000, i * 1000 + n)]
    monkeypatch.setattr("logtune.engine.UNIT_BATCHES", 2)   # tasks of 14 rows: a row group in two tasks
    assert len(ray_units([str(f) for f in files], 7)) == (2 + 2 + 1) + 1 + (7 * 2 + 1)   # 16-row groups: 2 units
    for batch_rows, workers in ((7, 2), (1000, 0)):
        got = [x for batch in map_files(_square_rows, {"add": 1}, files, RuntimeParams(
            engine="ray", workers=workers, batch_rows=batch_rows, ray_address=ray_cluster)) for x in batch]
        assert got == want
    import ray

    workers = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")}
    assert set(map_files(_node_of_batch, {}, files, RuntimeParams(engine="ray", workers=2, batch_rows=7))) == workers


@pytest.mark.slow
def test_data_stages_on_ray_write_the_local_engine_bytes(ray_cluster, exported, tmp_path):
    """curate -> build -> mix -> validate, each through its library entry point, on every engine: the same
    files, metrics and validate report (its token checks too: each worker, local or Ray, loads the
    tokenizer from its folder, as stages/validate.py passes it)."""
    from logtune.base.tokenizer import train_tokenizer
    from logtune.mix.files import mix_files
    from logtune.mix.pipeline import MixParams
    from logtune.params import read_params
    from logtune.validate.gates import metrics, report, validate_built, validate_params

    params = load_params(ROOT / "params.yaml", "curate", CurateParams)
    build_params = load_params(ROOT / "params.yaml", "build", BuildParams)
    mix_params = load_params(ROOT / "params.yaml", "mix", MixParams)
    validate = validate_params(read_params(ROOT / "params.yaml"))
    golden = load_golden(FIXTURES / "golden.jsonl")
    rules = load_rules(ROOT / params.rules)
    tokenizer = tmp_path / "tokenizer"
    texts = [str(m.get("content") or "") for c in pq.read_table(exported[0]).to_pylist() for m in c["messages"] or []]
    train_tokenizer(texts, vocab_size=300).save_pretrained(tokenizer)
    runs = {
        "local-w1": RuntimeParams(workers=1, batch_rows=10_000, spill_rows=10**6),
        "local-w2": RuntimeParams(workers=2, batch_rows=7, spill_rows=13),
        "ray-b9-w2": RuntimeParams(engine="ray", workers=2, batch_rows=9, spill_rows=13, ray_address=ray_cluster),
        "ray-b500-w1": RuntimeParams(engine="ray", workers=1, batch_rows=500, ray_address=ray_cluster),
    }
    digests = {}
    for name, runtime in runs.items():
        out = tmp_path / name
        curate_metrics = curate_files(exported, out / "curated", params, golden, rules, runtime)
        build_metrics = build_files(out / "curated" / "conversations.parquet", out / "built", build_params, golden,
                                    runtime)
        mix_metrics, review = mix_files(out / "built", out / "train", out / "heldout", mix_params,
                                        out / "curated" / "conversations.parquet", None, runtime)
        outcome = validate_built(out / "train", FIXTURES / "golden.jsonl", ROOT / "expectations", ROOT / "schemas",
                                 validate, tokenizer=tokenizer, runtime=runtime)
        for stage, m in (("curate", curate_metrics), ("build", build_metrics), ("mix", [mix_metrics, review]),
                         ("validate", [metrics(outcome), report(outcome)])):
            (out / f"{stage}.json").write_text(json.dumps(m, sort_keys=True, indent=2))
        digests[name] = {str(p.relative_to(out)): sha(p) for p in sorted(out.rglob("*")) if p.is_file()}
    assert {"built/sft.parquet", "train/sft.parquet", "heldout/sft.parquet"} <= set(digests["local-w1"])
    assert json.loads((tmp_path / "local-w1" / "curate.json").read_text())["rejected_by_reason"]["near_duplicate"]
    assert "assistant_mask_not_empty" in (tmp_path / "local-w1" / "validate.json").read_text()   # token checks ran
    for name, got in digests.items():
        assert got == digests["local-w1"], name


@pytest.mark.slow
def test_export_shards_on_ray_write_the_local_engine_bytes(ray_cluster, tmp_path, monkeypatch):
    """Export's shards as Ray tasks (`runtime.engine: ray`): each task reads its session-id range from the
    database file itself, the stage writes them in shard order: the same files and metrics (per-shard
    ledgers included) as the local engine, for test_export_shards.py's databases (every quarantine reason of
    the fixture, one id on two session rows, text that is not UTF-8). The source path is relative to the
    stage's folder, which is not a Ray worker's: the tasks must get it resolved."""
    from logtune.sources.export import ExportParams, SourceParams, export_source
    from tests.unit.test_export_shards import DATABASES, make_db

    monkeypatch.chdir(tmp_path)
    for name in ("fixture", "duplicate_id", "invalid_utf8"):
        script, bad = DATABASES[name]
        make_db(tmp_path / f"{name}.db", script, bad)
        source = SourceParams(name="s", kind="assistant_sqlite", path=f"{name}.db")
        runs = {"local-w1": (1000, RuntimeParams(workers=1)), "local-w2": (1, RuntimeParams(workers=2)),
                "ray-w2": (1, RuntimeParams(engine="ray", workers=2, ray_address=ray_cluster)),
                "ray-w0": (2, RuntimeParams(engine="ray", workers=0, ray_address=ray_cluster))}
        digests = {}
        for run, (shard_sessions, runtime) in runs.items():
            out = tmp_path / name / run
            with monkeypatch.context() as m:
                if runtime.engine == "ray":   # no local worker processes: the shards run as Ray tasks
                    m.setattr("logtune.engine.ordered_map", None)
                metrics = export_source(source, out, ExportParams(max_message_chars=200, shard_sessions=shard_sessions),
                                        runtime=runtime)
            shards = metrics.pop("shards")
            assert sum(e["read"] for e in shards.values()) == metrics["read"], (name, run)
            digests[run] = {"metrics": metrics, **{p.name: sha(p) for p in sorted(out.iterdir())}}
            if run == "ray-w2":   # one session a shard, each its own ledger, as the local engine's
                assert shards == export_source(source, tmp_path / name / "again", ExportParams(
                    max_message_chars=200, shard_sessions=1), runtime=RuntimeParams(workers=2))["shards"]
        assert set(digests["local-w1"]) == {"metrics", "s.parquet", "s.quarantine.jsonl"}
        for run, got in digests.items():
            assert got == digests["local-w1"], (name, run)


@pytest.mark.slow
def test_out_of_core_dedup_on_ray_writes_the_local_bytes(ray_cluster, log, tmp_path, monkeypatch):
    """A no-CONTEXT group over `spill_rows` (test_curate_dedup_spill.py's log): the band-bucket shuffle as a Ray
    Data groupby over the cluster gives the in-memory bytes, with pairs and giant buckets (BUCKET_MAX 4)."""
    from logtune.curate import dedup_spill
    from tests.unit.test_curate_dedup_spill import outputs

    ref = outputs(log, tmp_path / "ref", RuntimeParams(workers=1, spill_rows=10**6))
    shuffles = []
    real = dedup_spill._ray_shuffle
    monkeypatch.setattr(dedup_spill, "_ray_shuffle", lambda *a: shuffles.append(1) or real(*a))
    monkeypatch.setattr(dedup_spill, "PART_ROWS", 50)   # several partitions to group by
    monkeypatch.setattr(dedup_spill, "BUCKET_MAX", 4)
    runtime = RuntimeParams(engine="ray", workers=2, batch_rows=7, spill_rows=5, ray_address=ray_cluster)
    assert outputs(log, tmp_path / "ray", runtime) == ref
    assert len(shuffles) == 2   # two groups over spill_rows (no CONTEXT, and k-*): each shuffled on the cluster
