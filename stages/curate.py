"""Curate exported conversations: keep the good ones, keep every reject with its reason.

dvc: python stages/curate.py data/exported data/curated --golden golden/golden.jsonl --params params.yaml --metrics metrics/curate.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune import records
from logtune.curate import CurateParams, curate, read_exported
from logtune.golden.overlap import load_golden
from logtune.io import write_json, write_rows
from logtune.params import load_params
from logtune.rules import load_rules


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("exported", type=Path, help="folder of exported *.parquet (records.CONVERSATION)")
    ap.add_argument("out", type=Path, help="folder for conversations.parquet and rejected.parquet")
    ap.add_argument("--golden", type=Path, required=True, help="golden set JSONL, kept out of training")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = load_params(args.params, "curate", CurateParams)
    # a relative rules path is relative to the params file (the repo root, where dvc runs)
    rules = load_rules(None if params.rules is None else args.params.parent / params.rules)
    result = curate(read_exported(args.exported), params, load_golden(args.golden), rules)
    write_rows(args.out / "conversations.parquet", result.kept, records.CONVERSATION)
    write_rows(args.out / "rejected.parquet", result.rejected, records.REJECTED)
    write_json(args.metrics, result.metrics)
    m = result.metrics
    print(f"curate: read {m['read']}, kept {m['kept']}, rejected {m['rejected']} "
          f"({', '.join(f'{k} {v}' for k, v in m['rejected_by_reason'].items() if v)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
