"""The whole pipeline under real `dvc repro` with `base.architecture: seq2seq` (issue #18), on small settings.

The same stages as the causal default (tests/stages/test_pipeline_e2e.py): base builds and pre-trains a tiny
T5, sft trains it with Seq2SeqTrainer + LoRA through the curriculum, preference passes the adapter through
(TRL's DPO is decoder-only) saying why, bestofn/dryrun/evaluate generate with the encoder-decoder, and the
gate compares the candidate with the base as it does the causal one. Slow: it trains end to end.
"""

from __future__ import annotations

import json
import pytest
from tests.stages.test_pipeline_e2e import SHRINK, prepared_repo

SMALL = {
    **SHRINK,
    ("base", "architecture"): "seq2seq",
    ("bestofn", "max_prompts"): 8,
}


@pytest.mark.slow
def test_dvc_repro_seq2seq_end_to_end(tmp_path):
    def small_training(params):
        params["base"]["t5"]["pretrain"]["epochs"] = 4        # a few passes: the mechanics, not the quality
        params["sft"]["num_train_epochs"] = 1

    repo, params, run = prepared_repo(tmp_path, SMALL, small_training)
    first = run("dvc", "repro")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    metrics = {name: json.loads((repo / "metrics" / f"{name}.json").read_text())
               for name in ("base", "sft", "preference", "eval", "gate", "dryrun")}
    assert metrics["base"]["architecture"] == "seq2seq" and metrics["base"]["loss_last"] < metrics["base"]["loss_first"]
    assert json.loads((repo / "models" / "base" / "config.json").read_text())["model_type"] == "t5"
    sft = metrics["sft"]
    assert sft["architecture"] == "seq2seq" and sft["phases_run"] and sft["steps"] > 0
    phases = params["sft"]["curriculum"]["phases"]
    assert [p for p in phases if p in sft["phases_run"]] == [p for p in sft["phases_run"] if p in phases]  # order kept
    assert json.loads((repo / "models" / "sft" / "adapter_config.json").read_text())["task_type"] == "SEQ_2_SEQ_LM"
    assert "seq2seq" in (repo / "models" / "sft" / "README.md").read_text()                 # its own model card
    assert metrics["preference"]["trained"] is False and "decoder-only" in metrics["preference"]["note"]
    assert {"base", "sft", "preference"} <= set(metrics["eval"])
    assert metrics["eval"]["sft"]["n_cases"] == metrics["eval"]["base"]["n_cases"] > 0
    assert metrics["gate"]["candidate"] == "preference" and metrics["gate"]["baseline"] == "base"
    assert metrics["gate"]["decision"] in ("promote", "reject")
    replies = [json.loads(line) for line in (repo / "data" / "eval" / "replies.jsonl").read_text().splitlines()]
    assert all("<extra_id" not in r["reply"] for r in replies if r["model"] == "sft")
