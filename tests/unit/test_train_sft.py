import json

import pytest
import torch
from safetensors.torch import load_file

from logtune.models import load_model, read_marker
from logtune.train.sft import format_loss, sft_dataset, train_sft
from tests.unit.tiny_training import (SFT, assert_finite, assert_reloads_and_stops_at_eos, lora_weights, rows,
                                      sft_rows, tiny_base)


def test_sft_dataset_trains_on_the_last_reply_only():
    ds = sft_dataset(rows("sft.jsonl"))
    assert ds.column_names == ["prompt", "completion"]  # lineage columns never reach TRL
    assert ds[1]["completion"] == [{"role": "assistant", "content": "SMP-64804 is due 2026-07-10."}]
    assert ds[1]["prompt"][-2]["content"] == "SMP-64804 is owned by Aiko Rossi."  # earlier reply = history


def test_sft_example_not_ending_on_a_reply_is_an_error():
    with pytest.raises(ValueError, match="s9: last message must be the assistant reply"):
        sft_dataset([{"id": "s9", "messages": [{"role": "user", "content": "hi"}]}])


def test_format_loss_falls_back_to_the_mean_when_no_step_was_logged():
    assert format_loss({"loss_first": 0.51234, "train_loss": 0.6}) == "0.512"
    assert format_loss({"loss_first": None, "train_loss": 0.6}) == "0.600 (mean)"


class PhaseProbe:
    """A stand-in TrainingLog: records, at each phase's start, the LoRA weights the phase starts from."""

    def __init__(self):
        self.starts = {}

    def callback(self, phase):
        from transformers import TrainerCallback

        probe = self

        class Probe(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                probe.starts[phase] = lora_weights(model)

        return Probe()


@pytest.mark.slow
def test_curriculum_phases_train_in_order_continuing_one_adapter_that_reloads_and_stops(tmp_path):
    base = tiny_base(tmp_path / "base")
    probe = PhaseProbe()
    section = {**SFT, "curriculum": {"phases": ["extractive", "conversational", "refusals"]}}
    m = train_sft(base, sft_rows(), tmp_path / "sft", section, log=probe, echo=lambda _: None)

    assert_finite(m)
    assert m["phases_run"] == ["conversational", "refusals", "other"] == list(probe.starts)
    assert m["phases_skipped"] == ["extractive"] and m["phases"]["extractive"]["examples"] == 0
    assert m["examples_by_phase"] == {"conversational": 2, "null": 1, "refusals": 1}
    assert m["examples"] == m["examples_trained"] == 4 and m["examples_rejected"] == {}
    for name in m["phases_run"]:
        phase = m["phases"][name]
        assert phase["steps"] == SFT["max_steps"] and phase["loss_last"] < phase["loss_first"], name
        assert 0 < phase["trained_share"] < 1 and 0 <= phase["padding_share"] < 1
    assert m["steps"] == 3 * SFT["max_steps"] and m["loss_first"] == m["phases"]["conversational"]["loss_first"]
    # phase 1 starts a fresh adapter (LoRA B is zero); phase 2 starts from phase 1's trained weights
    first, second = probe.starts["conversational"], probe.starts["refusals"]
    assert all(not t.any() for n, t in first.items() if "lora_B" in n)
    assert any(t.any() for n, t in second.items() if "lora_B" in n)
    assert json.loads((tmp_path / "sft" / "logtune_model.json").read_text()) == {"kind": "adapter", "base": "../base"}
    # assistant-only loss: exactly each example's last reply and its EOS, not the prompt, not the history
    model, tok = load_model(tmp_path / "sft")
    replies = sum(len(tok(r["messages"][-1]["content"], add_special_tokens=False)["input_ids"]) + 1 for r in sft_rows())
    assert m["loss_tokens"] == replies < m["tokens"]
    assert_reloads_and_stops_at_eos(tmp_path / "sft", [r["messages"][:-1] for r in sft_rows()])


class CurveProbe:
    """A stand-in TrainingLog: every logged (phase, step, loss, learning rate)."""

    def __init__(self):
        self.points = []

    def callback(self, phase):
        from transformers import TrainerCallback

        probe = self

        class Probe(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs:
                    probe.points.append((phase, state.global_step, logs["loss"], logs["learning_rate"]))

        return Probe()


@pytest.mark.slow
def test_same_seed_same_loss_curve_and_byte_identical_adapter(tmp_path):
    """Reproducibility on CPU: two runs, same seed and inputs -> the same loss at every step, same bytes."""
    section = {**SFT, "max_steps": 3}
    curves = []
    for run in ("a", "b"):
        base = tiny_base(tmp_path / run / "base")
        probe = CurveProbe()
        train_sft(base, sft_rows(), tmp_path / run / "sft", section, log=probe, echo=lambda _: None)
        curves.append(probe.points)
    assert len(curves[0]) == 9 and curves[0] == curves[1]  # 3 phases x 3 steps, exactly equal floats
    for sub in ("base", "sft"):
        files = sorted(p.name for p in (tmp_path / "a" / sub).iterdir())
        assert "README.md" not in files  # PEFT's model card names the absolute base path
        for name in files:
            assert (tmp_path / "a" / sub / name).read_bytes() == (tmp_path / "b" / sub / name).read_bytes(), name
    a = load_file(tmp_path / "a" / "sft" / "adapter_model.safetensors")
    b = load_file(tmp_path / "b" / "sft" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_qlora_4bit_base_trains_an_adapter_on_cpu_and_reloads_quantized(tmp_path):
    from bitsandbytes.nn import Linear4bit

    base = tiny_base(tmp_path / "base")
    section = {**SFT, "max_steps": 3, "quantization": "4bit", "curriculum": {"mode": "mixed"}}
    m = train_sft(base, sft_rows(), tmp_path / "sft", section, echo=lambda _: None)
    assert_finite(m)
    assert m["quantization"]["bnb_4bit_quant_type"] == "nf4" and m["quantization"]["bnb_4bit_use_double_quant"]
    assert read_marker(tmp_path / "sft")["quantization"] == m["quantization"]  # reloads the base the same way
    model, _ = load_model(tmp_path / "sft")
    assert any(isinstance(mod, Linear4bit) for mod in model.modules())
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)
