"""Validate the training sets with Great Expectations and JSON Schemas; fail to stop training.

dvc: python stages/validate.py data/train --golden golden/golden.jsonl --expectations expectations --tokenizer models/base --reviews reviews --params params.yaml --metrics metrics/validate.json --data-docs data/validate-docs --verdict data/validated.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logtune.chat_templates import require_markers
from logtune.engine import load_runtime
from logtune.io import read_json, write_json
from logtune.params import read_params
from logtune.reviews import latest_review, review_gate
from logtune.validate.gates import failure_lines, metrics, report, summary_lines, validate_built, validate_params
from logtune.validate.docs import write_data_docs
from logtune.validate.tokens import load_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("built", type=Path, help="directory with sft.parquet, preference.parquet, kto.parquet (data/train)")
    ap.add_argument("--golden", type=Path, required=True, help="golden set JSONL (must stay out of training)")
    ap.add_argument("--expectations", type=Path, required=True, help="directory of GX suites: <set>.json")
    ap.add_argument("--schemas", type=Path, default=ROOT / "schemas", help="directory of JSON Schemas")
    ap.add_argument("--reviews", type=Path, help="folder of human review marks: the latest is gated by validate.review")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--report", type=Path, help="optional JSON report: every check with notes and offending ids")
    ap.add_argument("--data-docs", type=Path, help="folder for the Great Expectations Data Docs page (opens offline)")
    ap.add_argument("--verdict", type=Path, help="written only when every check passes; training stages depend "
                    "on it, so a new or changed check does not retrain a model whose data is unchanged")
    ap.add_argument("--tokenizer", type=Path, help="optional model/tokenizer dir (models/base): also run the "
                    "token-level checks (expectations/<set>_tokens.json) through its chat template")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    params = validate_params(read_params(args.params))  # + sft.max_length, curate.golden_near_threshold
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    if tokenizer is not None:  # the training template the base stage wrote, or a clear error naming the fix
        require_markers(tokenizer, f"validate --tokenizer {args.tokenizer}")
    # issue 19: each set streamed in batches over the engine's workers, each loading the tokenizer from its folder
    outcome = validate_built(args.built, args.golden, args.expectations, args.schemas, params,
                             tokenizer=args.tokenizer, runtime=load_runtime(args.params))
    applied = args.built / "review.json"      # written by mix: the version of the data the marks apply to
    review = review_gate(latest_review(args.reviews) if args.reviews else None,
                         read_json(applied)["data_version"] if applied.exists() else None, params.review)
    write_json(args.metrics, {**metrics(outcome), "review": review})  # before failing: the metrics say what failed
    if args.data_docs:  # also before failing: a failed gate is when the page is most wanted
        page = write_data_docs([r for s in (outcome.golden, *outcome.sets) for r in s.gx_results], args.data_docs)
        print(f"validate: data docs {page}")
    if args.report:
        write_json(args.report, report(outcome))
    for line in summary_lines(outcome):
        print(f"validate: {line}")
    failures = failure_lines(outcome) + ([] if review["passed"] else [f"review (validate.review): {review['reason']}"])
    if review["passed"] and review["reason"]:
        print(f"validate: warning: review: {review['reason']}")
    for line in failures:
        print(f"validate: {line}", file=sys.stderr)
    if failures:
        raise SystemExit(1)
    if args.verdict:
        write_json(args.verdict, {"passed": True})
    return 0


if __name__ == "__main__":
    main()
