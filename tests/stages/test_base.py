import json
from pathlib import Path

from logtune import records
from logtune.io import read_json, write_rows
from logtune.models import load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
PARAMS = """
base:
  model: tiny
  seed: 0
  tiny: {vocab_size: 320, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2,
         intermediate_size: 64, max_position_embeddings: 256}
  pretrain: {batch_size: 2, epochs: 6, learning_rate: 1.0e-2, warmup_steps: 2}
"""


def test_base_stage_writes_a_loadable_full_model_with_chat_template(stage, tmp_path):
    conversations = [json.loads(line) for line in (FIXTURES / "conversations.jsonl").read_text().splitlines()]
    write_rows(tmp_path / "conversations.parquet", conversations, records.CONVERSATION)
    (tmp_path / "params.yaml").write_text(PARAMS)
    out, metrics = tmp_path / "models" / "base", tmp_path / "metrics" / "base.json"

    assert stage("base").main([str(tmp_path / "conversations.parquet"), str(out), "--params",
                               str(tmp_path / "params.yaml"), "--metrics", str(metrics)]) == 0

    m = read_json(metrics)
    assert m["model"] == "tiny" and m["conversations"] == 4 and m["texts"] == 4
    assert m["loss_last"] < m["loss_first"]
    assert read_json(out / "logtune_model.json") == {"kind": "full"}
    model, tok = load_model(out)
    assert "{% generation %}" in tok.chat_template and tok.padding_side == "left"
    assert model.config.hidden_size == 32 and model.config.eos_token_id == tok.eos_token_id
