import pytest

from logtune import records
from logtune.io import read_json, write_rows
from logtune.models import load_model
from tests.unit.tiny_training import rows, sft_rows, tiny_base

PARAMS = """
sft:
  seed: 0
  learning_rate: 1.0e-2
  max_steps: 2
  per_device_train_batch_size: 2
  max_length: 256
  logging_steps: 1
  lora: {{r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}}
  curriculum: {{mode: phased, phases: [extractive, conversational, refusals], unlisted: reject}}
  resume: {{dir: {ckpt}, save_steps: 1}}
"""


def write_examples(path):
    # lineage columns included, as mix writes them: the stage must pass only messages and phase on
    write_rows(path, [{**r, "record_type": "chat", "conversation_id": "c1"} for r in sft_rows()], records.SFT_EXAMPLE)


@pytest.mark.slow
def test_sft_stage_trains_phases_logs_curves_writes_card_and_cleans_checkpoints(stage, tmp_path):
    models = tmp_path / "models"
    tiny_base(models / "base")
    write_examples(tmp_path / "sft.parquet")
    (tmp_path / "params.yaml").write_text(PARAMS.format(ckpt=tmp_path / "ckpt"))

    assert stage("sft").main([str(models / "base"), str(tmp_path / "sft.parquet"), str(models / "sft"),
                              "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "sft.json"),
                              "--live", str(tmp_path / "dvclive")]) == 0

    m = read_json(tmp_path / "sft.json")
    # read = trained + rejected: s4 has no phase and the curriculum rejects unlisted phases
    assert m["examples"] == 4 and m["examples_trained"] == 3 and m["examples_rejected"] == {"phase_not_listed": 1}
    assert m["phases_run"] == ["conversational", "refusals"] and m["phases_skipped"] == ["extractive"]
    assert m["steps"] == 4 and m["phases"]["refusals"]["steps"] == 2
    assert 0 < m["loss_tokens"] < m["tokens"] and 0 < m["trainable_params"] < m["total_params"]
    assert read_json(models / "sft" / "logtune_model.json") == {"kind": "adapter", "base": "../base"}
    assert (models / "sft" / "README.md").is_file()  # the model card
    for phase in m["phases_run"]:  # DVCLive curves, one series per phase
        assert list((tmp_path / "dvclive").rglob(f"{phase}/loss.tsv")), phase
    assert not list((tmp_path / "ckpt").rglob("checkpoint-*"))  # checkpoints deleted after success
    model, _ = load_model(models / "sft")
    assert model.peft_config["default"].r == 4


def test_sft_stage_rejects_an_unknown_key_before_training(stage, tmp_path):
    (tmp_path / "params.yaml").write_text("sft:\n  curriculum: {phases: [a], mode: phased, order: 1}\n")
    write_examples(tmp_path / "sft.parquet")
    with pytest.raises(Exception, match="'sft.curriculum': unknown key 'order'"):
        stage("sft").main([str(tmp_path / "base"), str(tmp_path / "sft.parquet"), str(tmp_path / "out"),
                           "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
    (tmp_path / "params.yaml").write_text("sft:\n  learning_rte: 0.1\n")
    with pytest.raises(Exception, match="'sft': unknown key 'learning_rte'"):
        stage("sft").main([str(tmp_path / "base"), str(tmp_path / "sft.parquet"), str(tmp_path / "out"),
                           "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
    assert rows("sft.jsonl")  # the fixture is there: the error is the params', not a missing file
