"""Supervised fine-tuning: TRL's SFTTrainer with a PEFT LoRA adapter on the base, assistant-only loss,
curriculum phases in order (seed 001), LoRA or QLoRA.

The data is build's `sft.parquet` `messages` column (TRL's conversational format) and its `phase`
column; lineage columns are dropped before TRL sees them. Each example's LAST message is the reply it
was built for; the earlier turns are history, and history can hold a reply users down-voted. So each
example goes to TRL as a conversational prompt/completion (history -> last reply), and with
`assistant_only_loss` the loss covers exactly that reply and its EOS (the chat template's
`{% generation %}` span): the model learns to answer and to stop, not to imitate users or replay the
history's mistakes.

Curriculum (logtune.train.curriculum): `phased` runs one SFTTrainer per phase, in order, on the same
model object, so phase 2 starts from phase 1's adapter weights (a fresh optimizer and learning-rate
schedule per phase, as seed 001's per-phase runs had; `max_steps` and `num_train_epochs` apply per
phase). `mixed` is one run over the same examples shuffled. Per-phase loss goes to the metrics and,
through `log` (logtune.train.tracking.TrainingLog), to DVCLive.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from logtune.chat_templates import require_markers
from logtune.models import load_model, save_adapter
from logtune.runtime import limit_cpu_threads
from logtune.train.config import SFTSetup, parse_sft, with_overrides
from logtune.train.curriculum import plan

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
    if value is not None:
        return f"{value:.3f}"
    return f"{metrics['train_loss']:.3f} (mean)" if metrics.get("train_loss") is not None else "n/a"


def loss_history(log_history: list[dict[str, Any]]) -> list[float]:
    """The per-logging-step training losses the Trainer recorded (not its end-of-run average)."""
    return [float(h["loss"]) for h in log_history if "loss" in h and "train_loss" not in h]


def parameter_counts(model) -> dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_params": int(trainable), "total_params": int(sum(p.numel() for p in model.parameters()))}


def prepared_counts(trainer, examples: int, max_length: int | None) -> dict[str, int]:
    """What TRL made of `examples` rows: tokenized, masked (labels -100 outside the assistant span),
    truncated, and with no assistant token left after truncation dropped. Counted so none vanish
    silently. Packed datasets hold several examples per row (`seq_lengths`)."""
    prepared = trainer.train_dataset
    lengths = [len(ids) for ids in prepared["input_ids"]]
    if "seq_lengths" in prepared.column_names:  # packing: one row per pack
        per_example = [n for row in prepared["seq_lengths"] for n in row]
        trained = len(per_example)
    else:
        per_example, trained = lengths, len(prepared)
    # TRL folds the assistant and completion masks into `labels` (-100 = not trained)
    labels = prepared["labels"] if "labels" in prepared.column_names else prepared["input_ids"]
    return {
        "examples_trained": trained,
        "examples_dropped_no_loss_tokens": examples - trained,
        "examples_at_max_length": sum(1 for n in per_example if max_length and n >= max_length),
        "tokens": int(sum(lengths)),
        "loss_tokens": int(sum(sum(1 for t in seq if t != -100) for seq in labels)),
    }


def is_peft(model) -> bool:
    return hasattr(model, "peft_config")


def batch_token_shares(trainer) -> dict[str, Any]:
    from logtune.train.tracking import token_shares

    shares = token_shares(trainer)
    # `tokens` there counts the collated batches (pads included): named apart from the dataset's tokens
    return {"batch_tokens": shares["tokens"], "padding_share": shares["padding_share"],
            "trained_share": shares["trained_share"]}


def train_sft(base_dir: str | Path, rows: list[dict[str, Any]], out_dir: str | Path,
              sft: SFTSetup | dict[str, Any] | None, *, log=None, checkpoints=None,
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a LoRA adapter on `rows` (with `messages`, and `phase` for the curriculum) over the full
    model in `base_dir`, phase by phase; save it to `out_dir` (main process only); return metrics.

    `sft`: the stage's `parse_sft` result (a raw `sft` mapping is parsed here, once).

    `log`: a logtune.train.tracking.TrainingLog (DVCLive curves per phase), or None.
    `checkpoints`: a logtune.train.resume.Checkpoints (resume an interrupted run), or None.
    """
    from transformers import set_seed

    setup = sft if isinstance(sft, SFTSetup) else parse_sft(sft, out_dir)  # before anything is loaded
    curriculum = setup.curriculum
    args = with_overrides(setup.args, out_dir)
    runs = plan(rows, curriculum, args.seed)
    if not any(phase_rows for _, phase_rows in runs.runs):
        raise ValueError(f"no SFT examples to train on: {runs.examples} read, rejected {runs.rejected}; the "
                         "build stage kept none, or the curriculum lists none of their phases")
    quant = setup.quantization
    threads = limit_cpu_threads()
    set_seed(args.seed)  # before the adapter is created, so its random init is the same every run
    model, tokenizer = load_model(base_dir, trainable=True, quantization=quant,
                                  gradient_checkpointing=bool(args.gradient_checkpointing),
                                  init_kwargs=args.model_init_kwargs)
    require_markers(tokenizer, f"sft on {base_dir}")  # assistant-only loss needs the base stage's training template
    if (mode := setup.untrained) is not None:
        return save_untrained(model, tokenizer, out_dir, base_dir, setup, mode, runs, quant, threads, echo)
    state = {"model": model, "main": True}
    start = time.monotonic()
    phases = run_phases(runs, state, lambda name, phase_rows: _train_phase(
        state, name, phase_rows, tokenizer, setup, out_dir, log, checkpoints), checkpoints, log, echo)
    seconds = time.monotonic() - start
    if state["main"]:
        save_adapter(state["model"], tokenizer, out_dir, base_dir, quant)
    return summary(runs, curriculum, phases, args, quant, round(seconds, 2), threads, state["model"])


