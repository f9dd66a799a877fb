"""Seed 003's per-task adapters through the rollout plan: each task's adapter judged on its own cases, then
promoted through its own risk stage, in the rollout's order.

With `sft.per_task: true`, every task type listed in params `sft_tasks` has its own adapter
(`models/sft_task/<type>`, stage `sft_task`), scored by `evaluate_task` on the golden cases tagged
`task:<type>` only, as model `sft_task` beside `base` and the general model.

`judge_task` (stage `gate_task`, one per task) compares the task's adapter with the base on those
cases, with the tolerances of the rollout stage that lists the task (params `rollout.stages`: seed
003's graphics and audio, then website, then game) and the gate's rule and bootstrap
(`logtune.gate.decide`). Its decision: `promote`, `hold` (a metric regressed beyond tolerance: each
regression named, with its interval) or `unjudgeable` (no case of the task, or every gated metric null
on them). The general model's deltas on the same cases are reported beside it, never gating.

`plan_tasks` (stage `rollout_tasks`) walks the rollout stages in order. A stage with no per-task adapter
is skipped. In a stage, every task whose adapter was promoted may serve its task; one held back stops
the rollout there: the later (riskier) stages are `not_reached` until it is fixed, as seed 003's
gradual deployment asks (low risk first). metrics/rollout_tasks.json is what a deploy script reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logtune.gate.decide import (GateError, GateParams, check_against_eval, flips, metric_deltas, paired_cases,
                                 resample_counts)
from logtune.gate.rollout import RolloutParams, RolloutStage, check_rollout

CANDIDATE = "sft_task"   # the model name evaluate_task scores a task's adapter under
BASELINE = "base"


def check_tasks(tasks: Any) -> list[str]:
    """params `sft_tasks`: a list of unique task type names."""
    if not isinstance(tasks, list) or not all(isinstance(t, str) and t for t in tasks):
        raise GateError(f"params sft_tasks: expected a list of task type names, got {tasks!r}")
    if len(set(tasks)) != len(tasks):
        raise GateError(f"params sft_tasks: each task type once, got {tasks}")
    return tasks


def task_stage(task: str, p: RolloutParams) -> tuple[int, RolloutStage]:
    """(position, stage) of the first rollout stage listing `task`; GateError when none does."""
    for i, stage in enumerate(p.stages):
        if task in stage.task_types:
            return i, stage
    raise GateError(f"task type '{task}' is in no rollout stage: add it to a stage's task_types in params "
                    f"rollout.stages (its risk decides when its adapter may serve)")


def judge_task(rows: list[dict[str, Any]], task: str, gate_params: GateParams, p: RolloutParams,
               general: str | None = None, eval_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task adapter's decision on its own cases: {task, risk_stage, order, decision, n_cases, regressions,
    warnings, metrics, flips, general}. `rows`: evaluate_task's per-case results; `general`: the general
    model's name in them (reported beside, never gating; None: not reported); `eval_metrics`:
    evaluate_task's metrics, checked against the rows (a stale one is an error, as in the overall gate)."""
    check_rollout(p)
    order, stage = task_stage(task, p)
    paired = paired_cases(rows, CANDIDATE, BASELINE)
    if eval_metrics is not None:
        check_against_eval(eval_metrics, paired, {"baseline": BASELINE, "candidate": CANDIDATE})
    tag = p.tag_prefix + task
    select = np.array([1.0 if tag in t else 0.0 for t in paired.tags])
    out: dict[str, Any] = {"task": task, "risk_stage": stage.name, "order": order, "candidate": CANDIDATE,
                           "baseline": BASELINE, "tag": tag, "n_cases": int(select.sum()), "regressions": [],
                           "warnings": [], "metrics": {}, "general": None}
    if not select.any():
        out.update(decision="unjudgeable", reasons=[f"no golden case tagged {tag}: add cases for this task type"])
        return out
    counts = resample_counts(len(paired.case_ids), gate_params.bootstrap.n_resamples, gate_params.bootstrap.seed)
    stage_params = GateParams(candidate=CANDIDATE, tolerances=dict(stage.tolerances), rule=gate_params.rule,
                              bootstrap=gate_params.bootstrap)
    skipped: list[str] = []
    out["metrics"] = metric_deltas(paired, counts, stage_params, sorted(stage.tolerances), select, f"{task}: ",
                                   out["regressions"], out["warnings"], skipped)
    if out["regressions"]:
        out["decision"], out["reasons"] = "hold", list(out["regressions"])
    elif len(skipped) == len(stage.tolerances):
        out["decision"], out["reasons"] = "unjudgeable", [f"every gated metric ({', '.join(skipped)}) is null "
                                                          f"on the {tag} cases"]
    else:
        out["decision"], out["reasons"] = "promote", []
    out["flips"] = flips(paired)
    if general and any(r["model"] == general for r in rows):
        g = paired_cases(rows, general, BASELINE)
        report = GateParams(candidate=general, tolerances={}, bootstrap=gate_params.bootstrap)
        out["general"] = {"model": general, "metrics": metric_deltas(
            g, resample_counts(len(g.case_ids), gate_params.bootstrap.n_resamples, gate_params.bootstrap.seed),
            report, sorted(stage.tolerances), np.array([1.0 if tag in t else 0.0 for t in g.tags]), "", [], [], [])}
    return out


