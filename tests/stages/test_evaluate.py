"""The evaluate stage on the 3-case fixture golden set with two tiny models built here."""

import json
import shutil
from pathlib import Path

import pytest

from logtune.golden.contract import read_golden
from logtune.evaluate.run import case_messages
from logtune.ids import prompt_version
from logtune.io import read_json, read_rows, write_rows
from logtune.records import SFT_EXAMPLE
from tests.fixtures.evaluate.tiny_model import save_tiny_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evaluate"
SYSTEM = "You are the support assistant. Answer from CONTEXT only."
# What the taught model says to g001..g003: a right answer, a right refusal, and a right answer that
# cites PRJ-104 while CONTEXT only has PRJ-1042 (a hallucinated id hidden as a substring).
TAUGHT = ["PRJ-1042 is in progress.", "I couldn't find PRJ-2077 in the context.", "PRJ-104 is blocked."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    prompts = [case_messages(c, SYSTEM) for c in read_golden(FIXTURES / "golden.jsonl")]
    save_tiny_model(root / "base")
    save_tiny_model(root / "sft", prompts=prompts, replies=TAUGHT, steps=80)
    return root


def run(stage, tmp_path, models, out="eval", extra=(), baseline="base", names=("base", "sft")):
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"assistant": {"system_prompt": SYSTEM},
                                  "evaluate": {"id_patterns": [r"\b[A-Z]{2,5}-\d{2,6}\b"], "max_new_tokens": 32,
                                               "batch_size": 2, "seed": 0, "allow_prompt_ids": True,
                                               "baseline": baseline}}))
    metrics = tmp_path / f"{out}.json"
    model_args = [a for n in names for a in ("--model", f"{n}={models / n}")]
    rc = stage("evaluate").main([str(FIXTURES / "golden.jsonl"), str(tmp_path / out), *model_args,
                                 "--params", str(params), "--metrics", str(metrics), *extra])
    assert rc == 0
    return read_json(metrics), tmp_path / out


def test_evaluate_scores_each_model_on_each_case(stage, tmp_path, models):
    metrics, out = run(stage, tmp_path, models)
    assert sorted(metrics) == ["base", "sft"]
    sft = metrics["sft"]
    assert sft["n_cases"] == 3
    assert sft["accuracy"] == pytest.approx(2 / 3)          # g003 fails on its hallucinated id
    assert sft["hallucinated_id_rate"] == pytest.approx(1 / 3)
    assert sft["refusal_accuracy"] == 1.0 and sft["refusal_precision"] == 1.0 and sft["refusal_recall"] == 1.0
    assert sft["by_tag"]["status"]["n_cases"] == 2 and sft["by_tag"]["status"]["accuracy"] == 0.5
    assert sft["by_tag"]["refusal"]["accuracy"] == 1.0
    assert sft["context_retention"] == 0.0                   # g003, the multi-turn case, is the one that fails
    assert sft["by_case_type"]["refusal"]["accuracy"] == 1.0 and sft["by_case_type"]["multi_turn"]["n_cases"] == 1
    assert sft["prompt_version"] == prompt_version(SYSTEM) and sft["chat_template_version"]
    rows = read_rows(out / "results.parquet")
    assert json.loads(rows[3]["scores"])["accuracy"] == 1.0 and rows[3]["case_type"] == "answer"
    assert [(r["model"], r["case_id"]) for r in rows] == [(m, c) for m in ("base", "sft") for c in ("g001", "g002", "g003")]
    g003 = rows[-1]
    assert g003["reply"] == TAUGHT[2] and g003["hallucinated_ids"] == ["PRJ-104"] and g003["correct"]
    replies = [json.loads(line) for line in (out / "replies.jsonl").read_text().splitlines()]
    assert len(replies) == 6 and replies[4]["question"] == "What is the status of PRJ-2077?"


