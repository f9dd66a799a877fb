import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from logtune.train.dpo import preference_dataset, train_dpo
from logtune.train.loading import load_model
from logtune.train.sft import train_sft
from logtune.train.tiny import BaseParams, PretrainParams, TinyModelParams, build_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
TINY = BaseParams(tiny=TinyModelParams(vocab_size=320, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256),
                  pretrain=PretrainParams(batch_size=4, epochs=1, warmup_steps=1))
SFT = {"seed": 0, "learning_rate": 1e-2, "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 256,
       "disable_tqdm": True, "lora": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}}
DPO = {"seed": 0, "learning_rate": 1e-2, "max_steps": 3, "per_device_train_batch_size": 2, "max_length": 256,
       "logging_steps": 1, "disable_tqdm": True, "beta": 0.1}


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


@pytest.fixture
def sft_dir(tmp_path):
    build_base(rows("conversations.jsonl"), tmp_path / "models" / "base", TINY, log=lambda _: None)
    train_sft(tmp_path / "models" / "base", rows("sft.jsonl"), tmp_path / "models" / "sft", SFT)
    return tmp_path / "models" / "sft"


def test_preference_dataset_keeps_only_trl_columns():
    ds = preference_dataset(rows("preference.jsonl"))
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert ds[1]["chosen"][0]["content"] == "I couldn't find ORD-388 in the current context."


@pytest.mark.slow
def test_dpo_continues_the_sft_adapter_and_reloads(sft_dir):
    out = sft_dir.parent / "dpo"
    metrics = train_dpo(sft_dir, rows("preference.jsonl"), out, DPO)
    assert metrics["trained"] and metrics["steps"] == 3 and math.isfinite(metrics["loss_last"])
    assert json.loads((out / "logtune_model.json").read_text()) == {"kind": "adapter", "base": "../base"}
    before = load_file(sft_dir / "adapter_model.safetensors")
    after = load_file(out / "adapter_model.safetensors")
    assert before.keys() == after.keys()  # one adapter: TRL's frozen "ref" copy is not saved
    assert any(not torch.equal(before[k], after[k]) for k in before)
    model, tok = load_model(out)
    prompt = tok.apply_chat_template(rows("preference.jsonl")[0]["prompt"], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.no_grad():
        assert model.generate(**prompt, max_new_tokens=3, do_sample=False).shape[1] > prompt["input_ids"].shape[1]


@pytest.mark.slow
def test_no_pairs_copies_the_sft_adapter_through(sft_dir):
    out = sft_dir.parent / "dpo"
    metrics = train_dpo(sft_dir, [], out, DPO)
    assert metrics["trained"] is False and metrics["pairs"] == 0 and "copied unchanged" in metrics["note"]
    assert (out / "adapter_model.safetensors").read_bytes() == (sft_dir / "adapter_model.safetensors").read_bytes()
    assert json.loads((out / "logtune_model.json").read_text()) == {"kind": "adapter", "base": "../base"}
    load_model(out)
