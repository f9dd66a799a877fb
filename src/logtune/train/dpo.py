"""Preference tuning: TRL's DPOTrainer continuing the SFT LoRA adapter on build's preference pairs.

The SFT adapter is loaded trainable on the base and trained further; TRL keeps a frozen copy of it as
the reference (for PEFT models it needs no second model). The result is again one adapter on the same
base. With no pairs, the SFT adapter is copied through unchanged and the metrics say so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from logtune.train.config import dpo_config, limit_cpu_threads
from logtune.train.loading import MARKER, base_dir_of, load_model, read_marker, save_adapter, write_marker
from logtune.train.sft import loss_history, parameter_counts


def preference_dataset(pairs: list[dict[str, Any]]):
    """A `datasets.Dataset` with only TRL's conversational prompt / chosen / rejected columns."""
    from datasets import Dataset

    def chat(messages):
        return [{"role": m["role"], "content": m["content"]} for m in messages]

    return Dataset.from_dict({col: [chat(p[col]) for p in pairs] for col in ("prompt", "chosen", "rejected")})


def copy_adapter(sft_dir: str | Path, out_dir: str | Path) -> None:
    """Copy the SFT adapter and tokenizer into `out_dir`, re-pointing the marker at the same base."""
    sft_dir, out_dir = Path(sft_dir), Path(out_dir)
    base = base_dir_of(sft_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(sft_dir.iterdir()):
        if f.is_file() and f.name != MARKER:
            shutil.copy2(f, out_dir / f.name)
    write_marker(out_dir, "adapter", base)


def train_dpo(sft_dir: str | Path, pairs: list[dict[str, Any]], out_dir: str | Path,
              section: dict[str, Any] | None) -> dict[str, Any]:
    """Continue the SFT adapter with DPO on `pairs`; save the adapter to `out_dir`; return metrics."""
    from transformers import set_seed
    from trl import DPOTrainer

    args = dpo_config(section, out_dir)  # checked even when unused, so a typo fails on every run
    if read_marker(sft_dir)["kind"] != "adapter":
        raise ValueError(f"{sft_dir}: DPO continues an SFT adapter; this directory holds a full model")
    if not pairs:
        copy_adapter(sft_dir, out_dir)
        return {"pairs": 0, "pairs_trained": 0, "trained": False, "steps": 0,
                "note": "no preference pairs: the SFT adapter was copied unchanged"}
    threads = limit_cpu_threads()
    set_seed(args.seed)
    base = base_dir_of(sft_dir)
    model, tokenizer = load_model(sft_dir, trainable=True)
    trainer = DPOTrainer(model=model, args=args, train_dataset=preference_dataset(pairs), processing_class=tokenizer)
    # TRL drops pairs that truncation to max_length leaves empty: count them so none vanish silently
    trained_pairs = len(trainer.train_dataset)
    start = time.monotonic()
    result = trainer.train()
    seconds = time.monotonic() - start
    # TRL added a frozen "ref" copy of the adapter as the reference model; only "default" is the result
    save_adapter(trainer.model, tokenizer, out_dir, base)
    history = [h for h in trainer.state.log_history if "loss" in h and "train_loss" not in h]
    losses = loss_history(trainer.state.log_history)

    def last(key):
        vals = [h[key] for h in history if key in h]
        return float(vals[-1]) if vals else None

    return {
        "pairs": len(pairs),
        "pairs_trained": trained_pairs,
        "pairs_dropped_by_truncation": len(pairs) - trained_pairs,
        "trained": True,
        "steps": int(trainer.state.global_step),
        "epochs": float(args.num_train_epochs),
        "beta": float(args.beta),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        "reward_accuracy_last": last("rewards/accuracies"),
        "reward_margin_last": last("rewards/margins"),
        "seconds": round(seconds, 2),
        "threads": threads,
        **parameter_counts(trainer.model),
    }
