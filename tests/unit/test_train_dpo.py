import json

import pytest
import torch
from safetensors.torch import load_file

from logtune.train.dpo import preference_dataset, train_dpo
from logtune.train.sft import train_sft
from tests.unit.tiny_training import SFT, assert_finite, assert_reloads_and_stops_at_eos, rows, sft_rows, tiny_base

DPO = {"seed": 0, "learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 2, "max_length": 256,
       "logging_steps": 1, "disable_tqdm": True, "beta": 0.1}


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    train_sft(tiny_base(models / "base"), sft_rows(), models / "sft", {**SFT, "max_steps": 40, "curriculum": {"mode": "mixed"}},
              echo=lambda _: None)
    return models / "sft"


def test_preference_dataset_keeps_only_trl_columns():
    ds = preference_dataset(rows("preference.jsonl"))
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert ds[1]["chosen"][0]["content"] == "I couldn't find ORD-388 in the current context."


@pytest.mark.slow
def test_dpo_continues_the_sft_adapter_reloads_and_stops_at_eos(sft_dir, tmp_path):
    out = tmp_path / "dpo"
    m = train_dpo(sft_dir, rows("preference.jsonl"), out, DPO)
    assert_finite(m)
    assert m["trained"] and m["objective"] == "dpo" and m["steps"] == 3 and m["examples"] == m["examples_trained"] == 2
    assert m["reward_accuracy_last"] is not None
    marker = json.loads((out / "logtune_model.json").read_text())
    assert marker["kind"] == "adapter" and (out / marker["base"]).resolve() == (sft_dir.parent / "base").resolve()
    before = load_file(sft_dir / "adapter_model.safetensors")
    after = load_file(out / "adapter_model.safetensors")
    assert before.keys() == after.keys()  # one adapter: TRL's frozen "ref" copy is not saved
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the prompts SFT taught it to answer and stop on: preference training must not unlearn stopping
    assert_reloads_and_stops_at_eos(out, [r["messages"][:-1] for r in sft_rows()])


@pytest.mark.slow
def test_no_pairs_copies_the_sft_adapter_through(sft_dir, tmp_path):
    out = tmp_path / "dpo"
    m = train_dpo(sft_dir, [], out, DPO)
    assert m["trained"] is False and m["examples"] == 0 and "copied unchanged" in m["note"]
    assert (out / "adapter_model.safetensors").read_bytes() == (sft_dir / "adapter_model.safetensors").read_bytes()
    assert json.loads((out / "logtune_model.json").read_text())["kind"] == "adapter"


@pytest.mark.slow
def test_same_inputs_same_seed_give_a_byte_identical_preference_adapter(sft_dir, tmp_path):
    """Same machine, same SFT adapter, pairs and seed: the DPO adapter files come out byte for byte the same
    (base and SFT are covered by test_train_sft's reproducibility test)."""
    outs = [tmp_path / run for run in ("a", "b")]
    for out in outs:
        train_dpo(sft_dir, rows("preference.jsonl"), out, DPO)
    names = sorted(p.name for p in outs[0].iterdir())
    assert "adapter_model.safetensors" in names and names == sorted(p.name for p in outs[1].iterdir())
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
