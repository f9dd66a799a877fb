"""The rollout plan (seed 003): which task types a promoted candidate may serve, entered in order of risk.

params.yaml `rollout.stages` lists stages from least to most risky (seed 003's default: graphics and
audio, then website corrections, then game hosting), each with its task types and its own gate:
tolerances on the metrics of the golden cases tagged `task:<type>` for those types, judged by the same
paired bootstrap and rule as the overall gate (`logtune.gate.decide`). Stages are entered in order; the first
stage that fails its gate, or cannot be judged because no golden case covers its task types, stops the
rollout there, and the plan says why. A candidate the overall gate rejected enters no stage.
Not for serving traffic: the plan (metrics/rollout.json) is what a deploy script or a human reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from logtune.gate.decide import GateError, GateParams, check_params, metric_deltas, paired_cases, resample_counts


@dataclass(frozen=True)
class RolloutStage:
    name: str
    task_types: list[str]
    tolerances: dict[str, float] = field(default_factory=dict)   # metric -> allowed regression on these cases


@dataclass(frozen=True)
class RolloutParams:
    """params.yaml `rollout`."""
    tag_prefix: str = "task:"          # golden cases carry their task type as a tag `task:<type>`
    stages: list[RolloutStage] = field(default_factory=list)


def check_rollout(p: RolloutParams) -> None:
    names = [s.name for s in p.stages]
    if len(set(names)) != len(names):
        raise GateError(f"rollout.stages: stage names must be unique, got {names}")
    for s in p.stages:
        if not s.task_types:
            raise GateError(f"rollout.stages.{s.name}: task_types must list at least one task type")
        if not s.tolerances:
            raise GateError(f"rollout.stages.{s.name}: tolerances must gate at least one metric")
        check_params(GateParams(tolerances=s.tolerances))


def plan(rows: list[dict[str, Any]], gate: dict[str, Any], gate_params: GateParams,
         p: RolloutParams) -> dict[str, Any]:
    """{may_enter: [stage names], stopped_at, stages: [{name, task_types, status, n_cases, reasons, metrics}]}.

    `gate`: the overall decision (gate.decide's result); its candidate/baseline and bootstrap are reused so
    the stage gates see the same resampled golden sets as the overall one.
    """
    check_rollout(p)
    paired = paired_cases(rows, gate["candidate"], gate["baseline"])
    counts = resample_counts(len(paired.case_ids), gate_params.bootstrap.n_resamples, gate_params.bootstrap.seed)
    stages, may_enter, stopped_at = [], [], None
    blocked = "overall gate rejected the candidate" if gate["decision"] != "promote" else None
    for s in p.stages:
        entry: dict[str, Any] = {"name": s.name, "task_types": list(s.task_types), "n_cases": 0, "reasons": [],
                                 "metrics": {}}
        stages.append(entry)
        if blocked or stopped_at:
            entry["status"] = "blocked" if blocked else "not_reached"
            entry["reasons"] = [blocked or f"rollout stopped at stage {stopped_at}"]
            continue
        wanted = {p.tag_prefix + t for t in s.task_types}
        select = np.array([1.0 if wanted & set(t) else 0.0 for t in paired.tags])
        entry["n_cases"] = int(select.sum())
        if not select.any():
            entry["status"] = "unjudgeable"
            entry["reasons"] = [f"no golden case tagged {' or '.join(sorted(wanted))}: add cases for these task "
                                f"types before rolling them out"]
            stopped_at = s.name
            continue
        stage_params = GateParams(candidate=gate_params.candidate, tolerances=dict(s.tolerances),
                                  rule=gate_params.rule, bootstrap=gate_params.bootstrap)
        reasons: list[str] = []
        skipped: list[str] = []
        entry["metrics"] = metric_deltas(paired, counts, stage_params, sorted(s.tolerances), select, "",
                                         reasons, [], skipped)
        if skipped and len(skipped) == len(s.tolerances):
            reasons.append(f"every gated metric ({', '.join(skipped)}) is null on these cases")
            entry["status"] = "unjudgeable"
        else:
            entry["status"] = "failed" if reasons else "pass"
        entry["reasons"] = reasons
        if entry["status"] == "pass":
            may_enter.append(s.name)
        else:
            stopped_at = s.name
    return {"candidate": gate["candidate"], "baseline": gate["baseline"], "gate_decision": gate["decision"],
            "may_enter": may_enter, "stopped_at": stopped_at if not blocked else (p.stages[0].name if p.stages else None),
            "stages": stages}

