"""A deliberately worse candidate (`sft.untrained`): an adapter saved without training is rejected by the gate.

The baseline is a tiny full model taught to answer eight real golden cases (answer cases from the repo's
golden set, replies made of each case's expected `contains`); the candidate is that model plus an
untrained LoRA adapter with random weights, exactly what `dvc exp run -S sft.untrained=random` makes.
Both are scored by evaluate's own code and judged by the gate with the repo's `gate` params: the
decision must be reject, with the regressions named. `zero` (PEFT's own init) must change nothing, and
preference training must pass an untrained adapter through rather than repair it.
"""

from pathlib import Path

import pytest
import torch

from logtune.golden.contract import read_golden
from logtune.evaluate.run import EvaluateParams, case_messages, evaluate_model
from logtune.gate.decide import GateParams, decide
from logtune.params import ParamsError, load_params
from logtune.train.config import check_sft_section
from logtune.train.dpo import train_dpo
from logtune.models import load_model, read_marker, untrained_of
from logtune.train.sft import train_sft
from tests.fixtures.evaluate.tiny_model import save_tiny_model
from tests.unit.tiny_training import LORA, SFT, rows, sft_rows

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "You are the iSPEC support assistant. Answer from CONTEXT only; never invent ids."


def answer_cases(n=8):
    cases = [c for c in read_golden(ROOT / "golden" / "golden.jsonl")
             if c.case_type == "answer" and c.contains and not c.must_refuse and len(c.messages) == 1]
    return cases[:n]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrained")
    cases = answer_cases()
    replies = [" ".join(c.contains) + "." for c in cases]
    save_tiny_model(root / "base", prompts=[case_messages(c, SYSTEM) for c in cases], replies=replies, steps=150)
    for mode in ("random", "zero"):
        metrics = train_sft(root / "base", sft_rows(), root / f"sft-{mode}", {**SFT, "untrained": mode},
                            echo=lambda _: None)
        assert metrics["steps"] == 0 and metrics["examples_trained"] == 0
        assert metrics["examples_not_trained"] == {f"sft.untrained: {mode}": len(sft_rows())}
    return root, cases


def scored(name, model_dir, cases):
    return evaluate_model(name, model_dir, cases, EvaluateParams(max_new_tokens=32, batch_size=4), SYSTEM, log=None)


def test_a_random_untrained_adapter_is_rejected_with_named_regressions(models):
    root, cases = models
    baseline = scored("base", root / "base", cases)
    assert sum(r["passed"] for r in baseline) >= 6, [r["reply"] for r in baseline]   # the baseline works
    candidate = scored("preference", root / "sft-random", cases)
    p = load_params(ROOT / "params.yaml", "gate", GateParams)   # the repo's own rules
    gate = decide(baseline + candidate, p)
    assert gate["decision"] == "reject"
    named = {r.split(":")[0] for r in gate["reasons"]}
    assert "accuracy" in named, gate["reasons"]
    assert gate["metrics"]["accuracy"]["status"] == "regressed" and gate["flips"]["n_broken"] >= 6


def test_a_zero_untrained_adapter_is_the_base_model_exactly(models):
    root, _ = models
    base, tok = load_model(root / "base")
    zero, _ = load_model(root / "sft-zero")
    ids = tok("PRJ-1042 is in progress.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(base(ids).logits, zero(ids).logits)
    assert untrained_of(root / "sft-zero") == "zero" and untrained_of(root / "base") is None


def test_preference_passes_an_untrained_adapter_through_unchanged(models, tmp_path):
    root, _ = models
    metrics = train_dpo(root / "sft-random", rows("preference.jsonl"), tmp_path / "pref",
                        {"seed": 0, "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 256})
    assert metrics["trained"] is False and metrics["untrained"] == "random" and "copied unchanged" in metrics["note"]
    assert read_marker(tmp_path / "pref")["untrained"] == "random"
    same = (tmp_path / "pref" / "adapter_model.safetensors").read_bytes()
    assert same == (root / "sft-random" / "adapter_model.safetensors").read_bytes()


def test_an_unknown_untrained_mode_is_a_params_error():
    with pytest.raises(ParamsError, match="sft.untrained"):
        check_sft_section({"untrained": "yes", "lora": LORA})


def test_params_ship_the_switch_off(repo_root):
    from logtune.params import read_params

    section = read_params(repo_root / "params.yaml")["sft"]
    assert "untrained" in section and section["untrained"] is None   # `dvc exp run -S sft.untrained=random` sets it
    check_sft_section(section)
