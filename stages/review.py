"""The human review queue on every run (issue #17, seed 004): a seeded sample of the mixed records on an offline page, with the judge's suggested marks.

dvc: python stages/review.py data/train data/review --reviews reviews --params params.yaml --metrics metrics/review.json

Writes `<out>/queue.html` (the page `logtune review-data` writes, undated: marks are dated the day they are
saved) and `<out>/suggested.jsonl` (the judge's suggested mark per sampled record, `reviewer: judge:<provider>`;
never applied to training: mix applies only the human marks in reviews/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.io import atomic_open, write_json, write_jsonl
from logtune.judge.core import load_judge
from logtune.params import load_params
from logtune.review_page import current_version, load_sets, page
from logtune.review_suggest import ReviewQueueParams, review_queue
from logtune.reviews import latest_review, read_marks


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train", type=Path, help="the mixed training sets (sft/preference/kto.parquet)")
    ap.add_argument("out", type=Path, help="output dir: queue.html, suggested.jsonl")
    ap.add_argument("--reviews", type=Path, help="human review marks (reviews/): the judge's agreement with the latest")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    params = load_params(args.params, "review", ReviewQueueParams)
    judge = load_judge(args.params)
    sets = load_sets(args.train)
    if not any(sets.values()):
        raise SystemExit(f"review: no training records in {args.train} (sft/preference/kto.parquet)")
    version = current_version(args.train, sets)
    review_file = latest_review(args.reviews) if args.reviews else None
    review = (review_file.name, read_marks(review_file)) if review_file is not None else None
    sample, suggested, metrics = review_queue(judge, sets, version, params, review)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_open(args.out / "queue.html") as f:
        f.write(page(sample, version, None))
    write_jsonl(args.out / "suggested.jsonl", suggested)
    write_json(args.metrics, metrics)
    s = metrics["suggested"]
    print(f"[review] {metrics['sample']['n']} records on {args.out / 'queue.html'} (data version {version}); "
          f"{metrics['judge']} suggests keep {s['keep']}, reject {s['reject']}, unparsed {s['unparsed']} "
          f"({args.out / 'suggested.jsonl'}, not applied)")
    agree = metrics["agreement_human"]
    if agree:
        print(f"[review] agreement with {agree['n']} human marks ({review[0]}): {agree['agreement']} "
              f"{agree['interval']} vs chance {agree['chance']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
