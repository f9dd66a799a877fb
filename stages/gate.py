"""Decide whether the candidate model may replace the baseline: no golden metric may regress beyond its tolerance.

dvc: python stages/gate.py metrics/eval.json --params params.yaml --metrics metrics/gate.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.gate import GateParams, compare, flips
from logtune.io import read_json, read_rows, write_json
from logtune.params import load_params


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_metrics", type=Path, help="metrics/eval.json written by the evaluate stage")
    ap.add_argument("--results", type=Path, help="optional data/eval/results.parquet: adds per-case flips")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    p = load_params(args.params, "gate", GateParams)
    decision = compare(read_json(args.eval_metrics), p.candidate, p.baseline, p.tolerances)
    if args.results:
        decision["flips"] = flips(read_rows(args.results), p.candidate, p.baseline)
    write_json(args.metrics, decision)
    print(f"[gate] {decision['decision']}: candidate {p.candidate} vs baseline {p.baseline}")
    for metric in decision["skipped"]:
        print(f"[gate]   skipped {metric}: null for one of the models, not comparable")
    for reason in decision["reasons"]:
        print(f"[gate]   {reason}")
    return 0 if decision["decision"] == "promote" else 1


if __name__ == "__main__":
    raise SystemExit(main())
