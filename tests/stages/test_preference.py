import pytest

from logtune import records
from logtune.io import read_json, write_rows
from logtune.models import load_model
from logtune.train.sft import train_sft
from tests.unit.tiny_training import SFT, rows, sft_rows, tiny_base

PARAMS = """
preference:
  objective: {objective}
  dpo: {{seed: 0, beta: 0.1, learning_rate: 1.0e-3, max_steps: 2, per_device_train_batch_size: 2, max_length: 256,
        logging_steps: 1}}
  kto: {{seed: 0, beta: 0.1, learning_rate: 1.0e-3, max_steps: 2, per_device_train_batch_size: 2, max_length: 256,
        logging_steps: 1}}
  resume: {{dir: {ckpt}}}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """models/base + models/sft, and data/train with pairs and thumbs, as mix writes them."""
    root = tmp_path_factory.mktemp("repo")
    train_sft(tiny_base(root / "models" / "base"), sft_rows(), root / "models" / "sft", {**SFT, "max_steps": 4},
              echo=lambda _: None)
    lineage = {"record_type": "preference", "conversation_id": "c1"}
    write_rows(root / "data" / "train" / "preference.parquet", [{**p, **lineage} for p in rows("preference.jsonl")],
               records.PREFERENCE_PAIR)
    write_rows(root / "data" / "train" / "kto.parquet", [{**k, **lineage} for k in rows("kto.jsonl")],
               records.KTO_EXAMPLE)
    write_rows(root / "data" / "empty" / "preference.parquet", [], records.PREFERENCE_PAIR)
    return root


def run(stage, root, tmp_path, objective, data_dir="train"):
    (tmp_path / "params.yaml").write_text(PARAMS.format(objective=objective, ckpt=tmp_path / "ckpt"))
    out = tmp_path / "models" / "preference"
    code = stage("preference").main([str(root / "models" / "sft"), str(root / "data" / data_dir), str(out),
                                     "--params", str(tmp_path / "params.yaml"),
                                     "--metrics", str(tmp_path / "preference.json"), "--live", str(tmp_path / "live")])
    return code, out, read_json(tmp_path / "preference.json")


@pytest.mark.slow
@pytest.mark.parametrize("objective, examples", [("dpo", 2), ("kto", 4)])
def test_preference_stage_trains_the_sft_adapter_with_the_chosen_objective(stage, data, tmp_path, objective, examples):
    code, out, m = run(stage, data, tmp_path, objective)
    assert code == 0
    assert m["objective"] == objective and m["trained"] and m["examples"] == m["examples_trained"] == examples
    assert m["steps"] == 2 and m["loss_first"] is not None
    marker = read_json(out / "logtune_model.json")
    assert marker["kind"] == "adapter" and (out / marker["base"]).resolve() == (data / "models" / "base").resolve()
    assert (out / "README.md").is_file() and list((tmp_path / "live").rglob(f"{objective}/loss.tsv"))
    load_model(out)


@pytest.mark.slow
def test_preference_stage_with_no_pairs_copies_sft_and_says_so(stage, data, tmp_path):
    code, out, m = run(stage, data, tmp_path, "dpo", data_dir="empty")
    assert code == 0
    assert m == {"objective": "dpo", "examples": 0, "examples_trained": 0, "trained": False, "steps": 0,
                 "note": "no preference pairs: the SFT adapter was copied unchanged"}
    assert (out / "adapter_model.safetensors").read_bytes() == \
        (data / "models" / "sft" / "adapter_model.safetensors").read_bytes()


def test_preference_stage_checks_both_objectives_params_before_loading(stage, tmp_path):
    (tmp_path / "params.yaml").write_text("preference:\n  objective: dpo\n  kto: {betta: 1}\n")
    with pytest.raises(Exception, match="'preference.kto': unknown key 'betta'"):
        stage("preference").main([str(tmp_path / "sft"), str(tmp_path / "data"), str(tmp_path / "out"),
                                  "--params", str(tmp_path / "params.yaml"), "--metrics", str(tmp_path / "m.json")])
