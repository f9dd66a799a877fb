"""Preference tuning after SFT: TRL's DPOTrainer on preference pairs, continuing the SFT LoRA adapter;
and the run both preference objectives share (logtune.train.kto is the other).

The SFT adapter is loaded trainable on its base (quantized again if SFT was QLoRA) and trained further,
with no `peft_config` (a PeftModel passed with one would get a second adapter); TRL uses the adapter
disabled / a frozen copy as the reference, so no second model is loaded. The result is again one
adapter on the same base. With no training data, the SFT adapter is copied through unchanged and the
metrics say so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

from logtune.chat_templates import require_markers
from logtune.runtime import limit_cpu_threads
from logtune.train.config import dpo_config, with_overrides
from logtune.models import (MARKER, base_dir_of, is_encoder_decoder, load_model, read_marker, save_adapter, untrained_of,
                            write_marker)
from logtune.train.sft import batch_token_shares, format_loss, loss_history, parameter_counts


def chat(messages) -> list[dict[str, str]]:
    """Messages with only TRL's role/content keys (lineage and tool fields stay out of the template)."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def preference_dataset(pairs: list[dict[str, Any]]):
    """A `datasets.Dataset` with only TRL's conversational prompt / chosen / rejected columns."""
    from datasets import Dataset

    return Dataset.from_dict({col: [chat(p[col]) for p in pairs] for col in ("prompt", "chosen", "rejected")})


def copy_adapter(sft_dir: str | Path, out_dir: str | Path) -> None:
    """Copy the SFT adapter and tokenizer into `out_dir`, re-pointing the marker at the same base."""
    sft_dir, out_dir = Path(sft_dir), Path(out_dir)
    base = base_dir_of(sft_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(sft_dir.iterdir()):
        if f.is_file() and f.name != MARKER and f.name != "README.md":  # the card describes the SFT run
            shutil.copy2(f, out_dir / f.name)
    info = read_marker(sft_dir)
    write_marker(out_dir, "adapter", base, info.get("quantization"), info.get("untrained"))


def check_sft_adapter(sft_dir: str | Path, objective: str) -> None:
    if read_marker(sft_dir)["kind"] != "adapter":
        raise ValueError(f"{sft_dir}: {objective.upper()} continues an SFT adapter; this directory holds a full model")


def pass_untrained_through(sft_dir: str | Path, out_dir: str | Path, objective: str) -> dict[str, Any] | None:
    """An SFT adapter saved untrained (sft.untrained) is copied through unchanged, so the candidate stays the
    deliberately worse model it was asked to be; metrics say so. None for a trained adapter."""
    mode = untrained_of(sft_dir)
    if mode is None:
        return None
    copy_adapter(sft_dir, out_dir)
    return {**not_trained(objective, "training"), "untrained": mode,
            "note": f"the SFT adapter is untrained (sft.untrained: {mode}): copied unchanged, not trained further"}


def pass_seq2seq_through(sft_dir: str | Path, out_dir: str | Path, objective: str) -> dict[str, Any] | None:
    """An SFT adapter on an encoder-decoder base (base.architecture: seq2seq) is copied through unchanged: TRL's
    DPOTrainer and KTOTrainer score a completion as one prompt + completion sequence of a decoder-only model (no
    encoder-decoder path; only trl.experimental's CPO/ORPO have one). The metrics say so. None for a causal base."""
    if not is_encoder_decoder(sft_dir):
        return None
    import trl

    copy_adapter(sft_dir, out_dir)
    return {**not_trained(objective, "training"), "architecture": "seq2seq",
            "note": f"not trained: TRL {trl.__version__}'s {objective.upper()} trainer is decoder-only (it concatenates "
                    "prompt and completion into one sequence), and the SFT adapter is on an encoder-decoder base "
                    "(base.architecture: seq2seq); the SFT adapter was copied unchanged"}


def run_preference(objective: str, trainer_cls: type, sft_dir: str | Path, dataset, args, out_dir: str | Path,
                   *, log=None, checkpoints=None, extra: Callable[[list[dict]], dict] | None = None) -> dict[str, Any]:
    """Train the SFT adapter further with `trainer_cls` (DPOTrainer or KTOTrainer) on `dataset`; save
    it to `out_dir` (main process only); return the metrics both objectives share (+ `extra(history)`)."""
    from transformers import set_seed

    threads = limit_cpu_threads()
    set_seed(args.seed)
    base = base_dir_of(sft_dir)
    model, tokenizer = load_model(sft_dir, trainable=True, gradient_checkpointing=bool(args.gradient_checkpointing),
                                  init_kwargs=args.model_init_kwargs)
    require_markers(tokenizer, f"{objective} on {sft_dir}")
    trainer = trainer_cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          callbacks=[log.callback(objective)] if log is not None else None)
    trained = len(trainer.train_dataset)  # TRL drops examples that truncation to max_length leaves empty
    # DPO/KTO batches carry completion masks, not `labels`: only the padding share is meaningful here
    shares = {k: v for k, v in batch_token_shares(trainer).items() if k != "trained_share"}
    resume = checkpoints.resume_from(objective) if checkpoints is not None else None
    start = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.monotonic() - start
    if trainer.is_world_process_zero():
        # TRL may hold a frozen "ref" copy of the adapter as the reference model; only "default" is the result
        save_adapter(trainer.model, tokenizer, out_dir, base, read_marker(sft_dir).get("quantization"))
    history = [h for h in trainer.state.log_history if "loss" in h and "train_loss" not in h]
    losses = loss_history(trainer.state.log_history)
    return {
        "objective": objective,
        "examples": len(dataset),
        "examples_trained": trained,
        "examples_dropped_by_truncation": len(dataset) - trained,
        "trained": True,
        **shares,
        "steps": int(trainer.state.global_step),
        "epochs": float(args.num_train_epochs),
        "beta": float(args.beta),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        **(extra(history) if extra else {}),
        "seconds": round(seconds, 2),
        "threads": threads,
        **parameter_counts(trainer.model),
    }


