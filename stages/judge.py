"""Judge the candidate against its baseline on the golden set, its replies against the logged ones, and itself against thumbs.

dvc: python stages/judge.py data/eval/results.parquet data/judge --golden golden/golden.jsonl --curated data/curated/conversations.parquet --rejected data/curated/rejected.parquet --dryrun data/dryrun/decisions.jsonl --reviews reviews --train data/train --params params.yaml --metrics metrics/judge.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logtune.golden.contract import read_golden
from logtune.io import read_jsonl, read_rows, write_json, write_jsonl
from logtune.judge.core import load_judge
from logtune.judge.run import judge_filtered, judge_run, review_labels
from logtune.reviews import latest_review, read_marks


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="evaluate's per-case results (replies of every model)")
    ap.add_argument("out", type=Path, help="output dir: pairwise.jsonl, thumbs.jsonl")
    ap.add_argument("--golden", type=Path, required=True)
    ap.add_argument("--curated", type=Path, required=True, help="curated conversations: their thumbs are the human labels")
    ap.add_argument("--rejected", type=Path, help="curate's rejects: the thumbs of sessions the judge's own filter "
                                                  "dropped are labels too (else filtering hides its misses)")
    ap.add_argument("--dryrun", type=Path, help="dry-run decisions: held-out prompts with logged and model replies")
    ap.add_argument("--reviews", type=Path, help="human review marks (reviews/): a second set of labels for agreement")
    ap.add_argument("--train", type=Path, help="the reviewed training sets (data/train): what the marks refer to")
    ap.add_argument("--cache", type=Path, help="the LLM judge's response store (default: judge.cache_dir; never a DVC out)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="LLM judge: print requests, tokens and cost; ask and write nothing")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    judge = load_judge(args.params, args.cache, dry_run=args.dry_run)
    review_file = latest_review(args.reviews) if args.reviews else None
    review = (review_labels(read_marks(review_file), read_rows(args.train / "sft.parquet"))
              if review_file is not None and args.train else None)
    metrics, pairs, thumbs = judge_run(
        judge, results=read_rows(args.results), cases=read_golden(args.golden),
        conversations=read_rows(args.curated, columns=["id", "context", "messages"]),
        filtered=judge_filtered(read_rows(args.rejected)) if args.rejected else None,
        decisions=read_jsonl(args.dryrun) if args.dryrun else None, review=review)
    if args.dry_run:
        print(json.dumps(judge.backend.plan() if hasattr(judge.backend, "plan") else {"provider": judge.params.provider,
                                                                                    "requests": 0, "usd_est": 0.0}))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "pairwise.jsonl", pairs)
    write_jsonl(args.out / "thumbs.jsonl", thumbs)
    write_json(args.metrics, metrics)
    pw, ag = metrics["pairwise"], metrics["agreement_thumbs"]
    print(f"[judge] {metrics['judge']}: {pw['candidate']} vs {pw['baseline']} on {pw['n']} golden cases: "
          f"win rate {pw['candidate_win_rate']} ({pw['position_inconsistent']} order-dependent verdicts)")
    print(f"[judge] agreement with {ag['n']} logged thumbs: {ag['agreement']} {ag['interval']} vs chance {ag['chance']}"
          + ("" if metrics["trusted"] else f": NOT trusted ({metrics['untrusted_because']})"))
    rv = metrics["agreement_review"]
    if rv:
        print(f"[judge] agreement with {rv['n']} review marks: {rv['agreement']} {rv['interval']} vs chance {rv['chance']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
