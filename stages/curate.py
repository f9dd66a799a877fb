"""Curate exported conversations: keep the good ones, keep every reject with its reason.

dvc: python stages/curate.py data/exported data/curated --golden golden/golden.jsonl --params params.yaml --metrics metrics/curate.json --current-sources
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from logtune.curate import CurateParams, curate_files, exported_files
from logtune.golden.overlap import load_golden
from logtune.io import write_json
from logtune.judge.core import load_judge
from logtune.params import load_params, source_names
from logtune.engine import load_runtime
from logtune.rules import load_rules


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("exported", type=Path, help="folder of exported *.parquet (records.CONVERSATION)")
    ap.add_argument("out", type=Path, help="folder for conversations.parquet and rejected.parquet")
    ap.add_argument("--golden", type=Path, required=True, help="golden set JSONL, kept out of training")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--current-sources", action="store_true",
                    help="read only <name>.parquet for the sources params.yaml lists now (a removed source's "
                         "old export may still sit in the folder)")
    return ap.parse_args(argv)


def exported(args: argparse.Namespace) -> list[Path]:
    if not args.current_sources:
        return exported_files(args.exported)
    names = source_names(args.params)
    stale = sorted(p.name for p in args.exported.glob("*.parquet") if p.stem not in names)
    if stale:
        print(f"curate: not reading {', '.join(stale)}: no longer a source in {args.params}")
    missing = [name for name in names if not (args.exported / f"{name}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(f"{args.exported}: no export of source(s) {', '.join(missing)}")
    return [args.exported / f"{name}.parquet" for name in names]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # progress: rows and bytes read
    params = load_params(args.params, "curate", CurateParams)
    runtime = load_runtime(args.params)
    # a relative rules path is relative to the params file (the repo root, where dvc runs)
    rules = load_rules(None if params.rules is None else args.params.parent / params.rules)
    # the `judge` section's judge scores the replies with curate.judge_min_quality
    judge = load_judge(args.params) if params.judge_min_quality is not None else None
    m = curate_files(exported(args), args.out, params, load_golden(args.golden), rules, runtime, judge)
    write_json(args.metrics, m)
    print(f"curate: read {m['read']}, kept {m['kept']}, rejected {m['rejected']} "
          f"({', '.join(f'{k} {v}' for k, v in m['rejected_by_reason'].items() if v)})")
    if m["judge_quality"]:
        j = m["judge_quality"]
        print(f"curate: {j['judge']} scored {j['replies_scored']} replies of {j['sessions_scored']} sessions; "
              f"{j['replies_below']} below {j['min_quality']}, {j['replies_unparsed']} unread")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
