"""Model cards: the README.md in each trained model directory, saying what made the checkpoint.

A Hugging Face-style card (YAML front matter: base_model, library_name, tags; the Hub and
`huggingface_hub.ModelCard` read it) whose body records the base model, the adapter configuration,
the content hashes of the data it was trained on (from `dvc.lock`), the system-prompt version, the
params section, the training metrics and, when given, golden-set metrics. It is deterministic (no
dates, no absolute paths, sorted keys), so an unchanged run writes an unchanged card and the model
directory stays byte-identical between runs.

Data hashes: when a training stage runs, dvc.lock already holds the fresh hashes of everything
upstream (DVC writes each stage's lock entry as soon as it finishes) but still the previous run's
entry for this stage. So a path's hash is taken from the stage that WRITES it (its `outs` entry),
a file inside a stage's output folder (data/train/sft.parquet) is hashed from its bytes, and only a
path no stage writes (golden/golden.jsonl, raw inputs) falls back to a `deps` entry. Wall-clock seconds
are left out of the card (they are in metrics/<stage>.json).
Not a release manifest (the gate writes that, after evaluation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from logtune.lockfile import DATA_PREFIXES, LockError, data_hashes, read_lock
from logtune.params import load_yaml


def lock_data_hashes(lock_path: str | Path, stage: str | None = None) -> tuple[dict[str, str], str | None]:
    """({path: md5}, note): hashes of the data/models/golden paths in dvc.lock, each from the stage that
    writes it; only `stage`'s own deps when `stage` is in the lock. A missing or broken lock is a note."""
    try:
        lock = read_lock(lock_path)
    except LockError as e:
        return {}, str(e)
    every = data_hashes(lock)    # deps and outs of all stages
    produced: dict[str, str] = {}
    for body in lock["stages"].values():
        for out in body.get("outs") or []:
            if isinstance(out, dict) and out.get("md5"):
                produced[out["path"]] = out["md5"]
    wanted = sorted(every)
    if stage in lock["stages"]:
        wanted = sorted(d["path"] for d in lock["stages"][stage].get("deps") or []
                        if isinstance(d, dict) and str(d.get("path", "")).startswith(DATA_PREFIXES))
    root = Path(lock_path).parent
    hashes = {p: produced.get(p) or _file_md5(root / p) or every.get(p) for p in wanted}
    return {p: h for p, h in hashes.items() if h}, None


