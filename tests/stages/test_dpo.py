import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import read_json, write_rows
from logtune.train.loading import load_model
from logtune.train.sft import train_sft
from logtune.train.tiny import BaseParams, PretrainParams, TinyModelParams, build_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
TINY = BaseParams(tiny=TinyModelParams(vocab_size=320, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256),
                  pretrain=PretrainParams(batch_size=4, epochs=1, warmup_steps=1))
SFT = {"seed": 0, "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 256, "disable_tqdm": True,
       "lora": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}}
PARAMS = """
dpo:
  seed: 0
  beta: 0.1
  learning_rate: 1.0e-2
  max_steps: 2
  per_device_train_batch_size: 2
  max_length: 256
  logging_steps: 1
"""


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


@pytest.fixture
def models(tmp_path):
    build_base(rows("conversations.jsonl"), tmp_path / "models" / "base", TINY, log=lambda _: None)
    train_sft(tmp_path / "models" / "base", rows("sft.jsonl"), tmp_path / "models" / "sft", SFT)
    (tmp_path / "params.yaml").write_text(PARAMS)
    return tmp_path / "models"


def run(stage, models, pairs_path):
    tmp = models.parent
    return stage("dpo").main([str(models / "sft"), str(pairs_path), str(models / "dpo"), "--params",
                              str(tmp / "params.yaml"), "--metrics", str(tmp / "dpo.json")])


@pytest.mark.slow
def test_dpo_stage_trains_the_sft_adapter_on_pairs(stage, models):
    pairs = [{**p, "record_type": "preference", "conversation_id": "c1"} for p in rows("preference.jsonl")]
    write_rows(models.parent / "preference.parquet", pairs, records.PREFERENCE_PAIR)
    assert run(stage, models, models.parent / "preference.parquet") == 0
    m = read_json(models.parent / "dpo.json")
    assert m["trained"] and m["pairs"] == m["pairs_trained"] == 2 and m["steps"] == 2 and m["loss_first"] is not None
    assert read_json(models / "dpo" / "logtune_model.json") == {"kind": "adapter", "base": "../base"}
    load_model(models / "dpo")


@pytest.mark.slow
def test_dpo_stage_with_zero_pairs_copies_sft_and_says_so(stage, models):
    write_rows(models.parent / "preference.parquet", [], records.PREFERENCE_PAIR)
    assert run(stage, models, models.parent / "preference.parquet") == 0
    m = read_json(models.parent / "dpo.json")
    assert m == {"pairs": 0, "pairs_trained": 0, "trained": False, "steps": 0,
                 "note": "no preference pairs: the SFT adapter was copied unchanged"}
    assert (models / "dpo" / "adapter_model.safetensors").read_bytes() == \
        (models / "sft" / "adapter_model.safetensors").read_bytes()
