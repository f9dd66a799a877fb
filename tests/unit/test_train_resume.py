"""Checkpoints: where a phase checkpoints, which checkpoint a rerun resumes from, what a fingerprint covers."""

import json

import pytest

from logtune.params import ParamsError
from logtune.train.resume import Checkpoints, fingerprint


def fake_checkpoint(phase_dir, step, *, complete=True):
    d = phase_dir / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(b"w")
    if complete:
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return d


def test_overrides_point_the_trainer_at_the_phase_directory(tmp_path):
    ck = Checkpoints(tmp_path / "ck", "abc", save_steps=7)
    assert ck.trainer_overrides("refusals") == {"output_dir": str(tmp_path / "ck" / "abc" / "refusals"),
                                                "save_strategy": "steps", "save_steps": 7, "save_total_limit": 1}
    assert Checkpoints(tmp_path, "abc", enabled=False).trainer_overrides("refusals") == {}


def test_resume_from_the_last_complete_checkpoint(tmp_path):
    ck = Checkpoints(tmp_path, "fp")
    assert ck.resume_from("sft") is None
    fake_checkpoint(ck.phase_dir("sft"), 5)
    fake_checkpoint(ck.phase_dir("sft"), 10)
    fake_checkpoint(ck.phase_dir("sft"), 15, complete=False)   # killed while saving: no trainer_state.json
    (ck.phase_dir("sft") / "checkpoint-20").mkdir()             # killed before writing anything
    assert ck.resume_from("sft") == str(ck.phase_dir("sft") / "checkpoint-10")
    assert ck.resume_from("other") is None


def test_a_stale_fingerprint_is_never_resumed(tmp_path):
    data = tmp_path / "sft.parquet"
    data.write_bytes(b"rows v1")
    section = {"learning_rate": 1e-3, "resume": {"save_steps": 5}}
    old = Checkpoints(tmp_path / "ck", fingerprint(section, data))
    fake_checkpoint(old.phase_dir("sft"), 5)
    data.write_bytes(b"rows v2")
    assert Checkpoints(tmp_path / "ck", fingerprint(section, data)).resume_from("sft") is None
    data.write_bytes(b"rows v1")
    changed = {**section, "learning_rate": 2e-3}
    assert Checkpoints(tmp_path / "ck", fingerprint(changed, data)).resume_from("sft") is None
    # resume/export/card settings do not change what is trained: same fingerprint, the checkpoint is found
    same = {**section, "resume": {"save_steps": 50}, "export_merged": True}
    assert Checkpoints(tmp_path / "ck", fingerprint(same, data)).resume_from("sft") is not None


def test_fingerprint_covers_directory_contents_and_names(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    first = fingerprint({}, base)
    (base / "config.json").write_text("{ }")
    edited = fingerprint({}, base)
    assert edited != first
    (base / "config.json").rename(base / "other.json")
    assert fingerprint({}, base) not in (first, edited)
    assert fingerprint({}, tmp_path / "missing") != fingerprint({}, base)
    assert len(first) == 16


def test_done_phases_are_skipped_and_finish_deletes_the_run(tmp_path):
    ck = Checkpoints(tmp_path / "ck", "fp")
    fake_checkpoint(ck.phase_dir("conversational"), 3)
    ck.adapter_dir("conversational").mkdir(parents=True)
    assert not ck.done("conversational") and ck.phase_info("conversational") is None
    ck.phase_done("conversational", steps=3, log_history=[{"loss": 1.0, "step": 3}])
    assert ck.done("conversational") and ck.phase_info("conversational")["steps"] == 3
    assert ck.resume_from("conversational") is None            # its step checkpoints are gone, the adapter stays
    assert ck.adapter_dir("conversational").is_dir()
    other = Checkpoints(tmp_path / "ck", "another-run")
    fake_checkpoint(other.phase_dir("sft"), 1)
    ck.finish()
    assert not ck.dir.exists() and other.resume_from("sft")    # a parallel run's checkpoints are left alone


def test_resume_params_are_checked(tmp_path):
    ck = Checkpoints.for_stage("sft", {"resume": {"dir": str(tmp_path), "save_steps": 9}}, tmp_path)
    assert ck.save_steps == 9 and ck.root == tmp_path and ck.enabled
    assert Checkpoints.for_stage("sft", {}).root.as_posix() == ".cache/checkpoints/sft"
    with pytest.raises(ParamsError, match="'sft.resume': unknown key 'save_step'"):
        Checkpoints.for_stage("sft", {"resume": {"save_step": 9}})