def _file_md5(path: Path) -> str | None:
    """A file's md5 as DVC computes it (of its bytes). For a file inside a stage's output folder
    (data/train/sft.parquet in mix's data/train): the lock has no entry of its own for it but this
    stage's previous-run deps entry, which would name the data the LAST run trained on."""
    import hashlib

    if not path.is_file():
        return None
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _without_wall_times(value: Any) -> Any:
    """Training metrics minus wall-clock seconds: they differ on every run (they stay in metrics/<stage>.json),
    and the card must not, so the same inputs give a byte-identical model folder."""
    if isinstance(value, dict):
        return {k: _without_wall_times(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_wall_times(v) for v in value]
    return value


def _prompt_version(params_path: str | Path | None) -> tuple[str | None, str | None]:
    from logtune.ids import prompt_version
    from logtune.prompt import effective_system_prompt, params_env_prefix

    params: dict[str, Any] = {}
    if params_path and Path(params_path).is_file():
        params = load_yaml(Path(params_path).read_text(encoding="utf-8")) or {}  # floats as DVC writes them
    prompt = effective_system_prompt((params.get("assistant") or {}).get("system_prompt"),
                                     env_prefix=params_env_prefix(params))
    model = (params.get("base") or {}).get("model")
    return prompt_version(prompt), model


def _adapter_config(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / "adapter_config.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _base_model(out_dir: Path, params_model: str | None) -> str:
    # a Hub id or local path from params.yaml `base.model` names the base best; the embedded tiny model
    # has no name outside this repo, so the card names its directory, relative, as the marker records it
    if params_model and params_model != "tiny":
        return str(params_model)
    marker = out_dir / "logtune_model.json"
    if marker.is_file():
        info = json.loads(marker.read_text(encoding="utf-8"))
        if info.get("kind") == "adapter":
            return info["base"]
    return params_model or "unknown"


def _block(lang: str, value: Any) -> str:
    text = yaml.safe_dump(value, sort_keys=True, allow_unicode=True) if lang == "yaml" else \
        json.dumps(value, indent=2, sort_keys=True, default=str)
    return f"```{lang}\n{text.rstrip()}\n```"


def render_model_card(*, stage: str, section: dict[str, Any] | None, metrics: dict[str, Any] | None,
                      adapter_config: dict[str, Any] | None, base_model: str, hashes: dict[str, str],
                      lock_note: str | None, prompt_version: str | None,
                      golden_metrics: dict[str, Any] | None = None) -> str:
    """The card's text from already-gathered facts (pure: same facts, same bytes)."""
    is_adapter = adapter_config is not None
    seq2seq = (metrics or {}).get("architecture") == "seq2seq"   # logtune.train.seq2seq: Seq2SeqTrainer, not TRL
    tags = sorted({"logtune", stage, *(["seq2seq", "text2text-generation"] if seq2seq else ["trl"]),
                   *(["lora", "peft"] if is_adapter else [])})
    front = {"base_model": base_model, "library_name": "peft" if is_adapter else "transformers", "tags": tags}
    lines = ["---", yaml.safe_dump(front, sort_keys=True).rstrip(), "---", "",
             f"# logtune `{stage}` model", "",
             f"Trained by logtune's `{stage}` stage. Everything below is recorded at training time; "
             "the data hashes are DVC's (`dvc.lock`), so `dvc status` tells whether this model is current.", "",
             "## Base model", "", f"`{base_model}`", ""]
    if is_adapter:
        keys = ("peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules", "bias",
                "use_dora", "use_rslora", "modules_to_save")
        lines += ["## Adapter", "", _block("json", {k: adapter_config.get(k) for k in keys if k in adapter_config}), ""]
    lines += ["## Data", ""]
    if hashes:
        lines += ["| path | md5 (dvc.lock) |", "|---|---|"] + [f"| `{p}` | `{h}` |" for p, h in sorted(hashes.items())]
    else:
        lines += [f"Data hashes unknown: {lock_note or 'dvc.lock lists no data paths'}."]
    lines += ["", "## Prompt version", "",
              f"`{prompt_version}` (sha256 prefix of the system prompt in force: params.yaml `assistant.system_prompt` "
              "with any $LOGTUNE_SYSTEM_PROMPT override)" if prompt_version else "No system prompt in params.yaml.",
              "", f"## Params (`{stage}` section of params.yaml)", "", _block("yaml", section or {}), "",
              "## Training metrics", "", _block("json", _without_wall_times(metrics or {})), ""]
    if golden_metrics:
        lines += ["## Golden-set metrics", "", _block("json", golden_metrics), ""]
    lines += ["## Load", "", "```python", "from logtune.models import load_model",
              "model, tokenizer = load_model(\"<this directory>\")", "```", ""]
    return "\n".join(lines)


def write_model_card(out_dir: str | Path, *, stage: str, section: dict[str, Any] | None,
                     metrics: dict[str, Any] | None, lock_path: str | Path = "dvc.lock",
                     golden_metrics: dict[str, Any] | None = None,
                     params_path: str | Path | None = "params.yaml") -> Path:
    """Write `out_dir/README.md` for the model trained by `stage`; returns its path."""
    out_dir = Path(out_dir)
    hashes, note = lock_data_hashes(lock_path, stage)
    version, params_model = _prompt_version(params_path)
    text = render_model_card(stage=stage, section=section, metrics=metrics, adapter_config=_adapter_config(out_dir),
                             base_model=_base_model(out_dir, params_model), hashes=hashes, lock_note=note,
                             prompt_version=version, golden_metrics=golden_metrics)
    path = out_dir / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
