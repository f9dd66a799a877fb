"""Promote each task's adapter through its own rollout stage, in order of risk (seed 003, sft.per_task).

Reads every listed task's decision (metrics/gate_task/<task>.json) and writes the per-task rollout plan.
With sft.per_task false it writes a plan saying so (the stage is always in the DAG; it costs nothing).

dvc: python stages/rollout_tasks.py metrics/gate_task --params params.yaml --metrics metrics/rollout_tasks.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from logtune.gate.per_task import check_tasks, plan_tasks
from logtune.gate.rollout import RolloutParams
from logtune.io import read_json, write_json
from logtune.params import ParamsError, load_params, read_params


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("decisions", type=Path, help="folder of the gate_task decisions, <task>.json each")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, required=True, help="the per-task rollout plan (JSON)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    params = read_params(args.params)
    per_task = (params.get("sft") or {}).get("per_task", False)
    if not isinstance(per_task, bool):
        raise ParamsError(f"{args.params}: sft.per_task must be true or false, got {per_task!r}")
    tasks = check_tasks(params.get("sft_tasks") or [])
    if not per_task:
        if tasks:
            raise ParamsError(f"{args.params}: sft_tasks lists {tasks} but sft.per_task is not true")
        write_json(args.metrics, {"per_task": False, "tasks": [], "promoted": [], "held_back": {},
                                  "note": "sft.per_task is false: no per-task adapters to roll out"})
        print("[rollout_tasks] sft.per_task is false: nothing to roll out")
        return 0
    if not tasks:
        raise ParamsError(f"{args.params}: sft.per_task is true but sft_tasks is empty: list the task types "
                          f"to train an adapter for (e.g. [graphics, audio, website, game])")
    decisions = {}
    for task in tasks:
        path = args.decisions / f"{task}.json"
        if not path.is_file():
            raise SystemExit(f"{path}: no decision for task type '{task}' (run stage gate_task@{task})")
        decisions[task] = read_json(path)
    plan = plan_tasks(decisions, tasks, load_params(args.params, "rollout", RolloutParams))
    write_json(args.metrics, plan)
    print(f"[rollout_tasks] promoted {plan['promoted'] or 'none'}"
          + (f"; held back {sorted(plan['held_back'])} at stage {plan['stopped_at']}" if plan["held_back"] else "")
          + (f"; not reached {plan['not_reached']}" if plan["not_reached"] else ""))
    for task, reasons in plan["held_back"].items():
        for reason in reasons:
            print(f"[rollout_tasks]   {task}: {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
