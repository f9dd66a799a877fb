"""The shipped recipes run end to end on a tiny stand-in of their model: same architecture, same chat template.

Each recipe is applied to the repo's params.yaml exactly as `logtune recipe NAME --run` applies it (DVC's own
override code), `base.model` is pointed at a stand-in checkpoint folder (tests/fixtures/chat_families.py: a
Qwen2 model with Qwen2.5's released template for qlora-qwen2.5-32b, a Llama with Tulu 3's for tulu-3-8b),
and the merged params go through the base stage, validate's token checks, SFT, DPO and evaluate. On a CPU
the settings that need CUDA are taken out, each with its reason (listed in the test's output), and the
run is cut to 2 steps; on a CUDA machine the QLoRA test runs them as written.
"""

import shlex
import shutil

import pytest
import torch
import yaml

from logtune.params import read_params
from logtune.train.recipes import exp_run_command, load_recipe
from tests.fixtures.chat_families import save_hub_folder
from tests.stages.test_real_families import base_stage, check_tokens, golden_cases, SYSTEM
from tests.unit.test_recipes import apply_like_dvc
from tests.unit.tiny_training import rows, sft_rows

STAND_IN = {"qlora-qwen2.5-32b": ("qwen2_5", "Qwen/Qwen2.5-32B-Instruct"), "tulu-3-8b": ("tulu3", "allenai/Llama-3.1-Tulu-3-8B")}
# (section path, key, why it is taken out on a machine without CUDA)
CUDA_ONLY = [
    (("sft",), "quantization", "QLoRA's 4-bit NF4 weights need bitsandbytes' CUDA kernels"),
    (("sft",), "optim", "paged_adamw_8bit is a bitsandbytes CUDA optimizer"),
    (("sft", "model_init_kwargs"), "attn_implementation", "flash_attention_2 is a CUDA kernel"),
    (("sft",), "bf16", "bf16 mixed precision is a GPU setting (Trainer refuses it on this CPU)"),
    (("preference", "dpo"), "bf16", "bf16 mixed precision is a GPU setting"),
    (("preference", "kto"), "bf16", "bf16 mixed precision is a GPU setting"),
]


def recipe_params(repo_root, tmp_path, name: str, model_folder) -> dict:
    """The repo's params with the recipe applied as DVC applies it, then base.model -> the stand-in folder."""
    params = tmp_path / "params.yaml"
    shutil.copy(repo_root / "params.yaml", params)
    recipe = load_recipe(repo_root / "recipes" / f"{name}.yaml")
    apply_like_dvc(params, shlex.join(exp_run_command(recipe)))
    merged = read_params(params)
    assert merged["base"]["model"] == STAND_IN[name][1]
    merged["base"]["model"] = str(model_folder)
    return merged


def cpu_cut(merged: dict, keep_cuda: bool) -> list[str]:
    """Take out what needs CUDA (unless `keep_cuda`) and cut training to 2 steps; return the reasons."""
    reasons = []
    for path, key, why in CUDA_ONLY if not keep_cuda else []:
        section = merged
        for part in path:
            section = section.get(part) or {}
        if section.get(key) not in (None, False):
            reasons.append(f"{'.'.join(path)}.{key}={section.pop(key)!r}: {why}")
    sft, dpo = merged["sft"], merged["preference"]["dpo"]
    for section in (sft, dpo):
        section.update(max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1, logging_steps=1,
                       disable_tqdm=True)
    sft["curriculum"] = {**sft["curriculum"], "replay": 0.0}
    return reasons


def run_recipe(stage, tmp_path, merged):
    from logtune.evaluate.run import EvaluateParams, evaluate_model
    from logtune.train.dpo import train_dpo
    from logtune.train.sft import train_sft

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "params.yaml").write_text(yaml.safe_dump({"base": merged["base"]}))
    base, metrics = base_stage(stage, tmp_path / "run", merged["base"]["model"])
    check_tokens(base)
    sft = train_sft(base, sft_rows(), tmp_path / "sft", merged["sft"], echo=lambda _: None)
    assert sft["steps"] > 0 and sft["loss_tokens"] > 0
    dpo = train_dpo(tmp_path / "sft", rows("preference.jsonl"), tmp_path / "dpo", merged["preference"]["dpo"])
    assert dpo["trained"] and dpo["steps"] == 2
    replies = evaluate_model("preference", tmp_path / "dpo", golden_cases(2), EvaluateParams(max_new_tokens=4),
                             SYSTEM, log=None)
    assert len(replies) == 2
    return metrics, sft, dpo


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STAND_IN))
def test_recipe_runs_end_to_end_on_a_tiny_stand_in(name, repo_root, stage, tmp_path, capsys):
    family, _ = STAND_IN[name]
    merged = recipe_params(repo_root, tmp_path, name, save_hub_folder(family, tmp_path / "hub"))
    reasons = cpu_cut(merged, keep_cuda=False)
    with capsys.disabled():
        for reason in reasons:
            print(f"\n[{name}] skipped on CPU: {reason}")
    metrics, sft, dpo = run_recipe(stage, tmp_path, merged)
    assert metrics["chat_template"]["family"] == family
    assert sft["trainable_params"] > 0 and sft["quantization"] is None
    if name == "qlora-qwen2.5-32b":
        assert any(r.startswith("sft.quantization='4bit'") for r in reasons)


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA (sft.quantization: 4bit, paged_adamw_8bit, "
                    "flash_attention_2, bf16) needs a CUDA GPU with bitsandbytes; the CPU run above covers the rest")
def test_qlora_recipe_runs_as_written_on_cuda(repo_root, stage, tmp_path):
    merged = recipe_params(repo_root, tmp_path, "qlora-qwen2.5-32b", save_hub_folder("qwen2_5", tmp_path / "hub"))
    cpu_cut(merged, keep_cuda=True)
    _, sft, _ = run_recipe(stage, tmp_path, merged)
    assert sft["quantization"]["load_in_4bit"]


def test_tulu_recipe_round_trips_through_dvc_with_tulu_3s_settings(repo_root, tmp_path, monkeypatch):
    from logtune.train.config import check_sft_section, preference_config

    merged = recipe_params(repo_root, tmp_path, "tulu-3-8b", tmp_path)
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    check_sft_section(merged["sft"])
    objective, dpo = preference_config(merged["preference"], tmp_path)
    assert objective == "dpo" and dpo.loss_type == ["sigmoid_norm"] and dpo.beta == 5.0 and dpo.learning_rate == 5e-6
    assert merged["validate"]["max_length"] == merged["sft"]["max_length"] == 4096
