"""Ray engine benchmark (issue 19): curate + build on a local Ray cluster vs the local engine, same log.

Usage: python benchmarks/ray_bench.py [--size 1000000] [--workers 2] [--workdir DIR] [--keep]

The log of `--size` messages is generated and exported as in scale_bench.py (cached in --workdir with
--keep). Then curate and build run, each in its own child process with params.yaml's sections as
`dvc repro` runs them: first with `runtime.engine: local` and `--workers` worker processes, then with
`runtime.engine: ray` on a Ray cluster started here (`logtune.engine.local_ray_cluster`: a head with no
CPUs and `--workers` worker nodes of one CPU each, on 127.0.0.1; the children attach through RAY_ADDRESS)
with at most `--workers` tasks at once. Printed: each stage's wall and CPU seconds (the stage process's
own; Ray workers' CPU is not in it), the local / ray time ratio, and whether every output file and the
metrics have the same sha256. Exit status 0 when the outputs are identical. Not a test: minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from scale_bench import HEADER, digests, fmt, generate_in_child, pipeline  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="messages in the generated log")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes = Ray worker nodes = tasks at once")
    ap.add_argument("--workdir", type=Path, help="where the log and outputs go (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the generated log (reused by the next run)")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="logtune-ray-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"out-ray-{args.size}"
    try:
        start = time.perf_counter()
        db = generate_in_child(work, args.size)
        print(f"== {args.size:,} messages (log ready in {time.perf_counter() - start:.0f}s: {db})", flush=True)
        runs: dict[str, dict] = {}
        runs["local"] = pipeline(db, out, args.workers, "local")   # exports once, then curate + build
        runs["local"].pop("export")
        local_digests = digests(out)
        from logtune.engine import local_ray_cluster

        start = time.perf_counter()
        with local_ray_cluster(nodes=args.workers, cpus=1, object_store_mb=400) as address:
            print(f"Ray cluster at {address} up in {time.perf_counter() - start:.0f}s", flush=True)
            runs["ray"] = pipeline(db, out, args.workers, "ray", with_export=False)
        ray_digests = digests(out)
        print(HEADER)
        seconds = {}
        for engine, rows in runs.items():
            for name, r in rows.items():
                print(fmt(f"{name} ({engine}, {args.workers}w)", r, r["messages"]))
            seconds[engine] = sum(r["seconds"] for r in rows.values())
        metrics = {e: hashlib.sha256(json.dumps({k: r["metrics"] for k, r in rows.items()}, sort_keys=True)
                                     .encode()).hexdigest() for e, rows in runs.items()}
        identical = local_digests == ray_digests and metrics["local"] == metrics["ray"]
        print(f"curate + build: local {seconds['local']:.1f}s, ray {seconds['ray']:.1f}s: ray / local time "
              f"{seconds['ray'] / seconds['local']:.2f}x; {len(local_digests)} output files and the metrics "
              f"{'identical' if identical else 'DIFFERENT'} (sha256)", flush=True)
        if not identical:
            for name in sorted(set(local_digests) | set(ray_digests)):
                if local_digests.get(name) != ray_digests.get(name):
                    print(f"  differs: {name}")
        return 0 if identical else 1
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