def plan_tasks(decisions: dict[str, dict[str, Any]], tasks: list[str], p: RolloutParams) -> dict[str, Any]:
    """{per_task, tasks, promoted, held_back: {task: reasons}, not_reached, stopped_at, stages: [...]}.

    `decisions`: judge_task's result for every task in `tasks` (params sft_tasks).
    """
    check_rollout(p)
    check_tasks(tasks)
    stage_of = {t: task_stage(t, p)[1].name for t in tasks}
    for t in tasks:
        d = decisions.get(t)
        if d is None:
            raise GateError(f"no per-task decision for task type '{t}' (stage gate_task@{t} has not run)")
        if d.get("task") != t or d.get("risk_stage") != stage_of[t]:
            raise GateError(f"the decision for '{t}' is stale: it judges task {d.get('task')!r} in rollout stage "
                            f"{d.get('risk_stage')!r}, params put it in {stage_of[t]!r}; re-run gate_task@{t}")
    promoted, held, not_reached, stages = [], {}, [], []
    stopped_at = None
    for s in p.stages:
        mine = [t for t in s.task_types if t in stage_of and stage_of[t] == s.name]   # the stage's own order
        entry: dict[str, Any] = {"name": s.name, "task_types": list(s.task_types), "tasks": {}}
        stages.append(entry)
        if not mine:
            entry["status"] = "no_adapter"
            continue
        for t in mine:
            d = decisions[t]
            if stopped_at:
                entry["tasks"][t] = {"status": "not_reached",
                                     "reasons": [f"waits for rollout stage {stopped_at}: a task there was held back"],
                                     "decision": d["decision"]}
                not_reached.append(t)
            elif d["decision"] == "promote":
                entry["tasks"][t] = {"status": "promoted", "reasons": [], "n_cases": d["n_cases"]}
                promoted.append(t)
            else:
                entry["tasks"][t] = {"status": "held_back", "reasons": list(d["reasons"]), "n_cases": d["n_cases"],
                                     "decision": d["decision"]}
                held[t] = list(d["reasons"])
        if stopped_at:
            entry["status"] = "not_reached"
        else:
            entry["status"] = "held" if any(t in held for t in mine) else "pass"
            if entry["status"] == "held":
                stopped_at = s.name
    return {"per_task": True, "tasks": list(tasks), "candidate": CANDIDATE, "baseline": BASELINE,
            "promoted": promoted, "held_back": held, "not_reached": not_reached, "stopped_at": stopped_at,
            "stages": stages}
