"""Judge one task's adapter against the base on the task's own golden cases (seed 003, sft.per_task).

Like the overall gate, always exits 0 with the decision written: `hold` (regressions named) is a result,
which the rollout_tasks stage turns into a held-back task.

dvc: python stages/gate_task.py data/eval_task/<task>/results.parquet --eval-metrics metrics/eval_task/<task>.json --task <task> --general preference --params params.yaml --metrics metrics/gate_task/<task>.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.gate.decide import GateParams
from logtune.gate.per_task import judge_task
from logtune.gate.rollout import RolloutParams
from logtune.io import read_json, read_rows, write_json
from logtune.params import load_params


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="evaluate_task's per-case results (results.parquet)")
    ap.add_argument("--eval-metrics", type=Path, help="evaluate_task's metrics, checked against the results")
    ap.add_argument("--task", required=True, help="the task type whose adapter (model sft_task) is judged")
    ap.add_argument("--general", help="the general model's name in the results: reported beside, never gating")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True, help="the task's decision (JSON)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    decision = judge_task(read_rows(args.results), args.task, load_params(args.params, "gate", GateParams),
                          load_params(args.params, "rollout", RolloutParams), general=args.general,
                          eval_metrics=read_json(args.eval_metrics) if args.eval_metrics else None)
    write_json(args.metrics, decision)
    print(f"[gate_task] {args.task} (rollout stage {decision['risk_stage']}): {decision['decision']} "
          f"on {decision['n_cases']} cases")
    for reason in decision["reasons"]:
        print(f"[gate_task]   {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
