"""params.yaml `sft` / `preference` sections -> TRL `SFTConfig` / `DPOConfig` / `KTOConfig`, PEFT
`LoraConfig` and transformers `BitsAndBytesConfig`.

The sections mirror those classes field for field (as TRL's own scripts and alignment-handbook do), so
any option from their docs can be written straight in; a key they do not have is a ParamsError naming
`section.key`. A few subsections are logtune's own, not TRL fields, and are taken out before the check:

    sft:        lora (LoraConfig), bnb (BitsAndBytesConfig), quantization (null | 4bit | 8bit),
                curriculum, untrained (null | zero | random), launch, resume, export_merged, model_card,
                seq2seq (the encoder-decoder path: logtune.train.seq2seq)
    preference: objective (dpo | kto), dpo (DPOConfig), kto (KTOConfig), launch, resume, export_merged,
                model_card

Settings that only make sense on a GPU or with a Hub account are forced off unless the user set them.

Each section is parsed once, by one entry point, into the objects the trainers take: `parse_sft` ->
`SFTSetup` (SFTConfig, LoraConfig, BitsAndBytesConfig kwargs, Curriculum, output options) and
`preference_config` -> (objective, DPOConfig | KTOConfig). The stage scripts call them before any model
is loaded and pass the objects down; a per-run output folder or checkpoint settings are `with_overrides`
on the built config, never a second parse of the mapping.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

from logtune.params import ParamsError, check_keys

# Defaults that keep a CPU run working and self-contained, applied only where the section is silent:
# TRL defaults to bf16 and gradient checkpointing (GPU habits), Trainer to reporting and checkpoints.
CPU_SAFE = {
    "bf16": False,
    "fp16": False,
    "activation_checkpointing": False,  # transformers 5's name; `gradient_checkpointing` is its old alias
    "report_to": "none",           # DVCLive is wired in as our own callback (logtune.train.tracking)
    "push_to_hub": False,
    "save_strategy": "no",        # the stage saves the final adapter itself (resume turns checkpoints on)
    "dataloader_num_workers": 0,
}
# Keys that the stage owns: the output dir comes from argv.
STAGE_OWNED = {"output_dir"}
# logtune's own subsections of a training section (not TRL fields): checked here or by their modules.
RUN_KEYS = {"launch", "resume", "export_merged", "model_card"}
# Knobs that change how a training stage runs but not the model it writes. They live in their own params
# section, `train_run.<stage>`, which DVC does not track, so `sft` can be tracked whole (a recipe's extra
# SFTConfig field re-trains like any other) while editing these re-runs nothing (`training_section`).
RUN_ONLY_KEYS = ("resume", "export_merged", "model_card")
RUN_SECTION = "train_run"
SFT_OWN = {"lora", "bnb", "quantization", "curriculum", "untrained", "per_task"} | RUN_KEYS
# sft.per_task (seed 003): one adapter per task type, trained by the sft_task stage (logtune.train.per_task).
SFT_OWN |= {"seq2seq"}   # base.architecture: seq2seq's trainer settings (logtune.train.seq2seq.parse_seq2seq)
# sft.untrained: save the adapter WITHOUT training (a deliberately worse candidate for the gate to reject).
# zero: PEFT's init (B = 0), the base model's behaviour exactly; random: A and B both random, a damaged model.
UNTRAINED = (None, "zero", "random")
PREFERENCE_OWN = {"objective", "dpo", "kto", "pairs"} | RUN_KEYS   # pairs: logtune.train.pairs
OBJECTIVES = ("dpo", "kto")
QUANTIZATIONS = (None, "4bit", "8bit")
# QLoRA as in its paper (Dettmers et al. 2023): 4-bit NormalFloat, the quantization constants quantized
# too (double quant, ~0.4 bit/param saved), matmuls in bf16. `sft.bnb` overrides any of these.
QLORA_4BIT = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
              "bnb_4bit_compute_dtype": "bfloat16"}
INT8 = {"load_in_8bit": True}


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _init_names(cls: type) -> set[str]:
    """Constructor keywords of a class that is not a plain dataclass (BitsAndBytesConfig)."""
    return {n for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamsError(f"params section '{where}': expected a mapping, got {type(value).__name__}")
    return dict(value)


_FLOAT_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _floats_from_text(trainer_cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    # `dvc exp run -S x=5e-6` writes `5e-06` (YAML 1.2, ruamel); PyYAML reads YAML 1.1, where a float
    # needs a dot, and returns the string '5e-06'. Read it as the float it is, for float fields only.
    types = {f.name: str(f.type) for f in dataclasses.fields(trainer_cls)}
    return {k: float(v) if isinstance(v, str) and "float" in types.get(k, "") and _FLOAT_TEXT.match(v) else v
            for k, v in kwargs.items()}


def trainer_section(where: str, section: dict[str, Any] | None, trainer_cls: type,
                    own: set[str] = frozenset()) -> dict[str, Any]:
    """The TRL kwargs of a section: its keys minus logtune's own `own`, each checked against `trainer_cls`."""
    section = _mapping(where, section)
    check_keys(where, section, (_field_names(trainer_cls) - STAGE_OWNED) | set(own))
    return _floats_from_text(trainer_cls, {k: v for k, v in section.items() if k not in own})


