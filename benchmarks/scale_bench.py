"""Scale benchmark (issue 19): export -> curate -> build -> mix -> validate at 1M, 3M (10M) messages, side by side.

Usage: python benchmarks/scale_bench.py [--sizes 1000000 3000000] [--workdir DIR] [--keep] [--workers 2] [--no-ratio]
                                        [--ratio-size N] [--no-context] [--curate-only]

For each size, a support-assistant log of that many messages is generated the way the `sample` stage
makes one (`logtune.sample.db.build_sample_db`: real templates, ~3.9 messages a session, ratings,
rewrites, PII, broken sessions, many CONTEXTs), cached in --workdir. Then, each in its own child
process as `dvc repro` runs them (so each child's peak RSS is its own), with params.yaml's sections:
  export  `logtune.sources.export.export_source` (assistant_sqlite), beside a plain sqlite3 scan of
          the same messages in session order (the reference: Python reading the rows at all);
  curate  `logtune.curate.curate_files` (streaming, `runtime.workers` processes);
  build   `logtune.build.build_files`;
  mix     `logtune.mix.files.mix_files` (the built sets, no rewrite stage between, no review);
  validate `logtune.validate.gates.validate_built` on the mixed train sets (no tokenizer).
Printed per size: wall and CPU seconds (workers' included), messages/s, the stage process's peak RSS
and its largest worker's. Then, at --ratio-size (default the smallest size): curate + build with 1
worker vs --workers (the speed-up on this machine's cores), with a sha256 check that both wrote the
same bytes.
--no-context: the exported files' CONTEXT column is nulled before curate, as in exports without one
(OASST, ShareGPT, ChatGPT exports), so curate's survivors are one CONTEXT group (issue 19: deduplicated
out of core past `runtime.spill_rows`). --curate-only: export and curate alone, no scan, no 1-vs-N runs;
the curated files' sha256 are printed (to compare two runs, e.g. before/after a change).
Exit status 0 when every target is met (TARGETS). Not a test: minutes to an hour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"export_vs_scan": 0.5, "export_rss_mb": 600, "pipeline_rss_mb": 3072, "seconds_10m": 900,
           "two_core_speedup": 1.8}
MESSAGES_PER_SESSION = 3.89   # the sample log's average


def generate(work: Path, n_messages: int) -> Path:
    """The sample-stage log DB of about `n_messages` messages (cached by size)."""
    from logtune.params import read_params
    from logtune.sample.db import SampleParams, build_sample_db

    db = work / f"log-{n_messages}.db"
    if not db.exists():
        system_prompt = read_params(ROOT / "params.yaml")["assistant"]["system_prompt"]
        tmp = db.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        build_sample_db(tmp, SampleParams(seed=11, sessions=max(1, round(n_messages / MESSAGES_PER_SESSION))),
                        system_prompt)
        tmp.rename(db)
    return db


def generate_in_child(work: Path, n_messages: int) -> Path:
    """`generate` in a child process: this one stays small, so the children it forks start small."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import scale_bench; from pathlib import Path; " \
           f"print(scale_bench.generate(Path({str(work)!r}), {n_messages}))"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return work / f"log-{n_messages}.db"


def _rss() -> dict:
    # VmHWM: this process's own peak. (ru_maxrss of a child keeps the peak of the process it was forked
    # from, here the benchmark's parent, which held the generated log.) Workers: the largest one's peak.
    status = Path("/proc/self/status").read_text()
    own = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": own, "worker_peak_rss_mb": workers}


def _runtime(workers: int, engine: str):
    from logtune.params import read_params
    from logtune.engine import RuntimeParams

    section = dict(read_params(ROOT / "params.yaml").get("runtime") or {})
    section.update(workers=workers, engine=engine)
    return RuntimeParams(**section)


