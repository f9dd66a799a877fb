"""The rollout plan on the gate fixture: stages entered in risk order, stopped by a failing or unjudgeable stage."""

import json
from pathlib import Path

import pytest

from logtune.gate.decide import BootstrapParams, GateError, GateParams, decide
from logtune.gate.rollout import RolloutParams, RolloutStage, check_rollout, plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"
GATE = GateParams(tolerances={"accuracy": 0.0}, bootstrap=BootstrapParams(n_resamples=300), rule="point")
ACC = {"accuracy": 0.0}


def stages(*specs) -> RolloutParams:
    return RolloutParams(stages=[RolloutStage(name, types, tol) for name, types, tol in specs])


def run(p: RolloutParams, rows=None):
    rows = rows or json.loads(FIXTURE.read_text())
    return plan(rows, decide(rows, GATE), GATE, p)


def test_seed_003_order_passes_graphics_and_website_then_stops_at_game_with_no_cases():
    r = run(stages(("low", ["graphics"], ACC), ("medium", ["website"], ACC), ("high", ["game"], ACC)))
    assert r["may_enter"] == ["low", "medium"] and r["stopped_at"] == "high"
    assert [s["status"] for s in r["stages"]] == ["pass", "pass", "unjudgeable"]
    assert r["stages"][0]["n_cases"] == 2 and r["stages"][0]["metrics"]["accuracy"]["delta"] == 0.5


def test_a_failing_stage_stops_every_later_stage():
    r = run(stages(("audio", ["audio"], ACC), ("website", ["website"], ACC)))
    assert r["may_enter"] == [] and r["stopped_at"] == "audio"
    assert r["stages"][0]["status"] == "failed" and r["stages"][0]["reasons"][0].startswith("accuracy: baseline 1.0000")
    assert r["stages"][1] == {"name": "website", "task_types": ["website"], "n_cases": 0, "metrics": {},
                              "status": "not_reached", "reasons": ["rollout stopped at stage audio"]}


def test_two_task_types_in_one_stage_are_judged_together():
    r = run(stages(("low", ["graphics", "audio"], ACC)))
    assert r["stages"][0]["n_cases"] == 3 and r["stages"][0]["metrics"]["accuracy"]["delta"] == 0.0
    assert r["may_enter"] == ["low"]


def test_a_rejected_candidate_enters_no_stage():
    rows = json.loads(FIXTURE.read_text())
    gate = decide(rows, GateParams(tolerances={"refusal_accuracy": 0.0}, rule="point",
                                   bootstrap=BootstrapParams(n_resamples=300)))
    r = plan(rows, gate, GATE, stages(("low", ["graphics"], ACC)))
    assert gate["decision"] == "reject" and r["may_enter"] == [] and r["stages"][0]["status"] == "blocked"


@pytest.mark.parametrize("p, message", [
    (stages(("a", ["x"], ACC), ("a", ["y"], ACC)), "stage names must be unique"),
    (stages(("a", [], ACC)), "task_types must list"),
    (stages(("a", ["x"], {})), "tolerances must gate"),
    (stages(("a", ["x"], {"acc": 0.0})), "unknown or ungated metric 'acc'"),
])
def test_bad_rollout_params_are_errors(p, message):
    with pytest.raises(GateError, match=message):
        check_rollout(p)


def test_repo_params_rollout_follows_seed_003_risk_order(repo_root):
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "rollout", RolloutParams)
    check_rollout(p)
    # the embedded default's own task type (support) is judged first; then seed 003's order by risk
    assert [s.task_types for s in p.stages] == [["support"], ["graphics", "audio"], ["website"], ["game"]]
