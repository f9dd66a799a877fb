import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import read_json, write_rows
from logtune.train.loading import load_model
from logtune.train.tiny import BaseParams, PretrainParams, TinyModelParams, build_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
TINY = BaseParams(tiny=TinyModelParams(vocab_size=320, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256),
                  pretrain=PretrainParams(batch_size=4, epochs=1, warmup_steps=1))
PARAMS = """
sft:
  seed: 0
  learning_rate: 1.0e-2
  max_steps: 3
  per_device_train_batch_size: 2
  max_length: 256
  logging_steps: 1
  lora: {r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
"""


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


@pytest.mark.slow
def test_sft_stage_trains_and_saves_an_adapter_on_the_base(stage, tmp_path):
    models = tmp_path / "models"
    build_base(rows("conversations.jsonl"), models / "base", TINY, log=lambda _: None)
    # lineage columns included, as build writes them: the stage must pass only `messages` on
    write_rows(tmp_path / "sft.parquet", [{**r, "record_type": "chat", "conversation_id": "c1"}
                                          for r in rows("sft.jsonl")], records.SFT_EXAMPLE)
    (tmp_path / "params.yaml").write_text(PARAMS)

    assert stage("sft").main([str(models / "base"), str(tmp_path / "sft.parquet"), str(models / "sft"),
                              "--params", str(tmp_path / "params.yaml"), "--metrics",
                              str(tmp_path / "sft.json")]) == 0

    m = read_json(tmp_path / "sft.json")
    assert m["examples"] == m["examples_trained"] == 4 and m["steps"] == 3
    assert 0 < m["loss_tokens"] < m["tokens"] and 0 < m["trainable_params"] < m["total_params"]
    assert read_json(models / "sft" / "logtune_model.json") == {"kind": "adapter", "base": "../base"}
    model, _ = load_model(models / "sft")
    assert model.peft_config["default"].r == 4


def test_sft_stage_rejects_an_unknown_key_before_training(stage, tmp_path):
    (tmp_path / "params.yaml").write_text("sft:\n  learning_rte: 0.1\n")
    write_rows(tmp_path / "sft.parquet", rows("sft.jsonl"), records.SFT_EXAMPLE)
    with pytest.raises(Exception, match="'sft': unknown key 'learning_rte'"):
        stage("sft").main([str(tmp_path / "base"), str(tmp_path / "sft.parquet"), str(tmp_path / "out"),
                           "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