def child(what: str, db: Path, out: Path, workers: int, engine: str) -> dict:
    from logtune.params import load_params

    start, cpu = time.perf_counter(), time.process_time()
    result: dict = {}
    if what == "scan":
        from export_bench import child_reference   # the same plain sqlite3 scan as benchmarks/export_bench.py

        result["messages"] = child_reference(db, out)["messages"]
    elif what == "export":
        from logtune.sources.export import ExportParams, SourceParams, export_source

        ledger = export_source(SourceParams(name="bench", kind="assistant_sqlite", path=str(db)), out / "exported",
                               load_params(ROOT / "params.yaml", "export", ExportParams),
                               runtime=_runtime(workers, engine))   # shards of sessions read by worker processes
        result.update(messages=ledger["messages_exported"], ledger={k: v for k, v in ledger.items() if k != "shards"},
                      shards=len(ledger.get("shards", {})))
    elif what == "nocontext":   # --no-context: the exported files as a log without CONTEXTs
        import pyarrow as pa
        import pyarrow.parquet as pq

        for f in sorted((out / "exported").glob("*.parquet")):
            table = pq.read_table(f)
            i = table.schema.get_field_index("context")
            pq.write_table(table.set_column(i, table.schema.field(i), pa.nulls(table.num_rows, pa.string())), f)
        result["messages"] = 0
    elif what == "curate":
        from logtune.curate import CurateParams, curate_files, exported_files
        from logtune.golden.overlap import load_golden
        from logtune.rules import load_rules

        params = load_params(ROOT / "params.yaml", "curate", CurateParams)
        metrics = curate_files(exported_files(out / "exported"), out / "curated", params,
                               load_golden(ROOT / "golden" / "golden.jsonl"), load_rules(ROOT / params.rules),
                               _runtime(workers, engine))
        result.update(count=out / "exported" / "bench.parquet", metrics=metrics)
    elif what == "build":
        from logtune.build import BuildParams, build_files
        from logtune.golden.overlap import load_golden

        metrics = build_files(out / "curated" / "conversations.parquet", out / "built",
                              load_params(ROOT / "params.yaml", "build", BuildParams),
                              load_golden(ROOT / "golden" / "golden.jsonl"), _runtime(workers, engine))
        result.update(count=out / "curated" / "conversations.parquet", metrics=metrics)
    elif what == "mix":
        from logtune.mix.files import mix_files
        from logtune.mix.pipeline import MixParams

        metrics, _ = mix_files(out / "built", out / "train", out / "heldout", load_params(ROOT / "params.yaml", "mix", MixParams),
                               out / "curated" / "conversations.parquet", None, _runtime(workers, engine))
        result.update(count=out / "curated" / "conversations.parquet",
                      metrics={name: {k: m[k] for k in ("read", "train", "heldout", "dropped")}
                               for name, m in metrics["sets"].items()})
    elif what == "validate":
        from logtune.params import read_params
        from logtune.validate.gates import metrics as validate_metrics, validate_built, validate_params

        outcome = validate_built(out / "train", ROOT / "golden" / "golden.jsonl", ROOT / "expectations", ROOT / "schemas",
                                 validate_params(read_params(ROOT / "params.yaml")), runtime=_runtime(workers, engine))
        m = validate_metrics(outcome)
        result.update(count=out / "curated" / "conversations.parquet",
                      metrics={"passed": m["passed"], "records": {n: s["records"] for n, s in m["sets"].items()}})
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)   # worker processes, once joined
    result.update(seconds=time.perf_counter() - start,
                  cpu_seconds=time.process_time() - cpu + kids.ru_utime + kids.ru_stime, **_rss())
    if "count" in result:   # after the peak RSS is read: counting reads a whole column
        result["messages"] = _messages(result.pop("count"))
    return result


def _messages(path: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    return int(pc.sum(pc.list_value_length(pq.read_table(path, columns=["messages"])["messages"])).as_py() or 0)


def run_child(what: str, db: Path, out: Path, workers: int = 1, engine: str = "local") -> dict:
    cmd = [sys.executable, __file__, "--child", what, str(db), str(out), str(workers), engine]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {what} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".parquet", ".jsonl")}


def fmt(name: str, r: dict, messages: int) -> str:
    return (f"{name:<26}{messages:>11,}{r['seconds']:>9.1f}{r['cpu_seconds']:>8.1f}{messages / r['seconds']:>12,.0f}"
            f"{r['peak_rss_mb']:>11.0f}{r.get('worker_peak_rss_mb', 0):>13.0f}")


HEADER = f"{'stage (own process)':<26}{'messages':>11}{'wall s':>9}{'cpu s':>8}{'msgs/s':>12}{'RSS MB':>11}{'worker RSS':>13}"


