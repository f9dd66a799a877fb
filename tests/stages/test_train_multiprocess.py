"""`sft.launch.num_processes: 2` re-runs the SFT stage under `accelerate launch`: two CPU processes (gloo)
train the tiny model data-parallel, rank 0 alone writes the adapter and the metrics."""

import json
import math
import os
from dataclasses import replace

import pytest

from logtune import records
from logtune.io import read_json, write_rows
from logtune.train import launch
from logtune.models import load_model
from logtune.base.tiny import PretrainParams, build_base
from tests.unit import tiny_training
from tests.unit.tiny_training import FIXTURES

# the shared tiny size, pre-trained for one pass only: these tests check mechanics, not what it learns
TINY = replace(tiny_training.TINY, pretrain=PretrainParams(batch_size=4, epochs=1, warmup_steps=1))
# 4 examples, 2 per device: one process takes 2 steps per epoch, two processes (global batch 4) take 1
PARAMS = """
sft:
  seed: 0
  learning_rate: 1.0e-2
  num_train_epochs: 2
  per_device_train_batch_size: 2
  max_length: 256
  logging_steps: 1
  disable_tqdm: true
  curriculum: {mode: mixed}
  resume: {enabled: false}
  launch: {num_processes: 2}
  lora: {r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
"""


RANK_HOOK = """
import atexit, json, os, sys
def _report():
    if "RANK" not in os.environ:
        return   # the launcher process itself
    state = getattr(sys.modules.get("accelerate.state"), "PartialState", None)
    shared = getattr(state, "_shared_state", None) or dict()
    os.makedirs({out!r}, exist_ok=True)
    with open(os.path.join({out!r}, "rank" + os.environ["RANK"] + ".json"), "w") as f:
        json.dump(dict(rank=os.environ["RANK"], world_size=os.environ["WORLD_SIZE"],
                       backend=shared.get("backend"), processes=shared.get("num_processes")), f)
atexit.register(_report)
"""


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


@pytest.mark.slow
def test_two_cpu_processes_train_the_sft_stage(stage, tmp_path, capfd, monkeypatch):
    for key in launch.LAUNCHED_ENV:   # pytest may itself run under a launcher
        monkeypatch.delenv(key, raising=False)
    # every Python process the launch starts imports this first: each launched rank leaves a file saying it
    # ran and how its process group was set up (written at exit, after training)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RANK_HOOK.format(out=str(tmp_path / "ranks")))
    monkeypatch.setenv("PYTHONPATH", f"{hook}:{os.environ.get('PYTHONPATH', '')}".rstrip(":"))
    models = tmp_path / "models"
    build_base(rows("conversations.jsonl"), models / "base", TINY, log=lambda _: None)
    write_rows(tmp_path / "sft.parquet", [{**r, "record_type": "chat", "conversation_id": "c1", "phase": "conversational"}
                                          for r in rows("sft.jsonl")], records.SFT_EXAMPLE)
    (tmp_path / "params.yaml").write_text(PARAMS)

    rc = stage("sft").main([str(models / "base"), str(tmp_path / "sft.parquet"), str(models / "sft"), "--params",
                            str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "sft.json"),
                            "--live", str(tmp_path / "live")])
    out = capfd.readouterr()
    assert rc == 0, out.err[-3000:]
    assert "launch: 2 processes" in out.out
    m = read_json(tmp_path / "sft.json")
    # both ranks trained: 4 examples / (2 per device x 2 processes) = 1 step per epoch (one process: 2),
    # and a DDP step cannot complete over gloo unless both ranks take part in its gradient all-reduce
    assert m["steps"] == 2, m
    assert math.isfinite(m["train_loss"]) and all(math.isfinite(x) for x in (m["loss_first"], m["loss_last"]))
    assert read_json(models / "sft" / "logtune_model.json") == {"kind": "adapter", "base": "../base"}
    model, _ = load_model(models / "sft")
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)   # trained (B starts at 0)
    ranks = sorted((tmp_path / "ranks").glob("rank*.json"))
    assert [json.loads(r.read_text()) for r in ranks] == [
        {"rank": str(i), "world_size": "2", "backend": "gloo", "processes": 2} for i in (0, 1)]
    # rank 0 alone wrote the curves: one row per optimizer step, not one per rank
    loss = (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert len(loss) == 1 + 2, loss