def run_phases(runs, state: dict[str, Any], train_phase: Callable[[str, list], dict[str, Any]], checkpoints, log,
               echo: Callable[[str], None], label: str = "sft") -> dict[str, Any]:
    """The curriculum's runs in order on `state["model"]`: `train_phase(name, rows)` for each phase with rows; an
    empty phase is reported as skipped, one an interrupted run finished is reused from its checkpoint. Shared by
    TRL's SFT here and the encoder-decoder path (logtune.train.seq2seq)."""
    phases: dict[str, Any] = {}
    for name, phase_rows in runs.runs:
        if not phase_rows:
            phases[name] = {"examples": 0, "skipped": "no examples in this phase"}
            echo(f"{label}: phase {name}: no examples, skipped")
            continue
        if checkpoints is not None and checkpoints.done(name):
            phases[name] = _reuse_finished_phase(state, name, checkpoints, log)
            echo(f"{label}: phase {name}: finished in an interrupted run, its adapter reused")
            continue
        phases[name] = train_phase(name, list(phase_rows))
        phases[name]["replayed"] = (runs.replayed or {}).get(name, 0)
        echo(f"{label}: phase {name}: {phases[name]['examples']} examples, {phases[name]['steps']} steps, loss "
             f"{format_loss(phases[name])} -> {format_loss(phases[name], 'loss_last')}")
    return phases


def save_untrained(model, tokenizer, out_dir, base_dir, setup: SFTSetup, mode, runs, quant, threads, echo) -> dict[str, Any]:
    """`sft.untrained`: wrap the base in the configured LoRA adapter and save it without a training step.

    `zero` is PEFT's own init (B = 0: the base model's outputs exactly); `random` keeps both A and B at
    their random init (PEFT `init_lora_weights=False`), a perturbation as large as the weights it adds
    to: a deliberately worse candidate for checking that the gate rejects one. Every example is counted
    as not trained, with the reason.
    """
    import dataclasses

    from peft import get_peft_model

    config = setup.lora
    if mode == "random":
        config = dataclasses.replace(config, init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    save_adapter(peft_model, tokenizer, out_dir, base_dir, quant, untrained=mode)
    echo(f"sft: untrained adapter ({mode} init, sft.untrained): {runs.examples} examples read, none trained")
    return {"examples": runs.examples, "examples_trained": 0, "examples_rejected": runs.rejected,
            "examples_not_trained": {f"sft.untrained: {mode}": runs.examples},
            "untrained": mode, "phases_run": [], "steps": 0, "loss_first": None, "loss_last": None,
            "train_loss": None, "quantization": quant, "seconds": 0.0, "threads": threads,
            **parameter_counts(peft_model)}


def _train_phase(state, name, phase_rows, tokenizer, setup: SFTSetup, out_dir, log, checkpoints) -> dict[str, Any]:
    from trl import SFTTrainer

    overrides = checkpoints.trainer_overrides(name) if checkpoints is not None else {}
    args = with_overrides(setup.args, out_dir, overrides)
    model = state["model"]
    trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(phase_rows), processing_class=tokenizer,
                         # the first phase creates the adapter; later phases continue that same PeftModel
                         peft_config=None if is_peft(model) else setup.lora,
                         callbacks=[log.callback(name)] if log is not None else None)
    state["model"] = trainer.model
    state["main"] = trainer.is_world_process_zero()
    counts = prepared_counts(trainer, len(phase_rows), args.max_length)
    shares = batch_token_shares(trainer)
    return train_and_record(trainer, name, state, args, checkpoints, {"examples": len(phase_rows), **counts, **shares})


