"""Build training records from curated conversations: SFT examples, DPO pairs, KTO examples, rejected replies.

dvc: python stages/build.py data/curated/conversations.parquet data/built --golden golden/golden.jsonl --params params.yaml --metrics metrics/build.json
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from logtune.build import BuildParams, build_files
from logtune.golden.overlap import load_golden
from logtune.io import write_json
from logtune.params import load_params
from logtune.engine import load_runtime


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("conversations", type=Path, help="curated conversations.parquet (records.CONVERSATION)")
    ap.add_argument("out", type=Path, help="folder for sft, preference, kto and rejected .parquet")
    ap.add_argument("--golden", type=Path, required=True, help="golden set JSONL, kept out of training")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # progress: rows and bytes read
    params = load_params(args.params, "build", BuildParams)
    runtime = load_runtime(args.params)
    m = build_files(args.conversations, args.out, params, load_golden(args.golden), runtime)
    write_json(args.metrics, m)
    print(f"build: {m['read']} conversations, {m['replies_seen']} replies -> {m['sft_examples']} SFT examples, "
          f"{m['preference_pairs']} pairs, {m['kto_examples']} KTO examples, {m['rejected']} rejected "
          f"({sum(m['schema_rejected'].values())} records breaking their JSON Schema)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
