import pytest
import torch
from safetensors.torch import load_file

from logtune.train.kto import kto_dataset, train_kto
from logtune.train.sft import train_sft
from tests.unit.tiny_training import SFT, assert_finite, assert_reloads_and_stops_at_eos, rows, sft_rows, tiny_base

KTO = {"seed": 0, "learning_rate": 1e-3, "max_steps": 3, "per_device_train_batch_size": 2, "max_length": 256,
       "logging_steps": 1, "disable_tqdm": True, "beta": 0.1}


def test_kto_dataset_is_trl_unpaired_format_shuffled_reproducibly():
    ds = kto_dataset(rows("kto.jsonl"), seed=0)
    assert ds.column_names == ["prompt", "completion", "label"]
    assert sorted(ds["label"]) == [False, False, True, True]
    assert ds["completion"] == kto_dataset(rows("kto.jsonl"), seed=0)["completion"]
    assert set(ds[0]["completion"][0]) == {"role", "content"}  # lineage keys stay out of the chat template


@pytest.mark.slow
def test_kto_on_thumbs_continues_the_sft_adapter_reloads_and_stops_at_eos(tmp_path):
    models = tmp_path / "models"
    train_sft(tiny_base(models / "base"), sft_rows(), models / "sft", {**SFT, "max_steps": 40, "curriculum": {"mode": "mixed"}},
              echo=lambda _: None)
    m = train_kto(models / "sft", rows("kto.jsonl"), models / "kto", KTO)
    assert_finite(m)
    assert m["objective"] == "kto" and m["steps"] == 3 and (m["desirable"], m["undesirable"]) == (2, 2)
    before = load_file(models / "sft" / "adapter_model.safetensors")
    after = load_file(models / "kto" / "adapter_model.safetensors")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    # the prompts SFT taught it to answer and stop on: preference training must not unlearn stopping
    assert_reloads_and_stops_at_eos(models / "kto", [r["messages"][:-1] for r in sft_rows()])
