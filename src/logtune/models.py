"""The model-directory contract: what models/base, models/sft and models/preference hold, and loading them.

Every model directory holds the tokenizer (with its chat template) and `logtune_model.json`:
`{"kind": "full"}` for a full model saved with `save_pretrained`, or `{"kind": "adapter", "base":
"../base"}` for a PEFT adapter, "base" being the full base model's path RELATIVE TO THE ADAPTER
DIRECTORY, so directories moved together (a tmp_path, a DVC checkout elsewhere) still load.
An adapter trained on a quantized base (QLoRA) also records `"quantization": {BitsAndBytesConfig
kwargs}`, so whatever loads it (preference training, evaluate) loads its base the way it was trained.
An adapter saved without training (`sft.untrained`) records `"untrained": "zero" | "random"`, so
preference training passes it through instead of repairing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from logtune.io import read_json, write_json

MARKER = "logtune_model.json"


class ModelDirError(ValueError):
    """A model directory that does not follow the contract."""


def write_marker(model_dir: str | Path, kind: str, base_dir: str | Path | None = None,
                 quantization: dict[str, Any] | None = None, untrained: str | None = None) -> dict[str, Any]:
    """Write `logtune_model.json`; for an adapter, `base_dir` is stored relative to `model_dir`, and
    `quantization` (BitsAndBytesConfig kwargs) when its base was loaded quantized."""
    info: dict[str, Any] = {"kind": kind}
    if kind == "adapter":
        if base_dir is None:
            raise ModelDirError(f"{model_dir}: an adapter needs its base directory")
        info["base"] = Path(os.path.relpath(Path(base_dir).resolve(), Path(model_dir).resolve())).as_posix()
        if quantization:
            info["quantization"] = dict(sorted(quantization.items()))
        if untrained:
            info["untrained"] = untrained
    write_json(Path(model_dir) / MARKER, info)
    return info


def read_marker(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / MARKER
    if not path.is_file():
        raise ModelDirError(f"{model_dir}: no {MARKER}; not a logtune model directory")
    info = read_json(path)
    if info.get("kind") not in ("full", "adapter") or (info["kind"] == "adapter" and not info.get("base")):
        raise ModelDirError(f"{path}: expected kind 'full', or kind 'adapter' with a 'base', got {info}")
    return info


def base_dir_of(model_dir: str | Path) -> Path:
    """The full base model's directory: `model_dir` itself, or the adapter's base resolved against it."""
    info = read_marker(model_dir)
    return Path(model_dir) if info["kind"] == "full" else (Path(model_dir) / info["base"]).resolve()


def untrained_of(model_dir: str | Path) -> str | None:
    """`zero` / `random` for an adapter saved without training (sft.untrained), else None."""
    return read_marker(model_dir).get("untrained")


def is_encoder_decoder(model_dir: str | Path) -> bool:
    """Whether the full model in `model_dir` (or an adapter's base) is an encoder-decoder (T5: base.architecture
    seq2seq), read from its config.json: such a model loads with AutoModelForSeq2SeqLM and generates its reply
    from the decoder alone (logtune.generate)."""
    model_dir = Path(model_dir)
    config = (base_dir_of(model_dir) if (model_dir / MARKER).is_file() else model_dir) / "config.json"
    return config.is_file() and bool(read_json(config).get("is_encoder_decoder"))


def quantization_of(model_dir: str | Path) -> dict[str, Any] | None:
    """The BitsAndBytesConfig kwargs an adapter was trained with, or None (full precision / a full model)."""
    return read_marker(model_dir).get("quantization")


def load_base(base_dir: str | Path, quantization: dict[str, Any] | None = None, *, trainable: bool = False,
              gradient_checkpointing: bool = False, init_kwargs: dict[str, Any] | None = None):
    """The full model in `base_dir`, quantized with `quantization` (BitsAndBytesConfig kwargs) when given;
    `init_kwargs` go to `from_pretrained` (TRL's `model_init_kwargs`: dtype, attn_implementation...).

    A quantized base loaded for training goes through PEFT's `prepare_model_for_kbit_training`: it
    freezes the quantized weights, casts the remaining small ones (norms, embeddings) to fp32 for stable
    updates, and with gradient checkpointing makes the inputs require grad so checkpointed blocks
    still backpropagate into the adapters.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, BitsAndBytesConfig

    kwargs: dict[str, Any] = {**(init_kwargs or {}), "local_files_only": True}
    if quantization:
        kwargs["quantization_config"] = BitsAndBytesConfig(**quantization)
    auto = AutoModelForSeq2SeqLM if is_encoder_decoder(base_dir) else AutoModelForCausalLM
    model = auto.from_pretrained(base_dir, **kwargs)
    if quantization and trainable:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    return model


def load_model(model_dir: str | Path, *, trainable: bool = False, quantization: dict[str, Any] | None = None,
               gradient_checkpointing: bool = False, init_kwargs: dict[str, Any] | None = None):
    """Load (model, tokenizer) from a logtune model directory; adapters come back as a PeftModel.

    An adapter's base is quantized as its marker says; a full model (the SFT base) is quantized with
    `quantization` when given (BitsAndBytesConfig kwargs, from `sft.quantization`).
    """
    from peft import PeftModel
    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    info = read_marker(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    quant = info.get("quantization") if info["kind"] == "adapter" else quantization
    base = load_base(base_dir_of(model_dir), quant, trainable=trainable, gradient_checkpointing=gradient_checkpointing,
                     init_kwargs=init_kwargs)
    if info["kind"] == "adapter":
        model = PeftModel.from_pretrained(base, model_dir, is_trainable=trainable)
    else:
        model = base
    if not trainable:
        model.eval()
    return model, tokenizer


def save_adapter(model, tokenizer, out_dir: str | Path, base_dir: str | Path,
                 quantization: dict[str, Any] | None = None, untrained: str | None = None) -> None:
    """Save only the trained ("default") adapter, the tokenizer and the marker into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(Path(base_dir).resolve(), out_dir.resolve())).as_posix()
    # the adapter config would otherwise record this run's absolute base path: machine-specific bytes
    model.peft_config["default"].base_model_name_or_path = rel
    model.save_pretrained(out_dir, selected_adapters=["default"])
    tokenizer.save_pretrained(out_dir)
    _make_adapter_files_deterministic(out_dir)
    write_marker(out_dir, "adapter", base_dir, quantization, untrained)


def _make_adapter_files_deterministic(out_dir: Path) -> None:
    # PEFT writes target_modules from a set (order varies with PYTHONHASHSEED) and a model card naming the
    # base by its absolute path: same training, different bytes. Sort the one, drop the other.
    path = out_dir / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "README.md").unlink(missing_ok=True)
