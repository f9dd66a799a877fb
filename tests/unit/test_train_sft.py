import json
import math
from pathlib import Path

import pytest
import torch

from logtune.train.loading import load_model
from logtune.train.sft import sft_dataset, train_sft
from logtune.train.tiny import BaseParams, PretrainParams, TinyModelParams, build_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
TINY = BaseParams(tiny=TinyModelParams(vocab_size=320, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256),
                  pretrain=PretrainParams(batch_size=4, epochs=2, warmup_steps=1))
SFT = {"seed": 0, "learning_rate": 1e-2, "max_steps": 4, "per_device_train_batch_size": 2, "max_length": 256,
       "logging_steps": 1, "disable_tqdm": True, "lora": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}}


def rows(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def test_sft_dataset_trains_on_the_last_reply_only():
    ds = sft_dataset(rows("sft.jsonl"))
    assert ds.column_names == ["prompt", "completion"]  # lineage columns never reach TRL
    assert ds[1]["completion"] == [{"role": "assistant", "content": "SMP-64804 is due 2026-07-10."}]
    assert ds[1]["prompt"][-2]["content"] == "SMP-64804 is owned by Aiko Rossi."  # earlier reply = history


def test_sft_example_not_ending_on_a_reply_is_an_error():
    with pytest.raises(ValueError, match="s9: last message must be the assistant reply"):
        sft_dataset([{"id": "s9", "messages": [{"role": "user", "content": "hi"}]}])


@pytest.mark.slow
def test_sft_trains_a_lora_adapter_that_reloads_and_generates(tmp_path):
    build_base(rows("conversations.jsonl"), tmp_path / "base", TINY, log=lambda _: None)
    examples = rows("sft.jsonl")
    metrics = train_sft(tmp_path / "base", examples, tmp_path / "sft", SFT)

    assert math.isfinite(metrics["loss_first"]) and math.isfinite(metrics["loss_last"]) and metrics["steps"] == 4
    # assistant-only loss: exactly each example's last reply and its EOS, not the prompt, not the history
    model, tok = load_model(tmp_path / "sft")
    last_replies = sum(len(tok(r["messages"][-1]["content"], add_special_tokens=False)["input_ids"]) + 1
                       for r in examples)
    assert metrics["loss_tokens"] == last_replies < metrics["tokens"]
    assert json.loads((tmp_path / "sft" / "logtune_model.json").read_text()) == {"kind": "adapter", "base": "../base"}
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: non-zero means it trained
    prompt = tok.apply_chat_template(examples[0]["messages"][:-1], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]


@pytest.mark.slow
def test_same_inputs_give_byte_identical_model_dirs(tmp_path):
    for run in ("a", "b"):
        build_base(rows("conversations.jsonl"), tmp_path / run / "base", TINY, log=lambda _: None)
        train_sft(tmp_path / run / "base", rows("sft.jsonl"), tmp_path / run / "sft", SFT)
    for sub in ("base", "sft"):
        files = sorted(p.name for p in (tmp_path / "a" / sub).iterdir())
        assert "README.md" not in files  # PEFT's model card names the absolute base path
        for name in files:
            assert (tmp_path / "a" / sub / name).read_bytes() == (tmp_path / "b" / sub / name).read_bytes(), name


def test_format_loss_falls_back_to_the_mean_when_no_step_was_logged():
    from logtune.train.sft import format_loss

    assert format_loss({"loss_first": 0.51234, "train_loss": 0.6}) == "0.512"
    assert format_loss({"loss_first": None, "train_loss": 0.6}) == "0.600 (mean)"