def pipeline(db: Path, out: Path, workers: int, engine: str = "local", with_export: bool = True,
             no_context: bool = False, curate_only: bool = False, through: str = "validate") -> dict:
    rows = {}
    if with_export:
        shutil.rmtree(out, ignore_errors=True)
        rows["export"] = run_child("export", db, out, workers, engine)
        if no_context:
            run_child("nocontext", db, out, workers, engine)
    else:
        for sub in ("curated", "built"):
            shutil.rmtree(out / sub, ignore_errors=True)
    rows["curate"] = run_child("curate", db, out, workers, engine)
    if curate_only:
        return rows
    rows["build"] = run_child("build", db, out, workers, engine)
    if with_export and through == "validate":   # mix and validate once per size (not in the 1-vs-N runs)
        rows["mix"] = run_child("mix", db, out, workers, engine)
        rows["validate"] = run_child("validate", db, out, workers, engine)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument("--workdir", type=Path, help="where logs and outputs go (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs (reused by the next run)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ratio-size", type=int, help="size for the 1-vs-N workers runs (default: the smallest)")
    ap.add_argument("--no-ratio", action="store_true", help="skip the 1-vs-N workers runs of curate + build")
    ap.add_argument("--no-context", action="store_true", help="null the exported CONTEXTs (one CONTEXT group)")
    ap.add_argument("--curate-only", action="store_true", help="export and curate only; print the curated sha256")
    ap.add_argument("--through", choices=["build", "validate"], default="validate",
                    help="the last stage timed per size: build (the issue's export -> curate -> build) or validate")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        what, db, out, workers, engine = args.child
        print(json.dumps(child(what, Path(db), Path(out), int(workers), engine)))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="logtune-scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ok = True
    try:
        results = {}
        for size in args.sizes:
            start = time.perf_counter()
            db = generate_in_child(work, size)
            print(f"\n== {size:,} messages (log ready in {time.perf_counter() - start:.0f}s: {db})", flush=True)
            rows = pipeline(db, work / f"out-{size}", args.workers, no_context=args.no_context,
                            curate_only=args.curate_only, through=args.through)
            if args.curate_only:
                print(HEADER)
                for name, r in rows.items():
                    print(fmt(name, r, rows["export"]["messages"]))
                m = rows["curate"]["metrics"]
                print(f"curate kept {m['kept']:,} of {m['read']:,}; rejected by reason: "
                      + ", ".join(f"{k} {v:,}" for k, v in m["rejected_by_reason"].items() if v))
                for name, digest in digests(work / f"out-{size}" / "curated").items():
                    print(f"  sha256 {name} {digest}")
                continue
            scan = run_child("scan", db, work / f"out-{size}")
            n = rows["export"]["messages"]
            print(HEADER)
            print(fmt("sqlite3 scan (reference)", scan, scan["messages"]))
            for name, r in rows.items():
                print(fmt(name, r, n))
            total = sum(r["seconds"] for r in rows.values())
            peak = max(max(r["peak_rss_mb"], r["worker_peak_rss_mb"]) for r in rows.values())
            ratio = (n / rows["export"]["seconds"]) / (scan["messages"] / scan["seconds"])
            print(f"{' -> '.join(rows)}: {total:.0f}s wall, peak RSS {peak:.0f} MB (largest process); "
                  f"export / scan {ratio:.2f}x; curate {rows['curate']['metrics']['kept']:,} kept of "
                  f"{rows['curate']['metrics']['read']:,}", flush=True)
            results[size] = {"seconds": total, "peak_rss_mb": peak, "export_vs_scan": ratio,
                             "export_rss_mb": rows["export"]["peak_rss_mb"]}
            ok &= peak < TARGETS["pipeline_rss_mb"] and ratio >= TARGETS["export_vs_scan"] \
                and rows["export"]["peak_rss_mb"] < TARGETS["export_rss_mb"]
            if size >= 10_000_000:
                ok &= total <= TARGETS["seconds_10m"]
        size = args.ratio_size or min(args.sizes)
        if args.curate_only:
            return 0
        if args.no_ratio:
            print(f"\ntargets {json.dumps(TARGETS)} (without the workers' speed-up): {'met' if ok else 'NOT met'}")
            return 0 if ok else 1
        db, out = generate_in_child(work, size), work / f"out-{size}"
        print(f"\n== curate + build at {size:,} messages: 1 worker vs {args.workers}")
        print(HEADER)
        base = None
        for engine, workers in [("local", 1), ("local", args.workers)]:
            rows = pipeline(db, out, workers, engine, with_export=False)
            seconds = rows["curate"]["seconds"] + rows["build"]["seconds"]
            for name, r in rows.items():
                print(fmt(f"{name} ({engine}, {workers}w)", r, r["messages"]))
            same = ""
            if base is None:
                base = (seconds, digests(out))
            else:
                identical = digests(out) == base[1]
                same = f"; outputs {'identical' if identical else 'DIFFERENT'} (sha256)"
                ok &= identical and base[0] / seconds >= TARGETS["two_core_speedup"]
            print(f"  curate + build {engine} {workers}w: {seconds:.1f}s, {base[0] / seconds:.2f}x the 1-worker "
                  f"local run{same}", flush=True)
        print(f"\ntargets {json.dumps(TARGETS)}: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.keep:
            for p in work.glob("out-*"):
                shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
