"""Training curves for DVC: loss and learning rate per optimizer step, one series per phase, via DVCLive.

One `TrainingLog` spans a whole training stage (SFT's curriculum phases, or the preference run); each
phase's Trainer gets `log.callback(phase)`. The step axis is the stage's GLOBAL optimizer step: each
phase's Trainer counts from 0, so the log adds the steps of the phases before it, and the curves of
successive phases continue one another along x. Each phase is its own series
(`<dir>/plots/metrics/train/<phase>/loss.tsv`, `.../learning_rate.tsv`), and the whole stage is one
more (`<dir>/plots/metrics/train/loss.tsv`: every phase end to end, the series to compare across
experiments whatever their phases); dvc.yaml's top-level `plots:` points `dvc plots show` at them.

DVCLive is kept to writing files: no DVC experiment is saved (no git calls), it writes no dvc.yaml
(the plots are defined in the repo's own dvc.yaml), and it never posts to DVC Studio (no network).
`report_to` stays "none" in the TrainingArguments: this callback replaces transformers' DVCLive
integration, which knows nothing of phases. Only the main process writes (under `accelerate launch`
every rank runs the callback).

`token_shares` is the padding/trained-token accounting that packing is judged by.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

# Trainer log keys -> the series name written per phase
SERIES = {"loss": "loss", "learning_rate": "learning_rate"}


def is_main_process() -> bool:
    """True on the process that writes files: rank 0 under a distributed launch, or a plain run."""
    return int(os.environ.get("RANK", "0")) == 0


class TrainingLog:
    """One DVCLive run for a training stage; `callback(phase)` per phase, `close()` at the end."""

    def __init__(self, live_dir: str | Path):
        self.live_dir = Path(live_dir)
        self.offset = 0                  # optimizer steps taken by the phases already logged
        self.phases: list[str] = []
        self._live = None

    def _open(self):
        if self._live is None:
            # set, not setdefault: a Studio token in the user's environment must not make a run post metrics
            os.environ["DVC_STUDIO_OFFLINE"] = "true"
            from dvclive import Live

            self._live = Live(str(self.live_dir), save_dvc_exp=False, dvcyaml=None, report=None,
                              monitor_system=False)
        return self._live

    def __enter__(self) -> "TrainingLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def log(self, phase: str, step: int, values: dict[str, Any]) -> None:
        """Write `values` (Trainer log keys) of `phase` at global step `step` (rank 0 only)."""
        if not is_main_process():
            return
        live = self._open()
        live.step = int(step)
        for key, name in SERIES.items():
            if key in values and values[key] is not None:
                live.log_metric(f"train/{phase}/{name}", float(values[key]))
                live.log_metric(f"train/{name}", float(values[key]))   # the whole stage, phases end to end
        live.make_summary()   # metrics.json: the latest value per series, readable mid-run

    def replay(self, phase: str, log_history: list[dict[str, Any]]) -> int:
        """Log a phase from a Trainer's `state.log_history` (a phase a resumed run skips because it had
        finished, or a resumed phase's steps before its checkpoint) and advance the step offset past it;
        returns the phase's last step. Idempotent per phase: a phase is only ever logged once."""
        last = 0
        for entry in log_history:
            step = int(entry.get("step", 0))
            last = max(last, step)
            if "loss" in entry and "train_loss" not in entry:
                self.log(phase, self.offset + step, entry)
        self.end_phase(phase, last)
        return last

    def end_phase(self, phase: str, steps: int) -> None:
        if phase not in self.phases:
            self.phases.append(phase)
            self.offset += int(steps)

    def callback(self, phase: str):
        """A TrainerCallback that logs `phase`'s loss and learning rate at every logging step."""
        from transformers import TrainerCallback

        log = self

        class PhaseLog(TrainerCallback):
            def __init__(self):
                self.offset = log.offset

            def on_train_begin(self, args, state, control, **kwargs):
                # resuming from a checkpoint: the Trainer restored the steps logged before the interruption
                # (a fresh run of this stage deleted them with the stage's outputs): write them again
                self.offset = log.offset
                for entry in state.log_history:
                    if "loss" in entry and "train_loss" not in entry:
                        log.log(phase, self.offset + int(entry["step"]), entry)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "loss" in logs and "train_loss" not in logs:
                    log.log(phase, self.offset + state.global_step, logs)

            def on_train_end(self, args, state, control, **kwargs):
                log.end_phase(phase, state.global_step)

        return PhaseLog()

    def close(self) -> None:
        """Finish the DVCLive run. The directory exists afterwards even if no step was logged (a stage with
        nothing to train), since dvc.yaml declares it as an output (rank 0 only)."""
        if not is_main_process():
            return
        self._open().end()
        self._live = None


def token_shares(trainer) -> dict[str, Any]:
    """Tokens, padding share and trained share over one pass of the trainer's train dataloader.

    Counted on the batches the model will see (after the collator: padding, packing, padding-free
    flattening), so `padding_share` is exactly what packing is meant to remove. A pad is a position with
    `attention_mask` 0; a padding-free batch (no attention mask) pads only at the end of its one row,
    where `position_ids` restart at 0 on a pad token. Trained = labels != -100 (SFT), or the
    `completion_mask` where a collator marks the scored tokens instead (DPO: chosen and rejected rows;
    KTO: its completions, not the KL rows, which only estimate the reference term). The pass restores every
    RNG it may touch, so counting does not change which batches training then draws.
    """
    import numpy as np
    import torch

    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    tokens = padding = trained = 0
    try:
        for batch in trainer.get_train_dataloader():
            ids = batch["input_ids"]
            total = ids.numel()
            if "attention_mask" in batch:
                pads = int((batch["attention_mask"] == 0).sum())
            else:
                pad_id = trainer.processing_class.pad_token_id if trainer.processing_class is not None else None
                pads = _trailing_pads(ids, batch.get("position_ids"), pad_id)
            tokens += total
            padding += pads
            trained += _trained_tokens(batch)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    return {
        "tokens": int(tokens),
        "padding_share": round(padding / tokens, 6) if tokens else 0.0,
        "trained_share": round(trained / tokens, 6) if tokens else 0.0,
    }


def _trained_tokens(batch) -> int:
    if "labels" in batch:
        return int((batch["labels"] != -100).sum())
    if "completion_mask" in batch:
        mask = batch["completion_mask"]
        if "attention_mask" in batch:
            mask = mask * batch["attention_mask"]
        return int(mask.sum())
    return 0


def _trailing_pads(ids, position_ids, pad_id) -> int:
    # padding-free: one flattened row, right-padded only up to `pad_to_multiple_of` (by default not at all);
    # pads are the tail after the last real position (position id > 0), each a pad token at position 0
    if position_ids is None or pad_id is None:
        return 0
    n = 0
    for row_ids, row_pos in zip(ids.tolist(), position_ids.tolist()):
        for t, pos in zip(reversed(row_ids), reversed(row_pos)):
            if pos != 0 or t != pad_id:
                break
            n += 1
    return n