def split_section(where: str, section: dict[str, Any] | None, trainer_cls: type) -> tuple[dict, dict]:
    """Check an SFT-shaped section's keys; return (trainer kwargs, lora kwargs)."""
    from peft import LoraConfig

    trainer = trainer_section(where, section, trainer_cls, SFT_OWN)
    lora = _mapping(f"{where}.lora", (section or {}).get("lora"))
    check_keys(f"{where}.lora", lora, _field_names(LoraConfig))
    return trainer, lora


def trainer_kwargs(section: dict[str, Any], output_dir: str | Path) -> dict[str, Any]:
    defaults = dict(CPU_SAFE)
    if "gradient_checkpointing" in section:  # the user's old-name setting must win over our new-name default
        defaults.pop("activation_checkpointing")
    return {**defaults, **section, "output_dir": str(output_dir)}


def quantization_kwargs(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """BitsAndBytesConfig kwargs for `sft.quantization` (+ `sft.bnb` overrides), or None for a full-precision base.

    Plain JSON-able values (dtype names as strings): they are also written into the model directory's
    marker, so whatever loads the adapter later loads its base the same way it was trained.
    """
    from transformers import BitsAndBytesConfig

    section = section or {}
    mode = section.get("quantization")
    if mode not in QUANTIZATIONS:
        raise ParamsError(f"params section 'sft.quantization': expected null, 4bit or 8bit, got {mode!r}")
    bnb = _mapping("sft.bnb", section.get("bnb"))
    check_keys("sft.bnb", bnb, _init_names(BitsAndBytesConfig))
    if mode is None:
        if bnb:  # settings that would silently do nothing
            raise ParamsError("params section 'sft.bnb': set only with 'sft.quantization' (4bit or 8bit)")
        return None
    return {**(QLORA_4BIT if mode == "4bit" else INT8), **bnb}


def preference_objective(section: dict[str, Any] | None) -> str:
    """The `preference.objective` (dpo | kto), after checking the section's own keys."""
    section = _mapping("preference", section)
    check_keys("preference", section, PREFERENCE_OWN)
    objective = section.get("objective", "dpo")
    if objective not in OBJECTIVES:
        raise ParamsError(f"params section 'preference.objective': expected dpo or kto, got {objective!r}")
    return objective


def dpo_config(section: dict[str, Any] | None, output_dir: str | Path, overrides: dict[str, Any] | None = None,
               where: str = "preference.dpo"):
    """DPOConfig from the `preference.dpo` subsection, with CPU-safe defaults."""
    from trl import DPOConfig

    return DPOConfig(**{**trainer_kwargs(trainer_section(where, _no_lora(where, section), DPOConfig), output_dir),
                        **(overrides or {})})


def kto_config(section: dict[str, Any] | None, output_dir: str | Path, overrides: dict[str, Any] | None = None,
               where: str = "preference.kto"):
    """KTOConfig from the `preference.kto` subsection, with CPU-safe defaults."""
    from trl import KTOConfig

    return KTOConfig(**{**trainer_kwargs(trainer_section(where, _no_lora(where, section), KTOConfig), output_dir),
                        **(overrides or {})})


def _no_lora(where: str, section: dict[str, Any] | None) -> dict[str, Any] | None:
    # preference training continues the SFT adapter; a second LoRA config would be silently ignored
    if isinstance(section, dict) and "lora" in section:
        raise ParamsError(f"params section '{where}': 'lora' is not used (preference training continues the "
                          "SFT adapter); set it under 'sft'")
    return section


def preference_config(section: dict[str, Any] | None, output_dir: str | Path, overrides: dict[str, Any] | None = None):
    """(objective, DPOConfig | KTOConfig) from the `preference` section; the unused objective's
    subsection is checked too, so a typo there fails on every run, not on the day it is switched on."""
    objective = preference_objective(section)
    section = section or {}
    configs = {"dpo": lambda: dpo_config(section.get("dpo"), output_dir, overrides),
               "kto": lambda: kto_config(section.get("kto"), output_dir, overrides)}
    other = "kto" if objective == "dpo" else "dpo"
    configs[other]()
    return objective, configs[objective]()


def output_options(where: str, section: dict[str, Any] | None) -> dict[str, bool]:
    """`model_card` (default true: README.md in the model dir) and `export_merged` (default false: also
    write `<out>-merged`, the adapter folded into its base) of a training section."""
    section = section or {}
    options = {"model_card": section.get("model_card", True), "export_merged": section.get("export_merged", False)}
    for key, value in options.items():
        if not isinstance(value, bool):
            raise ParamsError(f"params section '{where}.{key}': expected true or false, got {value!r}")
    return options


def training_section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """params[`name`] (sft | preference) with its run-only knobs from `train_run.<name>` merged in.

    A run-only knob may also be written in the section itself (it then re-runs the stage when edited,
    as any tracked key does), but not in both places: that is a ParamsError naming both."""
    section = dict(params.get(name) or {})
    run = params.get(RUN_SECTION) or {}
    if not isinstance(run, dict):
        raise ParamsError(f"params section '{RUN_SECTION}': expected a mapping, got {type(run).__name__}")
    check_keys(RUN_SECTION, run, {"sft", "preference"})
    extra = run.get(name) or {}
    if not isinstance(extra, dict):
        raise ParamsError(f"params section '{RUN_SECTION}.{name}': expected a mapping, got {type(extra).__name__}")
    check_keys(f"{RUN_SECTION}.{name}", extra, RUN_ONLY_KEYS)
    for key in sorted(set(extra) & set(section)):
        raise ParamsError(f"params: '{name}.{key}' and '{RUN_SECTION}.{name}.{key}' are both set; keep one "
                          f"({RUN_SECTION}.{name}.{key}: editing it re-runs nothing)")
    section.update(extra)
    return section


def untrained_mode(section: dict[str, Any] | None) -> str | None:
    """`sft.untrained`: None (train), `zero` or `random` (save the adapter untrained; see UNTRAINED)."""
    mode = (section or {}).get("untrained")
    if mode not in UNTRAINED:
        raise ParamsError(f"params section 'sft.untrained': expected null, zero or random, got {mode!r}")
    return mode


@dataclasses.dataclass(frozen=True)
class SFTSetup:
    """The `sft` section parsed once (`parse_sft`), as the objects the trainer, PEFT and the loader take."""

    args: Any                             # trl.SFTConfig; output_dir: the stage's output folder
    lora: Any                             # peft.LoraConfig
    quantization: dict[str, Any] | None   # BitsAndBytesConfig kwargs (JSON-able: the model marker keeps them)
    curriculum: Any                       # logtune.train.curriculum.Curriculum
    options: dict[str, bool]              # model_card, export_merged
    untrained: str | None = None          # sft.untrained: None (train), zero or random

    def bnb(self):
        """transformers BitsAndBytesConfig for the base, or None for full precision (`load_model` builds the
        same from `quantization`, which the model marker keeps)."""
        from transformers import BitsAndBytesConfig

        return None if self.quantization is None else BitsAndBytesConfig(**self.quantization)


def parse_sft(section: dict[str, Any] | None, output_dir: str | Path) -> SFTSetup:
    """Check the `sft` section once (an unknown key names `sft.key`) and build every object it describes,
    so a mistake fails before a model is loaded and nothing downstream sees the raw mapping."""
    from peft import LoraConfig
    from trl import SFTConfig

    from logtune.train.curriculum import curriculum_params

    trainer, lora = split_section("sft", section, SFTConfig)
    # training on the user's words would teach the model to talk like the user; the section may say otherwise
    trainer.setdefault("assistant_only_loss", True)
    return SFTSetup(args=SFTConfig(**trainer_kwargs(trainer, output_dir)),
                    lora=LoraConfig(**{"task_type": "CAUSAL_LM", **lora}),
                    quantization=quantization_kwargs(section),
                    curriculum=curriculum_params((section or {}).get("curriculum")),
                    options=output_options("sft", section),
                    untrained=untrained_mode(section))


def with_overrides(args: Any, output_dir: str | Path, overrides: dict[str, Any] | None = None) -> Any:
    """A built trainer config for one run: its output folder, then `overrides` (checkpointing) on top."""
    return dataclasses.replace(args, **{"output_dir": str(output_dir), **(overrides or {})})


def check_sft_section(section: dict[str, Any] | None) -> None:
    """Build every object the `sft` section describes, so any mistake fails before a model is loaded."""
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        parse_sft(section, out)
