"""Decide whether the candidate model may replace its baseline (paired bootstrap per metric), and plan its rollout.

dvc: python stages/gate.py metrics/eval.json --results data/eval/results.parquet --params params.yaml --metrics metrics/gate.json --rollout metrics/rollout.json --review data/gate/review.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.gate.decide import GateParams, decide
from logtune.io import read_json, read_rows, write_json
from logtune.params import load_params
from logtune.gate.review import write_review
from logtune.gate.rollout import RolloutParams, plan


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_metrics", type=Path, help="metrics/eval.json written by evaluate (checked against the results)")
    ap.add_argument("--results", type=Path, required=True, help="data/eval/results.parquet: per-case scores")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True, help="gate.json: decision, deltas, intervals, flips")
    ap.add_argument("--rollout", type=Path, help="rollout.json: which rollout stages the candidate may enter")
    ap.add_argument("--review", type=Path, help="HTML review page of the per-case results (opens offline)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "gate", GateParams)
    rows = read_rows(args.results)
    gate = decide(rows, p, read_json(args.eval_metrics))
    write_json(args.metrics, gate)
    if args.rollout:
        rollout = plan(rows, gate, p, load_params(args.params, "rollout", RolloutParams))
        write_json(args.rollout, rollout)
    if args.review:
        write_review(args.review, rows, gate)
    print(f"[gate] {gate['decision']}: candidate {gate['candidate']} vs baseline {gate['baseline']} "
          f"on {gate['n_cases']} cases (rule {gate['rule']}); flips: {gate['flips']['n_fixed']} fixed, "
          f"{gate['flips']['n_broken']} broken")
    for line in gate["notes"]:
        print(f"[gate]   note: {line}")
    for line in gate["reasons"]:
        print(f"[gate]   REGRESSION {line}")
    for line in gate["warnings"]:
        print(f"[gate]   warning: {line}")
    for metric in gate["skipped"]:
        print(f"[gate]   skipped {metric}: null for one of the models, not comparable")
    if args.rollout:
        print(f"[gate] rollout: may enter {rollout['may_enter'] or 'no stage'}"
              + (f"; stopped at {rollout['stopped_at']}" if rollout["stopped_at"] else ""))
    return 0 if gate["decision"] == "promote" else 1


if __name__ == "__main__":
    raise SystemExit(main())
