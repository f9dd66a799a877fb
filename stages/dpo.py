"""Continue the SFT adapter with TRL DPO on build's preference pairs (copied through when there are none).

dvc: python stages/dpo.py models/sft data/built/preference.parquet models/dpo --params params.yaml --metrics metrics/dpo.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.io import read_rows, write_json
from logtune.params import read_params
from logtune.train.dpo import train_dpo
from logtune.train.sft import format_loss


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sft", type=Path, help="SFT adapter directory (models/sft)")
    ap.add_argument("pairs", type=Path, help="preference.parquet (records.PREFERENCE_PAIR)")
    ap.add_argument("out", type=Path, help="adapter directory to write (models/dpo)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # the section mirrors DPOConfig, checked against its own fields by train_dpo
    section = read_params(args.params).get("dpo") or {}
    metrics = train_dpo(args.sft, read_rows(args.pairs, columns=["prompt", "chosen", "rejected"]), args.out, section)
    write_json(args.metrics, metrics)
    if metrics["trained"]:
        print(f"dpo: {metrics['pairs']} pairs, {metrics['steps']} steps, loss {format_loss(metrics)} -> "
              f"{format_loss(metrics, 'loss_last')}, {metrics['seconds']}s")
    else:
        print(f"dpo: {metrics['note']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
