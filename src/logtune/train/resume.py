"""Resumable training: Trainer checkpoints outside the stage's outputs, keyed by what the run trains on.

`dvc repro` deletes a stage's outputs before running it, so checkpoints cannot live in models/: they go
under `<resume.dir>/<fingerprint>/<phase>/checkpoint-N` (default `.cache/checkpoints/<stage>`), where
the fingerprint hashes the params section and the input files. An interrupted run, rerun with the same
inputs, finds its fingerprint and continues from the last complete checkpoint (optimizer, scheduler,
RNG and data position included: the Trainer restores them all); a run with changed data or params has
another fingerprint and starts fresh, never resuming an old run. A finished phase is marked done (with
its adapter saved beside the marker), so a rerun skips it; `finish()` deletes the fingerprint's
directory once the stage succeeded. Other fingerprints' directories are left alone: under `dvc exp run
--queue` they may belong to a run in progress.

params (`train_run.<stage>.resume`, merged into the training section by `training_section`):
    resume: {enabled: true, dir: .cache/checkpoints/sft, save_steps: 50}
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtune.io import atomic_open
from logtune.params import ParamsError, check_keys
from logtune.train.tracking import is_main_process

# Sections keys that do not change what is trained: editing them must not orphan a checkpoint
NOT_FINGERPRINTED = ("resume", "export_merged", "model_card")
# Files this large are fingerprinted by size + head + tail: re-reading a 60 GB base model on every
# run costs minutes, and a changed checkpoint of the same size with the same first and last bytes
# is not a realistic edit.
FULL_HASH_LIMIT = 64 << 20
_EDGE = 4 << 20
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
DONE = "done.json"


@dataclass(frozen=True)
class ResumeParams:
    """`<section>.resume`: checkpoint every `save_steps` optimizer steps under `dir`; off: no checkpoints."""

    enabled: bool = True
    dir: str | None = None        # default: .cache/checkpoints/<stage>
    save_steps: int = 50          # a killed run loses at most this many steps of work

    @classmethod
    def from_section(cls, where: str, section: dict[str, Any] | None) -> "ResumeParams":
        raw = (section or {}).get("resume") or {}
        if not isinstance(raw, dict):
            raise ParamsError(f"params section '{where}.resume': expected a mapping, got {type(raw).__name__}")
        check_keys(f"{where}.resume", raw, {"enabled", "dir", "save_steps"})
        p = cls(**raw)
        if p.save_steps < 1:
            raise ParamsError(f"params section '{where}.resume': save_steps must be >= 1, got {p.save_steps}")
        return p


def _hash_file(h, path: Path) -> None:
    size = path.stat().st_size
    h.update(f"{size}\0".encode())
    with path.open("rb") as f:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(f.read(_EDGE))
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))


def fingerprint(section: dict[str, Any] | None, *paths: str | Path) -> str:
    """16 hex digits identifying a training run: the params section (minus resume/export/card keys) and
    the bytes of each input file or directory (files in sorted order, names included)."""
    h = hashlib.sha256()
    kept = {k: v for k, v in (section or {}).items() if k not in NOT_FINGERPRINTED}
    h.update(json.dumps(kept, sort_keys=True, default=str).encode())
    for p in paths:
        p = Path(p)
        if not p.exists():   # the stage fails on it anyway; the fingerprint just must not match a present one
            h.update(b"\0missing\0" + p.as_posix().encode())
            continue
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(b"\0file\0" + (f.relative_to(p).as_posix() if p.is_dir() else f.name).encode())
            _hash_file(h, f)
    return h.hexdigest()[:16]


def _complete(checkpoint: Path) -> bool:
    # The Trainer writes trainer_state.json after the weights, optimizer and RNG states: a checkpoint
    # killed mid-save lacks it (or has it cut short) and must not be resumed from.
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any((checkpoint / n).is_file() for n in
               ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json",
                "adapter_model.bin", "pytorch_model.bin"))


class Checkpoints:
    """Checkpoint directories of one training run (one fingerprint), phase by phase."""

    def __init__(self, root: str | Path, fingerprint: str, *, save_steps: int = 50, enabled: bool = True):
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.dir = self.root / fingerprint
        self.save_steps = int(save_steps)
        self.enabled = enabled

    @classmethod
    def for_stage(cls, stage: str, section: dict[str, Any] | None, *inputs: str | Path) -> "Checkpoints":
        """From `<section>.resume` (checked), fingerprinting `section` and the `inputs` files."""
        p = ResumeParams.from_section(stage, section)
        root = p.dir or f".cache/checkpoints/{stage}"
        return cls(root, fingerprint(section, *inputs), save_steps=p.save_steps, enabled=p.enabled)

    def phase_dir(self, phase: str) -> Path:
        return self.dir / phase

    def adapter_dir(self, phase: str) -> Path:
        """Where a finished phase's adapter is saved, for a rerun that skips the phase to load."""
        return self.phase_dir(phase) / "adapter"

    def trainer_overrides(self, phase: str) -> dict[str, Any]:
        """TrainingArguments fields that make the Trainer checkpoint this phase (none when disabled)."""
        if not self.enabled:
            return {}
        return {"output_dir": str(self.phase_dir(phase)), "save_strategy": "steps",
                "save_steps": self.save_steps, "save_total_limit": 1}

    def resume_from(self, phase: str) -> str | None:
        """The phase's last complete `checkpoint-N` (for `trainer.train(resume_from_checkpoint=...)`), or None."""
        if not self.enabled or not self.phase_dir(phase).is_dir():
            return None
        found = sorted(((int(m.group(1)), d) for d in self.phase_dir(phase).iterdir()
                        if d.is_dir() and (m := _CHECKPOINT.match(d.name))), reverse=True)
        for _, d in found:
            if _complete(d):
                return str(d)
        return None

    def phase_done(self, phase: str, **info: Any) -> None:
        """Mark `phase` finished; `info` (JSON: its metrics, `log_history`...) is kept for `phase_info`.
        Its step checkpoints are deleted: the adapter in `adapter_dir(phase)` is what a rerun needs."""
        if not self.enabled or not is_main_process():
            return
        d = self.phase_dir(phase)
        d.mkdir(parents=True, exist_ok=True)
        for c in d.iterdir():
            if c.is_dir() and _CHECKPOINT.match(c.name):
                shutil.rmtree(c, ignore_errors=True)
        with atomic_open(d / DONE) as f:   # a run killed while marking leaves no half-written marker
            f.write(json.dumps({"phase": phase, **info}, sort_keys=True, default=str) + "\n")

    def done(self, phase: str) -> bool:
        return self.enabled and (self.phase_dir(phase) / DONE).is_file()

    def phase_info(self, phase: str) -> dict[str, Any] | None:
        """What `phase_done` recorded for `phase`, or None when it is not done."""
        if not self.done(phase):
            return None
        return json.loads((self.phase_dir(phase) / DONE).read_text(encoding="utf-8"))

    def finish(self) -> None:
        """The run succeeded: delete its checkpoints (and the root, when nothing else is in it)."""
        if not is_main_process():
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            self.root.rmdir()
        except OSError:
            pass
