"""Export benchmark: messages per second and peak RSS of the real export path on a 1,000,000-message log DB.

Usage: python benchmarks/export_bench.py [--messages N] [--repeat 3] [--workdir DIR] [--keep] [--workers N]

Generates an assistant log database in the sample DB's schema (`logtune.sample.db.SCHEMA_SQL`; a few distinct
texts, ~8 messages per session, a share of rated replies with notes, meta and rewrites), then, each in its
own child process so generation does not count: (1) a plain `sqlite3` scan of the same messages in session
order (the reference: how fast Python can read the rows at all), (2) `logtune.sources.export.export_source` with the
`assistant_sqlite` adapter, params.yaml's `export` section, `--workers` worker processes (default
params.yaml's `runtime.workers`) and the Parquet writer (what `dvc repro` runs). Prints both rates, their ratio
(wall: export's workers run side by side; CPU: workers' CPU included) and each child's peak RSS (VmHWM, its
own; export: the stage process plus its largest worker). Best of `--repeat` runs (on a shared machine the
others' load comes and goes). Not a test: about a minute, a few hundred MB.
Exit status 0 when the target is met: export >= 0.5x the scan (wall) and < 600 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 0.5        # export's messages/s over the plain sqlite3 scan's, wall time (issue 19)
TARGET_RSS_MB = 600
ROOT = Path(__file__).resolve().parents[1]

CONTEXT = json.dumps({"records": [
    {"id": "PRJ-1042", "title": "Kinase screen", "owner": "Dana Ruiz", "status": "in progress", "due": "2025-03-14"},
    {"id": "SMP-20931", "title": "Liver lysate batch 3", "owner": "Ken Ito", "status": "queued", "due": "2025-02-01"},
]}, separators=(",", ":"))
USER_TEXTS = ["What's the status of PRJ-1042?", "Who owns SMP-20931?", "When is PRJ-1042 due?",
              "And what about the lysate batch?"]
REPLY_TEXTS = ["PRJ-1042 (Kinase screen) is currently in progress, per the record.",
               "SMP-20931 (Liver lysate batch 3) is owned by Ken Ito.",
               "PRJ-1042 is due on 2025-03-14.",
               "I can't find that in the CONTEXT I have; could you give me the record id?"]
SYSTEM_PROMPT = "You are the iSPEC support assistant. Answer only from CONTEXT."


def generate(path: Path, n_messages: int, per_session: int = 8) -> None:
    """Write `n_messages` messages in sessions of `per_session`, straight through executemany."""
    from logtune.sample.db import MESSAGE_COLS, SCHEMA_SQL, SESSION_COLS

    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(SCHEMA_SQL)
    n_sessions = -(-n_messages // per_session)

    def sessions():
        for sid in range(1, n_sessions + 1):
            yield (sid, f"2025-01-{1 + sid % 28:02d}T09:00:00Z", f"u{sid % 977}", "ok", None, SYSTEM_PROMPT, "m1",
                   CONTEXT)

    def messages():
        for mid in range(1, n_messages + 1):
            sid, turn = (mid - 1) // per_session + 1, (mid - 1) % per_session
            stamp = f"2025-01-{1 + sid % 28:02d}T09:{turn:02d}:05Z"
            if turn % 2 == 0:
                yield (mid, sid, "user", USER_TEXTS[mid % 4], stamp, None, None, None)
                continue
            roll = mid % 10  # 30% rated: 2 up, 1 down with a note and a rewrite in the meta
            if roll < 2:
                yield (mid, sid, "assistant", REPLY_TEXTS[mid % 4], stamp, 1, "Thanks!", '{"tags":["helpful"]}')
            elif roll == 2:
                # each rewrite is distinct, as human corrections are (no cache can parse it once for all)
                yield (mid, sid, "assistant", REPLY_TEXTS[mid % 4], stamp, -1, "Wrong owner.",
                       json.dumps({"rewrite": f"{REPLY_TEXTS[(mid + 1) % 4]} (case {mid})", "tags": ["wrong"]}))
            else:
                yield (mid, sid, "assistant", REPLY_TEXTS[mid % 4], stamp, None, None, None)

    with con:
        con.executemany(f"INSERT INTO support_session VALUES ({','.join('?' * len(SESSION_COLS))})", sessions())
        con.executemany(f"INSERT INTO support_message VALUES ({','.join('?' * len(MESSAGE_COLS))})", messages())
    con.close()


def child_reference(db: Path, out: Path) -> dict:
    """Plain sqlite3: every message row in session order, fetched and touched, nothing else."""
    start, cpu = time.perf_counter(), time.process_time()
    con = sqlite3.connect(db)
    cur = con.execute("SELECT id, session_id, role, content, created_at, feedback, feedback_note, feedback_meta_json "
                      "FROM support_message ORDER BY session_id, created_at, id")
    n = 0
    while rows := cur.fetchmany(10_000):
        n += len(rows)
    con.close()
    return {"messages": n, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


def child_export(db: Path, out: Path) -> dict:
    """The real export path: export_source with the assistant_sqlite adapter, writing Parquet + quarantine."""
    from logtune.engine import RuntimeParams
    from logtune.params import load_params, read_params
    from logtune.sources.export import ExportParams, SourceParams, export_source

    runtime = dict(read_params(ROOT / "params.yaml").get("runtime") or {})
    runtime["workers"] = int(os.environ.get("EXPORT_BENCH_WORKERS", runtime.get("workers", 2)))
    start, cpu = time.perf_counter(), time.process_time()
    ledger = export_source(SourceParams(name="bench", kind="assistant_sqlite", path=str(db)), out,
                           load_params(ROOT / "params.yaml", "export", ExportParams), runtime=RuntimeParams(**runtime))
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)   # the worker processes, joined by now
    ledger.pop("shards")
    return {"messages": ledger["messages_exported"], "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu + kids.ru_utime + kids.ru_stime, "ledger": ledger,
            "workers": runtime["workers"], "worker_peak_rss_mb": kids.ru_maxrss / 1024}


def _vm_hwm_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss of a forked child keeps its parent's peak)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


CHILDREN = {"reference": child_reference, "export": child_export}


def run_child(name: str, db: Path, out: Path, workers: int | None = None) -> dict:
    env = dict(os.environ, **({"EXPORT_BENCH_WORKERS": str(workers)} if workers is not None else {}))
    proc = subprocess.run([sys.executable, __file__, "--child", name, str(db), str(out)],
                          check=True, capture_output=True, text=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, help="where the DB and outputs go (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the generated DB and outputs")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each child; the fastest counts (default 3)")
    ap.add_argument("--workers", type=int, help="export's worker processes (default: params.yaml runtime.workers)")
    ap.add_argument("--child", nargs=3, metavar=("WHAT", "DB", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        name, db, out = args.child
        result = CHILDREN[name](Path(db), Path(out))
        result["own_rss_mb"] = _vm_hwm_mb()
        result["peak_rss_mb"] = result["own_rss_mb"] + result.get("worker_peak_rss_mb", 0.0)   # + its largest worker
        print(json.dumps(result))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="logtune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "assistant.db"
    try:
        start = time.perf_counter()
        generate(db, args.messages)
        print(f"generated {args.messages:,} messages in {time.perf_counter() - start:.1f}s ({db})")
        # Alternate the two and keep each one's fastest run: on a shared machine the others' load comes
        # and goes, and the fastest run is the one least disturbed by it.
        runs = [(run_child("reference", db, work / "ref"), run_child("export", db, work / "exported", args.workers))
                for _ in range(args.repeat)]
        ref = min((r for r, _ in runs), key=lambda r: r["seconds"])
        exp = min((e for _, e in runs), key=lambda e: e["seconds"])
        heaviest = max((e for _, e in runs), key=lambda e: e["peak_rss_mb"])
        exp.update({k: heaviest[k] for k in ("peak_rss_mb", "own_rss_mb", "worker_peak_rss_mb")})
        print(f"{'path':<28}{'messages':>11}{'wall s':>8}{'cpu s':>8}{'msgs/s wall':>13}{'msgs/s cpu':>12}"
              f"{'peak RSS MB':>13}  (own + largest worker)")
        for name, r in (("sqlite3 scan (reference)", ref), ("export (assistant_sqlite)", exp)):
            r["rate"], r["cpu_rate"] = r["messages"] / r["seconds"], r["messages"] / r["cpu_seconds"]
            print(f"{name:<28}{r['messages']:>11,}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}{r['rate']:>13,.0f}"
                  f"{r['cpu_rate']:>12,.0f}{r['peak_rss_mb']:>13.0f}  ({r['own_rss_mb']:.0f} + "
                  f"{r.get('worker_peak_rss_mb', 0):.0f})")
        ratio = exp["rate"] / ref["rate"]
        print(f"export ({exp['workers']} workers) / reference: {ratio:.2f} wall, {exp['cpu_rate'] / ref['cpu_rate']:.2f} "
              f"cpu; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"ledger: {json.dumps(exp['ledger'], sort_keys=True)}")
        # wall: the workers run side by side; CPU: what all of them spent (on a shared machine wall time
        # also counts waiting for a core)
        ok = ratio >= TARGET_RATIO and exp["peak_rss_mb"] < TARGET_RSS_MB
        print(f"target >= {TARGET_RATIO}x the scan (wall) and < {TARGET_RSS_MB} MB: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            if args.workdir is None:
                shutil.rmtree(work)
            else:
                db.unlink(missing_ok=True)
                for sub in ("ref", "exported"):
                    shutil.rmtree(work / sub, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
