"""Build training records from curated conversations: SFT examples, DPO pairs, KTO examples, rejected replies.

dvc: python stages/build.py data/curated/conversations.parquet data/built --golden golden/golden.jsonl --params params.yaml --metrics metrics/build.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune import records
from logtune.build import BuildParams, build
from logtune.golden.overlap import load_golden
from logtune.io import read_rows, write_json, write_rows
from logtune.params import load_params


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
    params = load_params(args.params, "build", BuildParams)
    result = build(read_rows(args.conversations), params, load_golden(args.golden))
    write_rows(args.out / "sft.parquet", result.sft, records.SFT_EXAMPLE)
    write_rows(args.out / "preference.parquet", result.preference, records.PREFERENCE_PAIR)
    write_rows(args.out / "kto.parquet", result.kto, records.KTO_EXAMPLE)
    write_rows(args.out / "rejected.parquet", result.rejected, records.REJECTED)
    write_json(args.metrics, result.metrics)
    m = result.metrics
    print(f"build: {m['read']} conversations, {m['replies_seen']} replies -> {m['sft_examples']} SFT examples, "
          f"{m['preference_pairs']} pairs, {m['kto_examples']} KTO examples, {m['rejected']} rejected "
          f"({sum(m['schema_rejected'].values())} records breaking their JSON Schema)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
