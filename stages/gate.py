"""Decide whether the candidate model may replace its baseline (paired bootstrap per metric), and plan its rollout.

Always exits 0 with the decision written (a reject is a result: `dvc exp run` records it); CI fails on a
reject through `logtune gate --check`.

dvc: python stages/gate.py metrics/eval.json --results data/eval/results.parquet --params params.yaml --metrics metrics/gate.json --rollout metrics/rollout.json --review data/gate/review.html --judge metrics/judge.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.gate.decide import GateParams, decide
from logtune.io import read_json, read_rows, write_json
from logtune.params import load_params, read_params
from logtune.gate.review import write_review
from logtune.gate.rollout import RolloutParams, plan
from logtune.verdict import gate_inputs, summary_lines
from logtune.judge.agreement import gate_note


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_metrics", type=Path, help="metrics/eval.json written by evaluate (checked against the results)")
    ap.add_argument("--results", type=Path, required=True, help="data/eval/results.parquet: per-case scores")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True, help="gate.json: decision, deltas, intervals, flips")
    ap.add_argument("--rollout", type=Path, help="rollout.json: which rollout stages the candidate may enter")
    ap.add_argument("--review", type=Path, help="HTML review page of the per-case results (opens offline)")
    ap.add_argument("--judge", type=Path, help="metrics/judge.json: the judge's verdict, flagged when it is not trusted")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "gate", GateParams)
    rows = read_rows(args.results)
    gate = decide(rows, p, read_json(args.eval_metrics))
    # what the decision was made from, so `logtune gate --check` can tell a stale gate.json from dvc.lock's
    gate["inputs"] = gate_inputs([args.eval_metrics, args.results], read_params(args.params).get("gate"))
    if args.judge:           # reported beside the rule metrics, never deciding; untrusted -> a warning
        gate["judge"], judge_warnings = gate_note(read_json(args.judge))
        gate["warnings"] = [*gate["warnings"], *judge_warnings]
    write_json(args.metrics, gate)
    if args.rollout:
        rollout = plan(rows, gate, p, load_params(args.params, "rollout", RolloutParams))
        write_json(args.rollout, rollout)
    if args.review:
        write_review(args.review, rows, gate)
    for line in summary_lines(gate):
        print(f"[gate] {line}")
    for line in gate["notes"]:
        print(f"[gate]   note: {line}")
    for metric in gate["skipped"]:
        print(f"[gate]   skipped {metric}: null for one of the models, not comparable")
    if args.rollout:
        print(f"[gate] rollout: may enter {rollout['may_enter'] or 'no stage'}"
              + (f"; stopped at {rollout['stopped_at']}" if rollout["stopped_at"] else ""))
    return 0  # a reject is a result, not a failure: `logtune gate --check` turns it into exit 1


if __name__ == "__main__":
    raise SystemExit(main())
