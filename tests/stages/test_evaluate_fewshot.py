"""evaluate with `few_shot.k`: the base model is also scored as `base_2shot`, with the drawn examples recorded."""

import json
from pathlib import Path

import pytest

from logtune.io import read_json, read_rows, write_rows
from logtune.records import SFT_EXAMPLE
from tests.fixtures.evaluate.tiny_model import save_tiny_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evaluate"
SYSTEM = "You are the support assistant. Answer from CONTEXT only."


def test_few_shot_baseline_is_scored_beside_the_models(stage, tmp_path):
    save_tiny_model(tmp_path / "base")
    train = [{"id": f"t{i}", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                                            {"role": "assistant", "content": a}], "provenance": "real"}
             for i, (q, a) in enumerate([("Status of PRJ-1?", "In progress."), ("Owner of PRJ-2?", "Dana Ruiz."),
                                         ("Due date of PRJ-3?", "Next week.")])]
    write_rows(tmp_path / "sft.parquet", train, SFT_EXAMPLE)
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"assistant": {"system_prompt": SYSTEM}, "evaluate": {
        "max_new_tokens": 8, "batch_size": 4, "few_shot": {"k": 2, "model": "base", "seed": 0}}}))
    rc = stage("evaluate").main([str(FIXTURES / "golden.jsonl"), str(tmp_path / "eval"),
                                 "--model", f"base={tmp_path / 'base'}", "--train-data", str(tmp_path / "sft.parquet"),
                                 "--params", str(params), "--metrics", str(tmp_path / "eval.json")])
    assert rc == 0
    metrics = read_json(tmp_path / "eval.json")
    assert sorted(metrics) == ["base", "base_2shot"]
    assert len(metrics["base_2shot"]["few_shot_examples"]) == 2 and metrics["base_2shot"]["n_cases"] == 3
    assert metrics["base_2shot"]["chat_template_version"] == metrics["base"]["chat_template_version"]
    assert {r["model"] for r in read_rows(tmp_path / "eval" / "results.parquet")} == {"base", "base_2shot"}


def test_few_shot_without_training_data_is_an_error(stage, tmp_path):
    save_tiny_model(tmp_path / "base")
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"assistant": {"system_prompt": SYSTEM}, "evaluate": {"few_shot": {"k": 2}}}))
    with pytest.raises(SystemExit, match="few_shot needs --train-data"):
        stage("evaluate").main([str(FIXTURES / "golden.jsonl"), str(tmp_path / "eval"),
                                "--model", f"base={tmp_path / 'base'}", "--params", str(params),
                                "--metrics", str(tmp_path / "eval.json")])
