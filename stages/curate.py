"""Curate exported conversations: keep the good ones, keep every reject with its reason.

dvc: python stages/curate.py data/exported data/curated --golden golden/golden.jsonl --params params.yaml --metrics metrics/curate.json --current-sources
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune import records
from logtune.curate import CurateParams, curate, read_exported
from logtune.golden.overlap import load_golden
from logtune.io import read_rows, write_json, write_rows
from logtune.judge.core import load_judge
from logtune.params import load_params, source_names
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


def exported(args: argparse.Namespace) -> list[dict]:
    if not args.current_sources:
        return read_exported(args.exported)
    names = source_names(args.params)
    stale = sorted(p.name for p in args.exported.glob("*.parquet") if p.stem not in names)
    if stale:
        print(f"curate: not reading {', '.join(stale)}: no longer a source in {args.params}")
    return [row for name in names for row in read_rows(args.exported / f"{name}.parquet")]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "curate", CurateParams)
    # a relative rules path is relative to the params file (the repo root, where dvc runs)
    rules = load_rules(None if params.rules is None else args.params.parent / params.rules)
    # the `judge` section's judge scores the replies with curate.judge_min_quality
    judge = load_judge(args.params) if params.judge_min_quality is not None else None
    result = curate(exported(args), params, load_golden(args.golden), rules, judge)
    write_rows(args.out / "conversations.parquet", result.kept, records.CONVERSATION)
    write_rows(args.out / "rejected.parquet", result.rejected, records.REJECTED)
    write_json(args.metrics, result.metrics)
    m = result.metrics
    print(f"curate: read {m['read']}, kept {m['kept']}, rejected {m['rejected']} "
          f"({', '.join(f'{k} {v}' for k, v in m['rejected_by_reason'].items() if v)})")
    if m["judge_quality"]:
        j = m["judge_quality"]
        print(f"curate: {j['judge']} scored {j['replies_scored']} replies of {j['sessions_scored']} sessions; "
              f"{j['replies_below']} below {j['min_quality']}, {j['replies_unparsed']} unread")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
