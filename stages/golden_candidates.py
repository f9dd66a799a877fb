"""Candidate golden cases from your own held-out traffic, queued for review on every run (issue #17, Data Flywheel).

dvc: python stages/golden_candidates.py data/curated/conversations.parquet data/heldout data/train data/golden_candidates/candidates.jsonl --golden golden/golden.jsonl --params params.yaml --metrics metrics/golden_candidates.json

Up-voted or human-rewritten replies of held-out sessions only (never in training: the mix's session split),
stratified by task type and tool, checked by the golden contract and decontaminated. A REVIEW QUEUE, never
the golden set: copy it, set `review.status: accepted` on the cases you vouch for, and
`logtune golden-from-logs --promote COPY` appends those to golden/golden.jsonl (logtune.golden.from_logs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.golden.from_logs import GoldenCandidatesParams, queue
from logtune.io import write_json, write_jsonl
from logtune.params import load_params


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("curated", type=Path, help="curated conversations.parquet")
    ap.add_argument("heldout", type=Path, help="the mix's held-out side (data/heldout)")
    ap.add_argument("train", type=Path, help="the mix's training side (data/train): decontamination")
    ap.add_argument("out", type=Path, help="the review queue (JSONL) to write")
    ap.add_argument("--golden", type=Path, required=True)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "golden_candidates", GoldenCandidatesParams)
    chosen, summary = queue(args.curated, args.heldout, args.train, args.golden, p.n, p.seed, p.max_turns,
                            p.near_threshold)
    write_jsonl(args.out, chosen)
    write_json(args.metrics, summary)
    print(f"[golden_candidates] {summary['queued']} of {summary['candidates']} candidates queued for review in "
          f"{args.out} (dropped {summary['dropped']}, skipped {summary['skipped']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
