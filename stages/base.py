"""Build the base model: pre-train the tiny Llama (or, base.architecture: seq2seq, a tiny T5) on the curated text, or copy a local/Hub checkpoint in with its training chat template.

dvc: python stages/base.py data/curated/conversations.parquet models/base --params params.yaml --metrics metrics/base.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.io import read_rows, write_json
from logtune.base.pretrained import base_params, build
from logtune.base.t5 import build_t5_base, copy_pretrained_t5, seq2seq_params


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("conversations", type=Path, help="curated conversations.parquet (records.CONVERSATION)")
    ap.add_argument("out", type=Path, help="model directory to write (full model + tokenizer + logtune_model.json)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params, chat_template = base_params(args.params)   # base.chat_template: a training template of your own
    seq2seq = seq2seq_params(args.params)              # base.architecture: seq2seq builds a T5 (base.t5) instead
    conversations = read_rows(args.conversations) if params.model == "tiny" else []
    if seq2seq.architecture == "seq2seq":
        if chat_template is not None:
            raise SystemExit("base.chat_template: not with base.architecture seq2seq (its template flattens the chat: "
                             "logtune.base.t5.SEQ2SEQ_TEMPLATE)")
        metrics = (build_t5_base(conversations, args.out, seq2seq.t5, params.seed, params.padding_side)
                   if params.model == "tiny" else copy_pretrained_t5(params.model, args.out, params.padding_side))
    else:
        metrics = build(conversations, args.out, params, chat_template)
    write_json(args.metrics, metrics)
    print(f"base: {metrics['model']}, {metrics['params']:,} params, vocab {metrics['vocab_size']}"
          + (f", pre-train loss {metrics['loss_first']:.3f} -> {metrics['loss_last']:.3f} in {metrics['seconds']}s"
             if metrics.get("loss_last") is not None else "")
          + (f", chat template {metrics['chat_template']['family']} ({metrics['chat_template']['source']})"
             if "chat_template" in metrics else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