def last_logged(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return float(values[-1]) if values else None


def not_trained(objective: str, what: str) -> dict[str, Any]:
    return {"objective": objective, "examples": 0, "examples_trained": 0, "trained": False, "steps": 0,
            "note": f"no {what}: the SFT adapter was copied unchanged"}


def train_dpo(sft_dir: str | Path, pairs: list[dict[str, Any]], out_dir: str | Path,
              config: Any, *, log=None, checkpoints=None) -> dict[str, Any]:
    """Continue the SFT adapter with DPO on `pairs`; save the adapter to `out_dir`; return metrics.

    `config`: the DPOConfig the stage built once (`preference_config`); a raw `preference.dpo` mapping
    is built here."""
    from trl import DPOConfig, DPOTrainer

    overrides = checkpoints.trainer_overrides("dpo") if checkpoints is not None else {}
    built = config if isinstance(config, DPOConfig) else dpo_config(config, out_dir)
    args = with_overrides(built, out_dir, overrides)
    check_sft_adapter(sft_dir, "dpo")
    if (passed := pass_untrained_through(sft_dir, out_dir, "dpo") or pass_seq2seq_through(sft_dir, out_dir, "dpo")):
        return passed
    if not pairs:
        copy_adapter(sft_dir, out_dir)
        return not_trained("dpo", "preference pairs")
    return run_preference("dpo", DPOTrainer, sft_dir, preference_dataset(pairs), args, out_dir, log=log,
                          checkpoints=checkpoints,
                          extra=lambda h: {"reward_accuracy_last": last_logged(h, "rewards/accuracies"),
                                           "reward_margin_last": last_logged(h, "rewards/margins")})


def summary_line(metrics: dict[str, Any]) -> str:
    """One line for the stage's output."""
    if not metrics["trained"]:
        return f"{metrics['objective']}: {metrics['note']}"
    return (f"{metrics['objective']}: {metrics['examples']} examples, {metrics['steps']} steps, loss "
            f"{format_loss(metrics)} -> {format_loss(metrics, 'loss_last')}, {metrics['seconds']}s")
