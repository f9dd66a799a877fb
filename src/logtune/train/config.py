"""params.yaml `sft` / `dpo` sections -> TRL `SFTConfig` / `DPOConfig` and PEFT `LoraConfig`.

The sections mirror those classes 1:1 (as TRL's own scripts and alignment-handbook do), so any option
from their docs can be written straight in; a key they do not have is a ParamsError naming it. Settings
that only make sense on a GPU or with a Hub account are forced off unless the user set them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from logtune.params import ParamsError, check_keys

# Defaults that keep a CPU run working and self-contained, applied only where the section is silent:
# TRL defaults to bf16 and gradient checkpointing (GPU habits), Trainer to reporting and checkpoints.
CPU_SAFE = {
    "bf16": False,
    "fp16": False,
    "activation_checkpointing": False,  # transformers 5's name; `gradient_checkpointing` is its old alias
    "report_to": "none",
    "push_to_hub": False,
    "save_strategy": "no",        # the stage saves the final adapter itself
    "dataloader_num_workers": 0,
}
# Keys that the stage owns: the output dir comes from argv.
STAGE_OWNED = {"output_dir"}


def limit_cpu_threads() -> int:
    """Use one CPU thread unless OMP_NUM_THREADS says otherwise; return the count in use.

    A model this small gains little from intra-op threads, and on a shared machine oversubscribed
    OpenMP threads spin-wait: measured here, one thread ran a pre-training step 3x faster than two
    on a busy 2-core box. One thread also makes CPU results independent of the core count.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    return torch.get_num_threads()


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def split_section(where: str, section: dict[str, Any] | None, trainer_cls: type) -> tuple[dict, dict]:
    """Check a training section's keys; return (trainer kwargs, lora kwargs)."""
    from peft import LoraConfig

    section = dict(section or {})
    lora = section.pop("lora", None) or {}
    if not isinstance(lora, dict):
        raise ParamsError(f"params section '{where}.lora': expected a mapping, got {type(lora).__name__}")
    check_keys(where, section, (_field_names(trainer_cls) - STAGE_OWNED) | {"lora"})
    check_keys(f"{where}.lora", lora, _field_names(LoraConfig))
    return section, lora


def trainer_kwargs(section: dict[str, Any], output_dir: str | Path) -> dict[str, Any]:
    defaults = dict(CPU_SAFE)
    if "gradient_checkpointing" in section:  # the user's old-name setting must win over our new-name default
        defaults.pop("activation_checkpointing")
    return {**defaults, **section, "output_dir": str(output_dir)}


def sft_config(section: dict[str, Any] | None, output_dir: str | Path):
    """SFTConfig from the `sft` section (without `lora`), with CPU-safe defaults and assistant-only loss."""
    from trl import SFTConfig

    trainer, _ = split_section("sft", section, SFTConfig)
    # training on the user's words would teach the model to talk like the user; the section may say otherwise
    trainer.setdefault("assistant_only_loss", True)
    return SFTConfig(**trainer_kwargs(trainer, output_dir))


def dpo_config(section: dict[str, Any] | None, output_dir: str | Path):
    """DPOConfig from the `dpo` section, with CPU-safe defaults."""
    from trl import DPOConfig

    trainer, lora = split_section("dpo", section, DPOConfig)
    if lora:  # DPO continues the SFT adapter; a second LoRA config would be silently ignored
        raise ParamsError("params section 'dpo': 'lora' is not used (DPO trains the SFT adapter); set it under 'sft'")
    return DPOConfig(**trainer_kwargs(trainer, output_dir))


def lora_config(section: dict[str, Any] | None):
    """LoraConfig from the `sft.lora` subsection (task type causal LM unless set)."""
    from peft import LoraConfig
    from trl import SFTConfig

    _, lora = split_section("sft", section, SFTConfig)
    return LoraConfig(**{"task_type": "CAUSAL_LM", **lora})
