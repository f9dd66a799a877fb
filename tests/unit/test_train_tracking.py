"""TrainingLog: DVCLive series per phase on a global step axis, offline, rank 0 only."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from transformers import TrainerControl, TrainerState, TrainingArguments

from logtune.train.tracking import TrainingLog


def series(live_dir: Path, phase: str | None, name: str) -> list[tuple[int, float]]:
    path = live_dir / "plots" / "metrics" / "train" / (phase or "") / f"{name}.tsv"
    with path.open() as f:
        return [(int(r["step"]), float(r[name])) for r in csv.DictReader(f, delimiter="\t")]


def run_phase(log: TrainingLog, phase: str, losses: list[float], tmp_path: Path, history=()):
    """Drive a phase's callback the way the Trainer does: begin, one log per step, end."""
    cb = log.callback(phase)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none")
    state, control = TrainerState(), TrainerControl()
    state.log_history = list(history)
    state.global_step = max((h["step"] for h in history), default=0)
    cb.on_train_begin(args, state, control)
    for loss in losses:
        state.global_step += 1
        logs = {"loss": loss, "learning_rate": 0.1 * state.global_step, "grad_norm": 1.0}
        state.log_history.append({**logs, "step": state.global_step})
        cb.on_log(args, state, control, logs=logs)
    cb.on_log(args, state, control, logs={"train_loss": 9.0, "train_runtime": 1.0})  # the end-of-run summary
    cb.on_train_end(args, state, control)
    return state


def test_phases_are_separate_series_on_one_global_step_axis(tmp_path):
    log = TrainingLog(tmp_path / "live")
    run_phase(log, "extractive", [3.0, 2.5], tmp_path)
    run_phase(log, "refusals", [2.0, 1.5, 1.2], tmp_path)
    log.close()
    live = tmp_path / "live"
    assert series(live, "extractive", "loss") == [(1, 3.0), (2, 2.5)]
    assert series(live, "refusals", "loss") == [(3, 2.0), (4, 1.5), (5, 1.2)]   # continues after phase 1
    assert series(live, "refusals", "learning_rate") == [(3, 0.1), (4, 0.2), (5, 0.30000000000000004)]
    assert series(live, None, "loss") == [(1, 3.0), (2, 2.5), (3, 2.0), (4, 1.5), (5, 1.2)]  # the stage, end to end
    summary = json.loads((live / "metrics.json").read_text())
    assert summary["train"]["refusals"]["loss"] == summary["train"]["loss"] == 1.2 and summary["step"] == 5
    # offline and hands-off: no dvc.yaml written by DVCLive, no report, no experiment refs
    assert not list(live.rglob("dvc.yaml")) and not (live / "report.html").exists()


def test_a_resumed_phase_rewrites_the_steps_before_its_checkpoint(tmp_path):
    log = TrainingLog(tmp_path / "live")
    # a finished phase skipped by the rerun is replayed from what resume kept of its log history
    log.replay("conversational", [{"loss": 4.0, "step": 1}, {"loss": 3.0, "step": 2}, {"train_loss": 3.5, "step": 2}])
    # the interrupted phase: the Trainer restored 1 logged step from its checkpoint, then trains 2 more
    run_phase(log, "refusals", [1.0, 0.9], tmp_path, history=[{"loss": 2.0, "learning_rate": 0.1, "step": 1}])
    log.close()
    assert series(tmp_path / "live", "conversational", "loss") == [(1, 4.0), (2, 3.0)]
    assert series(tmp_path / "live", "refusals", "loss") == [(3, 2.0), (4, 1.0), (5, 0.9)]


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    log = TrainingLog(tmp_path / "live")
    run_phase(log, "sft", [1.0], tmp_path)
    log.close()
    assert not (tmp_path / "live").exists()


def test_live_never_touches_git(tmp_path, monkeypatch):
    # inside a git+DVC repo with a commit, DVCLive would save an experiment (git refs) unless told not to
    monkeypatch.chdir(tmp_path)
    for cmd in (["git", "init", "-q"], ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
                                        "--allow-empty", "-m", "init"]):
        subprocess.run(cmd, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], check=True)
    refs_before = subprocess.run(["git", "for-each-ref"], capture_output=True, text=True, check=True).stdout
    log = TrainingLog("dvclive/sft")
    run_phase(log, "sft", [1.0, 0.5], tmp_path)
    log.close()
    assert series(Path("dvclive/sft"), "sft", "loss") == [(1, 1.0), (2, 0.5)]
    assert subprocess.run(["git", "for-each-ref"], capture_output=True, text=True, check=True).stdout == refs_before
    assert not Path("dvc.yaml").exists()


def test_close_leaves_the_directory_even_when_nothing_was_logged(tmp_path):
    log = TrainingLog(tmp_path / "live")
    log.close()   # e.g. preference with no pairs: the stage's declared output must still exist
    assert (tmp_path / "live" / "metrics.json").is_file()
