"""Fine-tune a LoRA adapter on the base with TRL SFT (assistant-only loss) from build's SFT examples.

dvc: python stages/sft.py models/base data/built/sft.parquet models/sft --params params.yaml --metrics metrics/sft.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.io import read_rows, write_json
from logtune.params import read_params
from logtune.train.sft import format_loss, train_sft


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path, help="full base model directory (models/base)")
    ap.add_argument("examples", type=Path, help="sft.parquet (records.SFT_EXAMPLE); only `messages` is used")
    ap.add_argument("out", type=Path, help="adapter directory to write (models/sft)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # the section mirrors SFTConfig + LoraConfig, checked against their own fields by train_sft
    section = read_params(args.params).get("sft") or {}
    metrics = train_sft(args.base, read_rows(args.examples, columns=["messages"]), args.out, section)
    write_json(args.metrics, metrics)
    print(f"sft: {metrics['examples']} examples, {metrics['steps']} steps, loss {format_loss(metrics)} -> "
          f"{format_loss(metrics, 'loss_last')}, {metrics['trainable_params']:,} trainable params, {metrics['seconds']}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
