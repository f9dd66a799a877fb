"""The model-directory contract: what models/base, models/sft and models/dpo hold, and loading them.

Every model directory holds the tokenizer (with its chat template) and `logtune_model.json`:
`{"kind": "full"}` for a full model saved with `save_pretrained`, or `{"kind": "adapter", "base":
"../base"}` for a PEFT adapter, "base" being the full base model's path RELATIVE TO THE ADAPTER
DIRECTORY, so directories moved together (a tmp_path, a DVC checkout elsewhere) still load.
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


def write_marker(model_dir: str | Path, kind: str, base_dir: str | Path | None = None) -> dict[str, Any]:
    """Write `logtune_model.json`; for an adapter, `base_dir` is stored relative to `model_dir`."""
    info: dict[str, Any] = {"kind": kind}
    if kind == "adapter":
        if base_dir is None:
            raise ModelDirError(f"{model_dir}: an adapter needs its base directory")
        info["base"] = Path(os.path.relpath(Path(base_dir).resolve(), Path(model_dir).resolve())).as_posix()
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


def load_model(model_dir: str | Path, *, trainable: bool = False):
    """Load (model, tokenizer) from a logtune model directory; adapters come back as a PeftModel."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    info = read_marker(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    base = AutoModelForCausalLM.from_pretrained(base_dir_of(model_dir), local_files_only=True)
    if info["kind"] == "adapter":
        model = PeftModel.from_pretrained(base, model_dir, is_trainable=trainable)
    else:
        model = base
    if not trainable:
        model.eval()
    return model, tokenizer


def save_adapter(model, tokenizer, out_dir: str | Path, base_dir: str | Path) -> None:
    """Save only the trained ("default") adapter, the tokenizer and the marker into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(Path(base_dir).resolve(), out_dir.resolve())).as_posix()
    # the adapter config would otherwise record this run's absolute base path: machine-specific bytes
    model.peft_config["default"].base_model_name_or_path = rel
    model.save_pretrained(out_dir, selected_adapters=["default"])
    tokenizer.save_pretrained(out_dir)
    _make_adapter_files_deterministic(out_dir)
    write_marker(out_dir, "adapter", base_dir)


def _make_adapter_files_deterministic(out_dir: Path) -> None:
    # PEFT writes target_modules from a set (order varies with PYTHONHASHSEED) and a model card naming the
    # base by its absolute path: same training, different bytes. Sort the one, drop the other.
    path = out_dir / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "README.md").unlink(missing_ok=True)
