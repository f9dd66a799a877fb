"""Best-of-n on-policy pairs: sample n replies from the SFT model per unused logged prompt, pair the best with the worst.

dvc: python stages/bestofn.py models/sft data/train data/bestofn --params params.yaml --metrics metrics/bestofn.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.bestofn.params import BestOfNParams
from logtune.bestofn.run import run
from logtune.io import write_json, write_jsonl, write_rows
from logtune.judge.core import load_judge
from logtune.params import load_params
from logtune.records import PREFERENCE_PAIR


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="the SFT model folder (models/sft)")
    ap.add_argument("train", type=Path, help="data/train: preference.parquet and kto.parquet give the prompts, sft.parquet excludes")
    ap.add_argument("out", type=Path, help="output dir: pairs.parquet, graded.jsonl")
    ap.add_argument("--judge-cache", type=Path, help="the LLM judge's response store (bestofn.use_judge; default: judge.cache_dir)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "bestofn", BestOfNParams)
    judge = load_judge(args.params, args.judge_cache) if p.use_judge else None
    pairs, graded, metrics = run(args.model, args.train, p, judge)
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "pairs.parquet", pairs, PREFERENCE_PAIR)
    write_jsonl(args.out / "graded.jsonl", graded)
    write_json(args.metrics, metrics)
    print(f"[bestofn] {metrics['prompts_sampled']} prompts x {p.n} candidates -> {metrics['pairs']} pairs; "
          f"dropped {metrics['dropped_by_reason']}; skipped {metrics['skipped_by_reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