def train_and_record(trainer, name: str, state: dict[str, Any], args, checkpoints, head: dict[str, Any]) -> dict[str, Any]:
    """Run one phase's `trainer` (resuming from its checkpoint when there is one); its metrics (`head` first),
    and, with checkpoints on, the finished phase's adapter saved so a later interruption restarts after it."""
    resume = checkpoints.resume_from(name) if checkpoints is not None else None
    t0 = time.monotonic()
    result = trainer.train(resume_from_checkpoint=resume)
    losses = loss_history(trainer.state.log_history)
    metrics = {
        **head,
        "steps": int(trainer.state.global_step),
        "epochs": float(args.num_train_epochs),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train_loss": float(result.training_loss),
        "seconds": round(time.monotonic() - t0, 2),
        "resumed_from_step": _checkpoint_step(resume),
    }
    if checkpoints is not None and checkpoints.enabled:
        if state["main"]:  # the finished phase's adapter: a rerun after a later interruption starts from it
            trainer.model.save_pretrained(checkpoints.adapter_dir(name), selected_adapters=["default"])
        checkpoints.phase_done(name, metrics=metrics, log_history=trainer.state.log_history)
    return metrics


def _reuse_finished_phase(state, name, checkpoints, log) -> dict[str, Any]:
    from peft import PeftModel, set_peft_model_state_dict
    from safetensors.torch import load_file

    adapter = checkpoints.adapter_dir(name)
    saved = checkpoints.phase_info(name)
    if is_peft(state["model"]):
        set_peft_model_state_dict(state["model"], load_file(adapter / "adapter_model.safetensors"))
    else:
        state["model"] = PeftModel.from_pretrained(state["model"], adapter, is_trainable=True)
    if log is not None:
        log.replay(name, saved["log_history"])
    return {**saved["metrics"], "reused_from_checkpoint": True}


def _checkpoint_step(path: str | None) -> int | None:
    if not path:
        return None
    tail = Path(path).name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def summary(runs, curriculum, phases, args, quant, seconds, threads, model) -> dict[str, Any]:
    """The stage's metrics: the read = trained + rejected ledger, the run as a whole, and each phase."""
    trained = [m for m in phases.values() if m.get("steps")]
    steps = sum(m["steps"] for m in trained)
    return {
        "examples": runs.examples,
        "examples_by_phase": runs.by_phase,
        # replayed rows (curriculum.replay) are trained twice but read once: not counted again here
        "examples_trained": sum(m.get("examples_trained", 0) - m.get("replayed", 0) for m in phases.values()),
        "examples_replayed": sum(m.get("replayed", 0) for m in phases.values()),
        "examples_rejected": runs.rejected,
        "examples_dropped_no_loss_tokens": sum(m.get("examples_dropped_no_loss_tokens", 0) for m in phases.values()),
        "examples_at_max_length": sum(m.get("examples_at_max_length", 0) for m in phases.values()),
        "tokens": sum(m.get("tokens", 0) for m in phases.values()),
        "loss_tokens": sum(m.get("loss_tokens", 0) for m in phases.values()),
        "curriculum": {"mode": curriculum.mode, "phases": list(curriculum.phases), "unlisted": curriculum.unlisted,
                       "replay": curriculum.replay},
        "phases_run": [name for name, m in phases.items() if m.get("steps")],
        "phases_skipped": [name for name, m in phases.items() if "skipped" in m],
        "phases": phases,
        "steps": steps,
        "loss_first": trained[0]["loss_first"] if trained else None,
        "loss_last": trained[-1]["loss_last"] if trained else None,
        # mean loss over all optimizer steps of all phases
        "train_loss": sum(m["train_loss"] * m["steps"] for m in trained) / steps if steps else None,
        "quantization": quant,
        "packing": bool(args.packing),
        "seconds": seconds,
        "threads": threads,
        **parameter_counts(model),
    }