def test_evaluate_is_byte_identical_across_runs_and_after_moving_the_model_dirs(stage, tmp_path, models):
    _, first = run(stage, tmp_path, models, out="a")
    moved = tmp_path / "moved"  # model dirs copied elsewhere together must load and score the same
    shutil.copytree(models, moved)
    _, second = run(stage, tmp_path, moved, out="b")
    for name in ("results.parquet", "replies.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_adapter_dir_is_scored_like_its_base_when_the_adapter_is_a_no_op(stage, tmp_path, models):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path / "m"
    shutil.copytree(models / "sft", root / "base")
    # LoRA's B matrix starts at zero, so a fresh adapter computes exactly its base: same replies expected
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(root / "base"),
                                LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(root / "preference")
    AutoTokenizer.from_pretrained(root / "base").save_pretrained(root / "preference")
    (root / "preference" / "logtune_model.json").write_text(json.dumps({"kind": "adapter", "base": "../base"}))
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"assistant": {"system_prompt": SYSTEM}, "evaluate": {"max_new_tokens": 32}}))
    assert stage("evaluate").main([str(FIXTURES / "golden.jsonl"), str(tmp_path / "out"), "--model",
                                   f"preference={root / 'preference'}", "--params", str(params),
                                   "--metrics", str(tmp_path / "eval.json")]) == 0
    assert [r["reply"] for r in read_rows(tmp_path / "out" / "results.parquet")] == TAUGHT


def test_champion_baseline_scores_the_released_model_dir_or_says_there_is_none(stage, tmp_path, models, capsys):
    manifest = tmp_path / "repo" / "release" / "manifest.json"
    metrics, _ = run(stage, tmp_path, models, baseline="champion", names=("sft",), extra=["--release", str(manifest)])
    assert sorted(metrics) == ["sft"] and "no release manifest" in capsys.readouterr().out
    shutil.copytree(models / "sft", tmp_path / "repo" / "release" / "champion")
    manifest.write_text(json.dumps({"release_id": "r1", "model": {"dir": "release/champion", "kind": "full"}}))
    metrics, _ = run(stage, tmp_path, models, baseline="champion", names=("base",), extra=["--release", str(manifest)])
    assert sorted(metrics) == ["base", "champion"]
    assert metrics["champion"]["accuracy"] == pytest.approx(2 / 3)    # the taught model, under the name champion


def test_adapter_with_another_chat_template_than_its_base_is_an_error(stage, tmp_path, models):
    from logtune.evaluate.run import EvaluateError

    root = tmp_path / "m"
    shutil.copytree(models / "base", root / "base")
    shutil.copytree(models / "base", root / "preference")
    (root / "preference" / "logtune_model.json").write_text(json.dumps({"kind": "adapter", "base": "../base"}))
    (root / "preference" / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    with pytest.raises(EvaluateError, match=r"chat template mismatch: .*preference has \w+, its base .*base has \w+"):
        run(stage, tmp_path, root, names=("preference",))


def test_system_prompt_never_trained_on_is_an_error_naming_both(stage, tmp_path, models, monkeypatch):
    from logtune.evaluate.run import EvaluateError

    train = tmp_path / "sft.parquet"
    system = {"role": "system", "content": SYSTEM + '\nCONTEXT: {"projects":[]}'}
    write_rows(train, [{"id": "e1", "messages": [system, {"role": "user", "content": "q"},
                                                 {"role": "assistant", "content": "a"}]}], SFT_EXAMPLE)
    run(stage, tmp_path, models, names=("base",), extra=["--train-data", str(train)])   # the trained prompt: fine
    monkeypatch.setenv("LOGTUNE_SYSTEM_PROMPT_EXTRA", "Always answer in French.")
    with pytest.raises(EvaluateError, match=f"system prompt mismatch: evaluating under \\w+ .*rendered with "
                                            f"{prompt_version(SYSTEM)}"):
        run(stage, tmp_path, models, names=("base",), extra=["--train-data", str(train)])
