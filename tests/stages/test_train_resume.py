"""An SFT run interrupted mid-epoch continues from its last checkpoint on the next run (as the next
`dvc repro` would run it): the finished phase is skipped, the interrupted one resumes at its checkpoint's
step, the curves continue without repeating a step, and the final adapter equals an uninterrupted run's."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from logtune import records
from logtune.io import read_json, write_rows
from logtune.base.tiny import PretrainParams, build_base
from logtune.train.tracking import TrainingLog
from tests.unit import tiny_training
from tests.unit.tiny_training import FIXTURES

# the shared tiny size, pre-trained for one pass only: these tests check mechanics, not what it learns
TINY = replace(tiny_training.TINY, pretrain=PretrainParams(batch_size=4, epochs=1, warmup_steps=1))
# two phases x 4 examples, 2 per step, 3 epochs: 6 steps per phase; a checkpoint every 3 steps
PARAMS = """
sft:
  seed: 0
  learning_rate: 1.0e-2
  num_train_epochs: 3
  per_device_train_batch_size: 2
  max_length: 256
  logging_steps: 1
  disable_tqdm: true
  curriculum: {{mode: phased, phases: [conversational, refusals]}}
  resume: {{dir: {ck}, save_steps: 3}}
  lora: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
"""
KILL_AT = ("refusals", 5)   # mid-epoch 3 of the second phase; its checkpoint-3 is on disk by then


class Killed(Exception):
    """Stands in for the process being killed: raised inside training, nothing after it runs."""


class InterruptedLog(TrainingLog):
    def callback(self, phase):
        cb = super().callback(phase)
        on_step_end = cb.on_step_end

        def kill(args, state, control, **kwargs):
            if (phase, state.global_step) == KILL_AT:
                raise Killed(f"killed at {phase} step {state.global_step}")
            return on_step_end(args, state, control, **kwargs)

        cb.on_step_end = kill
        return cb


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def run(stage, tmp_path, name, log_cls=TrainingLog):
    module = stage("sft")
    module.TrainingLog = log_cls
    (tmp_path / f"{name}.yaml").write_text(PARAMS.format(ck=tmp_path / f"ck-{name}"))
    return module.main([str(tmp_path / "models" / "base"), str(tmp_path / "sft.parquet"),
                        str(tmp_path / "models" / name), "--params", str(tmp_path / f"{name}.yaml"),
                        "--metrics", str(tmp_path / f"{name}.json"), "--live", str(tmp_path / "live" / name)])


def loss_curve(live: Path) -> list[tuple[int, float]]:
    with (live / "plots" / "metrics" / "train" / "loss.tsv").open() as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f, delimiter="\t")]


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint(stage, tmp_path):
    build_base(rows("conversations.jsonl"), tmp_path / "models" / "base", TINY, log=lambda _: None)
    examples = rows("sft.jsonl")
    write_rows(tmp_path / "sft.parquet",
               [{**r, "id": f"{r['id']}-{phase}", "record_type": "chat", "conversation_id": "c1", "phase": phase}
                for phase in ("conversational", "refusals") for r in examples], records.SFT_EXAMPLE)

    with pytest.raises(Killed):
        run(stage, tmp_path, "resumed", InterruptedLog)
    ck = next((tmp_path / "ck-resumed").iterdir())   # the run's fingerprint directory
    assert (ck / "conversational" / "done.json").is_file()
    assert sorted(p.name for p in (ck / "refusals").iterdir() if p.is_dir()) == ["checkpoint-3"]
    assert not (tmp_path / "models" / "resumed").exists()   # nothing half-written where DVC looks

    assert run(stage, tmp_path, "resumed") == 0                # the rerun: same params, same data
    m = read_json(tmp_path / "resumed.json")
    assert m["phases"]["conversational"].get("reused_from_checkpoint") is True
    assert m["phases"]["refusals"]["resumed_from_step"] == 3 and m["phases"]["refusals"]["steps"] == 6
    assert not (tmp_path / "ck-resumed").exists()             # deleted once the stage succeeded
    # the curves continue: every global step once, phase 2 after phase 1, none repeated or lost
    assert [step for step, _ in loss_curve(tmp_path / "live" / "resumed")] == list(range(1, 13))

    assert run(stage, tmp_path, "straight") == 0               # the same run, never interrupted
    resumed = load_file(tmp_path / "models" / "resumed" / "adapter_model.safetensors")
    straight = load_file(tmp_path / "models" / "straight" / "adapter_model.safetensors")
    assert resumed.keys() == straight.keys()
    for key in straight:
        assert torch.equal(resumed[key], straight[key]), key
    # and the same loss at every step (the steps before the checkpoint replayed from its trainer state)
    assert loss_curve(tmp_path / "live" / "resumed") == loss_curve(tmp_path / "live" / "straight")
