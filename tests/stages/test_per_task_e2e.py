"""Seed 003's per-task adapters end to end on small settings (sft.per_task: true), from the event-log fixture.

The embedded sample data has one task type (support) and its golden set only `task:support` cases, so this
runs on seed 003's event-log fixture (game, website, graphics calls, with thumbs): export -> curate ->
build -> mix (mix.per_task_type: true) -> a tiny base -> the general SFT adapter and one adapter per task
type (stages/sft.py --task) -> evaluate on each task's own golden cases (--tag task:<type>) -> gate_task
per task -> rollout_tasks. Each step is the stage script DVC runs (same argv shape as dvc.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from logtune.io import read_json, read_rows
from tests.unit.tiny_training import tiny_base

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "sources" / "event_log"
GOLDEN = ROOT / "tests" / "fixtures" / "per_task" / "golden.jsonl"
TASKS = ["game", "website", "graphics"]   # the fixture's task types with a trainable call (audio has none)


def small_params(tmp: Path) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["sources"] = {"calls": {"kind": "event_log", "path": str(EVENTS / "calls.jsonl"), "options": {}},
                         "thumbs": {"kind": "event_log", "path": str(EVENTS / "feedback.jsonl"), "options": {}}}
    params["curate"]["rules"] = str(ROOT / "rules" / "auto_rules.yaml")
    params["mix"].update(per_task_type=True, eval_share=0.0)   # a dozen calls: every one trains
    params["sft"].update(per_task=True, max_steps=2, per_device_train_batch_size=2, max_length=256,
                         lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    params["train_run"]["sft"].update(resume={"enabled": False}, model_card=True)   # run-only knobs
    params["sft"].pop("num_train_epochs")
    params["sft_tasks"] = TASKS
    params["evaluate"].update(max_new_tokens=8, few_shot={"k": 0})
    params["gate"]["bootstrap"]["n_resamples"] = 200
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.mark.slow
def test_per_task_adapters_train_evaluate_and_roll_out_by_risk(stage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # model cards read ./dvc.lock (absent here: a note, not an error)
    params = small_params(tmp_path)
    p = ["--params", str(params)]
    data, metrics, models = tmp_path / "data", tmp_path / "metrics", tmp_path / "models"
    for source in ("calls", "thumbs"):
        assert stage("export").main([source, str(data / "exported"), *p,
                                     "--metrics", str(metrics / "export" / f"{source}.json")]) == 0
    assert stage("curate").main([str(data / "exported"), str(data / "curated"), "--golden", str(GOLDEN), *p,
                                 "--metrics", str(metrics / "curate.json"), "--current-sources"]) == 0
    assert stage("build").main([str(data / "curated" / "conversations.parquet"), str(data / "built"),
                                "--golden", str(GOLDEN), *p, "--metrics", str(metrics / "build.json")]) == 0
    assert stage("mix").main([str(data / "built"), str(data / "train"), str(data / "heldout"),
                              "--curated", str(data / "curated" / "conversations.parquet"), *p,
                              "--metrics", str(metrics / "mix.json")]) == 0

    # the thumbs of seed 003's event log reached the preference sets, routed as build routes every rating:
    # fb-1 up -> KTO true, fb-2 down -> KTO false, fb-3 down with a correction -> a DPO pair
    kto = read_rows(data / "train" / "kto.parquet")
    assert sorted((r["task_type"], r["label"]) for r in kto) == [("game", True), ("website", False)]
    pairs = read_rows(data / "train" / "preference.parquet")
    assert [r["task_type"] for r in pairs] == ["graphics"]
    # one dataset per task type, each holding only its task's examples
    for task in TASKS:
        rows = read_rows(data / "train" / task / "sft.parquet")
        assert rows and {r["task_type"] for r in rows} == {task}

    tiny_base(models / "base")
    assert stage("sft").main([str(models / "base"), str(data / "train" / "sft.parquet"), str(models / "sft"), *p,
                              "--metrics", str(metrics / "sft.json")]) == 0
    for task in TASKS:
        examples = data / "train" / task / "sft.parquet"
        assert stage("sft").main([str(models / "base"), str(examples), str(models / "sft_task" / task), "--task", task,
                                  *p, "--metrics", str(metrics / "sft_task" / f"{task}.json"),
                                  "--live", str(tmp_path / "dvclive" / "sft_task" / task)]) == 0
        m = read_json(metrics / "sft_task" / f"{task}.json")
        assert m["task"] == {"task": task, "read": len(read_rows(examples)), "kept": len(read_rows(examples)),
                             "other_task": {}}
        assert m["steps"] == 2 and m["examples_trained"] == len(read_rows(examples))
        assert (models / "sft_task" / task / "adapter_config.json").is_file()

        assert stage("evaluate").main([str(GOLDEN), str(data / "eval_task" / task), "--tag", f"task:{task}",
                                       "--model", f"base={models / 'base'}", "--model", f"sft={models / 'sft'}",
                                       "--model", f"sft_task={models / 'sft_task' / task}",
                                       "--train-data", str(examples), *p,
                                       "--metrics", str(metrics / "eval_task" / f"{task}.json")]) == 0
        results = read_rows(data / "eval_task" / task / "results.parquet")
        own = {json.loads(line)["id"] for line in GOLDEN.read_text().splitlines()
               if f"task:{task}" in json.loads(line)["tags"]}
        assert {r["case_id"] for r in results} == own and {r["model"] for r in results} == {"base", "sft", "sft_task"}

        assert stage("gate_task").main([str(data / "eval_task" / task / "results.parquet"), "--eval-metrics",
                                        str(metrics / "eval_task" / f"{task}.json"), "--task", task, "--general", "sft",
                                        *p, "--metrics", str(metrics / "gate_task" / f"{task}.json")]) == 0
        d = read_json(metrics / "gate_task" / f"{task}.json")
        assert d["task"] == task and d["n_cases"] == len(own) and d["decision"] in ("promote", "hold", "unjudgeable")
        assert d["general"]["model"] == "sft"

    assert stage("rollout_tasks").main([str(metrics / "gate_task"), *p, "--metrics", str(metrics / "rollout_tasks.json")]) == 0
    plan = read_json(metrics / "rollout_tasks.json")
    order = [s["name"] for s in plan["stages"] if s["status"] != "no_adapter"]
    assert order == ["low_risk", "medium_risk", "high_risk"][:len(order)] and plan["stages"][0]["status"] == "no_adapter"
    decided = set(plan["promoted"]) | set(plan["held_back"]) | set(plan["not_reached"])
    assert decided == set(TASKS)
    for task, reasons in plan["held_back"].items():   # a held task names why
        assert reasons and all(r for r in reasons)
