"""The gate stage: promote and reject both exit 0 (a reject is a result) after writing gate.json, the rollout
plan and the review page; `logtune gate --check` (tests/unit/test_verdict.py) turns a reject into exit 1."""

import json
from pathlib import Path

import yaml

from logtune.scores import mean_scores
from logtune.io import read_json, write_rows
from logtune.records import EVAL_RESULT

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gate" / "results.json"
STAGES = [{"name": "low_risk", "task_types": ["graphics"], "tolerances": {"accuracy": 0.0}},
          {"name": "medium_risk", "task_types": ["website"], "tolerances": {"accuracy": 0.0}},
          {"name": "high_risk", "task_types": ["game"], "tolerances": {"accuracy": 0.0}}]


def run(stage, tmp_path, rows, rule="significant", stages=STAGES):
    write_rows(tmp_path / "results.parquet", rows, EVAL_RESULT)
    eval_metrics = {m: mean_scores(r for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}
    (tmp_path / "eval.json").write_text(json.dumps(eval_metrics))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "gate": {"candidate": "preference", "baseline": "champion", "fallback_baseline": "base", "rule": rule,
                 "tolerances": {"accuracy": 0.0, "refusal_accuracy": 0.0, "hallucinated_id_rate": 0.0},
                 "bootstrap": {"n_resamples": 500, "confidence": 0.95, "seed": 0}, "tags": ["refusal"]},
        "rollout": {"stages": stages}}))
    rc = stage("gate").main([str(tmp_path / "eval.json"), "--results", str(tmp_path / "results.parquet"),
                             "--params", str(params), "--metrics", str(tmp_path / "gate.json"),
                             "--rollout", str(tmp_path / "rollout.json"), "--review", str(tmp_path / "review.html")])
    return rc, read_json(tmp_path / "gate.json"), read_json(tmp_path / "rollout.json")


def test_gate_promotes_within_noise_and_plans_the_rollout(stage, tmp_path, capsys):
    rc, gate, rollout = run(stage, tmp_path, json.loads(FIXTURE.read_text()))
    assert rc == 0 and gate["decision"] == "promote" and gate["baseline"] == "base"
    assert gate["flips"]["broken"] == ["g3"] and gate["flips"]["fixed"] == ["g2"]
    assert {"ci_low", "ci_high", "delta", "status"} <= set(gate["metrics"]["refusal_accuracy"])
    # graphics passes (g2 fixed), website passes, game has no golden case: the rollout stops there
    assert rollout["may_enter"] == ["low_risk", "medium_risk"] and rollout["stopped_at"] == "high_risk"
    assert rollout["stages"][2]["status"] == "unjudgeable" and "task:game" in rollout["stages"][2]["reasons"][0]
    out = capsys.readouterr().out
    assert "note: baseline 'champion' was not scored" in out and "within noise" in out
    assert (tmp_path / "review.html").read_text().count("data-flip=") == 6


def test_gate_rejects_a_regression_with_reasons_exit_0_and_no_rollout(stage, tmp_path, capsys):
    rows = json.loads(FIXTURE.read_text())
    rc, gate, rollout = run(stage, tmp_path, rows, rule="point")
    assert rc == 0 and gate["decision"] == "reject"   # written and recorded: `dvc exp run` keeps the experiment
    assert set(gate["inputs"]["files"]) == {str(tmp_path / "eval.json"), str(tmp_path / "results.parquet")}
    # refusal_precision is scored but has no rule here: listed, not ignored, in gate.json and on the page
    assert "refusal_precision" in gate["not_gated"]
    assert "id='not-gated'" in (tmp_path / "review.html").read_text()
    assert [r.split(":")[0] for r in gate["reasons"]] == ["refusal_accuracy"] + ["tag refusal"] * 3
    assert rollout["may_enter"] == [] and {s["status"] for s in rollout["stages"]} == {"blocked"}
    assert "REGRESSION refusal_accuracy: baseline 1.0000, candidate 0.8333" in capsys.readouterr().out


def test_a_failing_first_rollout_stage_stops_the_plan(stage, tmp_path):
    stages = [{"name": "audio_first", "task_types": ["audio"], "tolerances": {"refusal_accuracy": 0.0}}] + STAGES
    # point rule inside the stage too: g3 (the one audio case) broke
    rc, gate, rollout = run(stage, tmp_path, json.loads(FIXTURE.read_text()), rule="significant", stages=stages)
    assert rc == 0
    first = rollout["stages"][0]
    # one case, broken: the interval is the single point -1, wholly on the worse side
    assert first["status"] == "failed" and first["n_cases"] == 1 and rollout["may_enter"] == []
    assert [s["status"] for s in rollout["stages"][1:]] == ["not_reached"] * 3
