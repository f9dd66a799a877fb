"""Shared by the training tests: a tiny base that LoRA can actually move, and the checks every objective shares.

A 1-layer, 32-wide Llama pre-trained for one pass outputs a near-uniform distribution (its tied
embeddings stay tiny), so no adapter on it can learn to stop. Pre-trained for 40 short passes on the
four fixture conversations (~3 s) it can: 20 SFT steps then end every fixture reply with EOS.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from logtune.models import load_model
from logtune.base.tiny import BaseParams, PretrainParams, TinyModelParams, build_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"
TINY = BaseParams(tiny=TinyModelParams(vocab_size=320, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=2, intermediate_size=64, max_position_embeddings=256),
                  pretrain=PretrainParams(batch_size=2, epochs=40, learning_rate=1e-2, warmup_steps=2))
LORA = {"r": 8, "lora_alpha": 16, "target_modules": "all-linear"}
# enough steps for the adapter to learn to stop; logging every step so loss curves are comparable
SFT = {"seed": 0, "learning_rate": 2e-2, "lr_scheduler_type": "constant", "max_steps": 20,
       "per_device_train_batch_size": 2, "max_length": 256, "logging_steps": 1, "disable_tqdm": True, "lora": LORA}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def sft_rows() -> list[dict]:
    """The SFT fixture with the curriculum phase build gives each reply (s4 has none: an unlisted example)."""
    phases = {"s1": "conversational", "s2": "conversational", "s3": "refusals", "s4": None}
    return [{**r, "phase": phases[r["id"]]} for r in rows("sft.jsonl")]


def tiny_base(path: Path) -> Path:
    build_base(rows("conversations.jsonl"), path, TINY, log=lambda _: None)
    return path


def lora_weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def assert_finite(metrics: dict) -> None:
    assert metrics["steps"] > 0
    for key in ("loss_first", "loss_last", "train_loss"):
        assert metrics[key] is not None and math.isfinite(metrics[key]), key


def assert_reloads_and_stops_at_eos(model_dir: Path, prompts: list[list[dict]], max_new_tokens: int = 60) -> None:
    """The directory reloads with load_model and greedy generation ends with EOS before the limit."""
    model, tok = load_model(model_dir)
    for messages in prompts:
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = model.generate(**prompt, max_new_tokens=max_new_tokens, do_sample=False)
        new = out[0, prompt["input_ids"].shape[1]:].tolist()
        assert new and new[-1] == tok.eos_token_id and len(new) < max_new_tokens, tok.decode(new)
