"""Seed 003's per-task rollout (logtune.gate.per_task) on literal per-case results: each task's adapter judged
against the base on its own cases with its rollout stage's tolerances, then promoted in risk order."""

import json

import pytest

from logtune.gate.decide import BootstrapParams, GateError, GateParams
from logtune.gate.per_task import judge_task, plan_tasks
from logtune.gate.rollout import RolloutParams, RolloutStage

GATE = GateParams(rule="point", bootstrap=BootstrapParams(n_resamples=300))
ACC = {"accuracy": 0.0, "hallucinated_id_rate": 0.0}
# seed 003's order: graphics and audio first, then website, then game
ROLLOUT = RolloutParams(stages=[RolloutStage("support", ["support"], ACC), RolloutStage("low_risk", ["graphics", "audio"], ACC),
                                RolloutStage("medium_risk", ["website"], ACC), RolloutStage("high_risk", ["game"], ACC)])


def row(model, case, task, accuracy, ids=0.0):
    return {"model": model, "case_id": case, "passed": bool(accuracy), "tags": [f"task:{task}"],
            "scores": json.dumps({"accuracy": accuracy, "hallucinated_id_rate": ids})}


def results(task, base, adapter, general=None):
    """Per-case rows of base, sft_task (and the general model) on the task's cases c0, c1, ..."""
    rows = [row("base", f"c{i}", task, a) for i, a in enumerate(base)]
    rows += [row("sft_task", f"c{i}", task, a) for i, a in enumerate(adapter)]
    rows += [row("preference", f"c{i}", task, a) for i, a in enumerate(general or [])]
    return rows


def test_an_adapter_no_worse_than_the_base_on_its_cases_is_promoted_in_its_risk_stage():
    d = judge_task(results("graphics", [1, 0, 0, 1], [1, 1, 0, 1], general=[1, 0, 0, 0]), "graphics", GATE, ROLLOUT,
                   general="preference")
    assert (d["decision"], d["risk_stage"], d["order"], d["n_cases"]) == ("promote", "low_risk", 1, 4)
    assert d["metrics"]["accuracy"]["delta"] == 0.25 and d["flips"]["fixed"] == ["c1"]
    assert d["general"]["model"] == "preference" and d["general"]["metrics"]["accuracy"]["delta"] == -0.25
    assert d["general"]["metrics"]["accuracy"]["status"] == "reported"   # beside, never gating


def test_an_adapter_that_regresses_is_held_with_the_regression_named():
    d = judge_task(results("game", [1, 1, 1, 1], [1, 0, 0, 1]), "game", GATE, ROLLOUT)
    assert d["decision"] == "hold" and d["risk_stage"] == "high_risk"
    assert d["reasons"] == d["regressions"] and len(d["reasons"]) == 1
    assert d["reasons"][0].startswith("game: accuracy: baseline 1.0000, candidate 0.5000, delta -0.5000")


def test_only_the_tasks_own_cases_judge_it():
    rows = results("audio", [1, 1], [1, 1]) + [row("base", "w0", "website", 1), row("sft_task", "w0", "website", 0)]
    d = judge_task(rows, "audio", GATE, ROLLOUT)
    assert d["decision"] == "promote" and d["n_cases"] == 2


def test_no_case_of_the_task_is_unjudgeable_and_a_task_in_no_stage_is_an_error():
    d = judge_task(results("website", [1], [1]), "audio", GATE, ROLLOUT)
    assert d["decision"] == "unjudgeable" and "no golden case tagged task:audio" in d["reasons"][0]
    with pytest.raises(GateError, match="'chess' is in no rollout stage"):
        judge_task(results("chess", [1], [1]), "chess", GATE, ROLLOUT)


def test_stale_eval_metrics_are_an_error():
    with pytest.raises(GateError, match="one of them is stale"):
        judge_task(results("game", [1, 1], [1, 1]), "game", GATE, ROLLOUT, eval_metrics={"sft_task": {"accuracy": 0.5}})


def decision(task, verdict, reasons=()):
    stage = {"graphics": "low_risk", "audio": "low_risk", "website": "medium_risk", "game": "high_risk"}[task]
    return {"task": task, "risk_stage": stage, "decision": verdict, "reasons": list(reasons), "n_cases": 3}


def test_plan_promotes_in_seed_003_order_whatever_order_sft_tasks_lists():
    tasks = ["game", "website", "audio", "graphics"]
    p = plan_tasks({t: decision(t, "promote") for t in tasks}, tasks, ROLLOUT)
    assert p["promoted"] == ["graphics", "audio", "website", "game"]
    assert [s["name"] for s in p["stages"]] == ["support", "low_risk", "medium_risk", "high_risk"]
    assert [s["status"] for s in p["stages"]] == ["no_adapter", "pass", "pass", "pass"]
    assert p["held_back"] == {} and p["stopped_at"] is None


def test_a_held_task_keeps_its_stage_mates_promoted_and_stops_the_riskier_stages():
    tasks = ["graphics", "audio", "website", "game"]
    decisions = {t: decision(t, "promote") for t in tasks}
    decisions["audio"] = decision("audio", "hold", ["audio: accuracy: baseline 1.0000, candidate 0.5000 ..."])
    p = plan_tasks(decisions, tasks, ROLLOUT)
    assert p["promoted"] == ["graphics"] and p["held_back"] == {"audio": ["audio: accuracy: baseline 1.0000, candidate 0.5000 ..."]}
    assert p["stopped_at"] == "low_risk" and p["not_reached"] == ["website", "game"]
    assert [s["status"] for s in p["stages"]] == ["no_adapter", "held", "not_reached", "not_reached"]
    assert p["stages"][2]["tasks"]["website"]["reasons"] == ["waits for rollout stage low_risk: a task there was held back"]


def test_a_held_high_risk_task_holds_only_itself():
    tasks = ["graphics", "game"]
    p = plan_tasks({"graphics": decision("graphics", "promote"), "game": decision("game", "unjudgeable", ["no case"])},
                   tasks, ROLLOUT)
    assert p["promoted"] == ["graphics"] and p["held_back"] == {"game": ["no case"]} and p["stopped_at"] == "high_risk"


def test_missing_or_stale_decisions_and_bad_task_lists_are_errors():
    with pytest.raises(GateError, match="no per-task decision for task type 'game'"):
        plan_tasks({}, ["game"], ROLLOUT)
    with pytest.raises(GateError, match="stale"):
        plan_tasks({"game": {**decision("game", "promote"), "risk_stage": "low_risk"}}, ["game"], ROLLOUT)
    with pytest.raises(GateError, match="each task type once"):
        plan_tasks({}, ["game", "game"], ROLLOUT)
