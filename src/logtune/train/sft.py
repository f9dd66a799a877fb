"""Supervised fine-tuning: TRL's SFTTrainer with a PEFT LoRA adapter on the base, assistant-only loss.

The data is build's `sft.parquet` `messages` column (TRL's conversational format); lineage columns are
dropped before TRL sees them. Each example's LAST message is the reply it was built for; the earlier
turns are history, and history can hold a reply users down-voted. So each example goes to TRL as a
conversational prompt/completion (history -> last reply), and with `assistant_only_loss` the loss covers
exactly that reply and its EOS (the chat template's `{% generation %}` span): the model learns to
answer and to stop, not to imitate users or replay the history's mistakes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logtune.train.config import limit_cpu_threads, lora_config, sft_config
from logtune.train.loading import load_model, save_adapter


def sft_dataset(rows: list[dict[str, Any]]):
    """A `datasets.Dataset` of conversational prompt (all but the last message) / completion (the last reply)."""
    from datasets import Dataset

    prompts, completions = [], []
    for i, row in enumerate(rows):
        messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        if not messages or messages[-1]["role"] != "assistant":
            raise ValueError(f"SFT example {row.get('id', i)}: last message must be the assistant reply to train on")
        prompts.append(messages[:-1])
        completions.append(messages[-1:])
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def format_loss(metrics: dict[str, Any], key: str = "loss_first") -> str:
    """A step loss from training metrics for a log line; a run shorter than `logging_steps` logs no
    step loss, so the run's mean loss (`train_loss`) stands in, marked as such."""
    value = metrics.get(key)
    return f"{value:.3f}" if value is not None else f"{metrics['train_loss']:.3f} (mean)"


def loss_history(log_history: list[dict[str, Any]]) -> list[float]:
    """The per-logging-step training losses the Trainer recorded (not its end-of-run average)."""
    return [float(h["loss"]) for h in log_history if "loss" in h and "train_loss" not in h]


def parameter_counts(model) -> dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_params": int(trainable), "total_params": int(sum(p.numel() for p in model.parameters()))}


def train_sft(base_dir: str | Path, rows: list[dict[str, Any]], out_dir: str | Path,
              section: dict[str, Any] | None) -> dict[str, Any]:
    """Train a LoRA adapter on `rows` over the full model in `base_dir`; save it to `out_dir`; return metrics."""
    from transformers import set_seed
    from trl import SFTTrainer

    if not rows:
        raise ValueError("no SFT examples: the build stage kept none, so there is nothing to fine-tune on")
    args = sft_config(section, out_dir)
    lora = lora_config(section)
    threads = limit_cpu_threads()
    set_seed(args.seed)  # before the adapter is created, so its random init is the same every run
    model, tokenizer = load_model(base_dir, trainable=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(rows), processing_class=tokenizer,
                         peft_config=lora)
    # TRL has already tokenized, masked (labels -100 outside the assistant span) and truncated the data, and
    # dropped examples that truncation left with no assistant token: count them so none vanish silently
    prepared = trainer.train_dataset
    labels = prepared["labels"]
    lengths = [len(ids) for ids in prepared["input_ids"]]
    start = time.monotonic()
    result = trainer.train()
    seconds = time.monotonic() - start
    save_adapter(trainer.model, tokenizer, out_dir, base_dir)
    losses = loss_history(trainer.state.log_history)
    return {
        "examples": len(rows),
        "examples_trained": len(prepared),
        "examples_dropped_no_loss_tokens": len(rows) - len(prepared),
        "examples_at_max_length": sum(1 for n in lengths if args.max_length and n >= args.max_length),
        "tokens": int(sum(lengths)),
        "loss_tokens": int(sum(sum(1 for t in seq if t != -100) for seq in labels)),
        "steps": int(trainer.state.global_step),
        "epochs": float(args.num_train_epochs),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        "seconds": round(seconds, 2),
        "threads": threads,
        **parameter_counts(trainer.model),
    }
