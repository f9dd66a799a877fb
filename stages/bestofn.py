"""Best-of-n on-policy pairs: sample n replies from the SFT model per unused logged prompt, pair the best with the worst.

dvc: python stages/bestofn.py models/sft data/train data/bestofn --judge-cache data/judge-cache --params params.yaml --metrics metrics/bestofn.json
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from logtune.bestofn.pairs import context_of, make_pairs, user_text
from logtune.bestofn.params import BestOfNParams
from logtune.bestofn.sample import sample_from_dir
from logtune.bestofn.select import select_prompts
from logtune.io import read_rows, write_json, write_jsonl, write_rows
from logtune.judge.core import QualityItem, make_judge
from logtune.judge.params import JudgeParams
from logtune.params import load_params
from logtune.records import PREFERENCE_PAIR
from logtune.schema_check import RecordCheck

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "preference_pair.v1.schema.json"


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="the SFT model folder (models/sft)")
    ap.add_argument("train", type=Path, help="data/train: preference.parquet and kto.parquet give the prompts, sft.parquet excludes")
    ap.add_argument("out", type=Path, help="output dir: pairs.parquet, graded.jsonl")
    ap.add_argument("--judge-cache", type=Path, help="the LLM judge's response cache (bestofn.use_judge)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "bestofn", BestOfNParams)
    prompts, skipped = select_prompts(read_rows(args.train / "preference.parquet"), read_rows(args.train / "kto.parquet"),
                                      read_rows(args.train / "sft.parquet"), p.max_prompts)
    candidates = sample_from_dir(args.model, prompts, p) if prompts else []
    judge_scores, judge_name = None, None
    if p.use_judge:
        judge = make_judge(load_params(args.params, "judge", JudgeParams),
                           str(args.judge_cache) if args.judge_cache else None)
        judge_name = judge.name
        judge_scores = [judge.quality([QualityItem(f"{q['id']}:{k}", user_text(q["prompt"]), c, context_of(q["prompt"]))
                                       for k, c in enumerate(cands)]) for q, cands in zip(prompts, candidates)]
    pairs, graded, dropped = make_pairs(prompts, candidates, p, str(args.model), judge_scores)
    check, invalid = RecordCheck(SCHEMA), Counter()
    kept = []
    for pair in pairs:
        if (error := check(pair)) is not None:
            invalid[f"schema: {error}"] += 1
        else:
            kept.append(pair)
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "pairs.parquet", kept, PREFERENCE_PAIR)
    write_jsonl(args.out / "graded.jsonl", graded)
    margins = [g["margin"] for g in graded if not g["dropped"]]
    metrics = {"prompts_read": len(prompts) + sum(skipped.values()), "prompts_sampled": len(prompts),
               "skipped_by_reason": dict(sorted(skipped.items())), "n": p.n, "pairs": len(kept),
               "dropped_by_reason": {**dict(sorted(dropped.items())), **invalid}, "judge": judge_name,
               "mean_margin": round(sum(margins) / len(margins), 4) if margins else None}
    assert metrics["prompts_sampled"] == len(kept) + sum(metrics["dropped_by_reason"].values()), "best-of-n lost a prompt"
    write_json(args.metrics, metrics)
    print(f"[bestofn] {len(prompts)} prompts x {p.n} candidates -> {len(kept)} pairs; dropped "
          f"{dict(metrics['dropped_by_reason'])}; skipped {dict(skipped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
