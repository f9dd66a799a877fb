"""`logtune release`: refuses without a promote, writes a self-contained champion and a deterministic manifest,
keeps history, and rolls back."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from logtune.cli import main
from logtune.ids import prompt_version
from logtune.io import read_json, write_json
from logtune.release.promote import ReleaseError, release, rollback
from logtune.models import base_dir_of

PROMPT = "You are the support assistant."


def repo(root: Path, adapter_bytes: bytes = b"adapter-v1", decision: str = "promote") -> Path:
    """A repository as the pipeline leaves it: models/base (full), models/preference (adapter), gate.json, dvc.lock."""
    (root / "models" / "base").mkdir(parents=True, exist_ok=True)
    (root / "models" / "base" / "model.safetensors").write_bytes(b"base-weights")
    write_json(root / "models" / "base" / "logtune_model.json", {"kind": "full"})
    preference = root / "models" / "preference"
    preference.mkdir(parents=True, exist_ok=True)
    (preference / "adapter_model.safetensors").write_bytes(adapter_bytes)
    (preference / "tokenizer.json").write_text("{}")
    write_json(preference / "logtune_model.json", {"kind": "adapter", "base": "../base"})
    write_json(root / "metrics" / "gate.json", {
        "decision": decision, "candidate": "preference", "baseline": "base", "rule": "significant", "n_cases": 3,
        "reasons": [] if decision == "promote" else ["accuracy: regressed"],
        "metrics": {"accuracy": {"baseline": 0.5, "candidate": 0.6, "delta": 0.1, "ci_low": 0.0, "ci_high": 0.2,
                                 "status": "ok"}}, "flips": {"n_fixed": 1, "n_broken": 0}})
    (root / "params.yaml").write_text(yaml.safe_dump({"assistant": {"system_prompt": PROMPT}, "base": {"model": "tiny"}}))
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"mix": {
        "cmd": "x", "deps": [{"path": "data/built", "md5": "aaa.dir"}], "outs": [{"path": "data/train", "md5": "bbb.dir"}]}}}))
    return root


def test_refuses_unless_the_gate_promoted(tmp_path):
    repo(tmp_path, decision="reject")
    with pytest.raises(ReleaseError, match="decided 'reject', not 'promote': accuracy: regressed"):
        release(tmp_path)
    assert not (tmp_path / "release").exists()


def test_first_release_is_self_contained_and_pins_everything(tmp_path):
    repo(tmp_path)
    m = release(tmp_path, created="2026-01-01T00:00:00+00:00", environ={})
    champion = tmp_path / "release" / "champion"
    assert base_dir_of(champion).resolve() == (champion / "base").resolve()   # not ../base: survives a rebuilt base
    assert m["model"] == {"dir": "release/champion", "kind": "adapter", "source_dir": "models/preference"}
    assert m["adapter"]["sha256"] == {"adapter_model.safetensors": hashlib.sha256(b"adapter-v1").hexdigest()}
    assert m["base_model"]["name"] == "tiny"
    assert m["base_model"]["sha256"]["model.safetensors"] == hashlib.sha256(b"base-weights").hexdigest()
    assert m["prompt_version"] == prompt_version(PROMPT) and m["merged"] is None
    assert m["data"] == {"data/built": "aaa.dir", "data/train": "bbb.dir"}
    assert m["metrics"]["gate"]["accuracy"]["delta"] == 0.1 and m["previous"] is None
    assert read_json(tmp_path / "release" / "manifest.json") == m


def test_manifest_is_deterministic_except_created(tmp_path):
    a, b = repo(tmp_path / "a"), repo(tmp_path / "b")
    ma, mb = release(a, environ={}), release(b, environ={})
    assert {k: v for k, v in ma.items() if k != "created"} == {k: v for k, v in mb.items() if k != "created"}


def test_prompt_version_follows_the_environment_override(tmp_path):
    repo(tmp_path)
    m = release(tmp_path, environ={"LOGTUNE_SYSTEM_PROMPT_EXTRA": "Be brief."})
    assert m["prompt_version"] == prompt_version(PROMPT + "\n\nBe brief.")


def test_second_release_archives_the_first_and_rollback_restores_it(tmp_path):
    repo(tmp_path)
    first = release(tmp_path, environ={})
    with pytest.raises(ReleaseError, match="already the champion"):
        release(tmp_path, environ={})
    repo(tmp_path, adapter_bytes=b"adapter-v2")
    second = release(tmp_path, environ={})
    assert second["release_id"] != first["release_id"]
    assert second["previous"] == {"release_id": first["release_id"], "path": f"release/history/{first['release_id']}"}
    hist = tmp_path / "release" / "history" / first["release_id"]
    assert (hist / "model" / "adapter_model.safetensors").read_bytes() == b"adapter-v1"
    assert base_dir_of(hist / "model").resolve() == (hist / "model" / "base").resolve()

    restored = rollback(tmp_path)
    assert restored == first == read_json(tmp_path / "release" / "manifest.json")
    assert (tmp_path / "release" / "champion" / "adapter_model.safetensors").read_bytes() == b"adapter-v1"
    assert (tmp_path / "release" / "history" / second["release_id"] / "model").is_dir()   # can roll forward again
    assert not hist.exists()
    with pytest.raises(ReleaseError, match="no previous release"):
        rollback(tmp_path)


def test_merged_export_beside_the_adapter_is_recorded(tmp_path):
    repo(tmp_path)
    merged = tmp_path / "models" / "preference-merged"
    merged.mkdir()
    (merged / "model.safetensors").write_bytes(b"merged")
    m = release(tmp_path, environ={})
    assert m["merged"] == {"path": "models/preference-merged",
                           "sha256": {"model.safetensors": hashlib.sha256(b"merged").hexdigest()}}


def test_cli_release_and_rollback(tmp_path, capsys):
    repo(tmp_path)
    assert main(["release", "--root", str(tmp_path)]) == 0
    assert "logtune release:" in capsys.readouterr().out
    assert main(["release", "--root", str(tmp_path), "--rollback"]) == 2
    assert "no previous release" in capsys.readouterr().err
    write_json(tmp_path / "metrics" / "gate.json", {"decision": "reject", "reasons": ["x"]})
    assert main(["release", "--root", str(tmp_path)]) == 2


def test_monitor_baseline_is_recorded_for_logtune_monitor(tmp_path):
    repo(tmp_path)
    (tmp_path / "monitor.json").write_text(json.dumps({"mean_confidence": 0.91, "error_rate": 0.01, "alerts": []}))
    m = release(tmp_path, monitor_baseline_path="monitor.json", environ={})
    assert m["monitor_baseline"] == {"mean_confidence": 0.91, "error_rate": 0.01}


def test_released_card_gets_the_golden_metrics_and_the_gate_verdict(tmp_path):
    repo(tmp_path)
    (tmp_path / "models" / "preference" / "README.md").write_text("# card written at training time\n")
    write_json(tmp_path / "metrics" / "eval.json", {"preference": {"accuracy": 0.6, "n_cases": 3, "by_tag": {"x": {}}},
                                                    "base": {"accuracy": 0.5}})
    release(tmp_path, created="2026-01-01T00:00:00+00:00", environ={})
    card = (tmp_path / "release" / "champion" / "README.md").read_text()
    assert card.startswith("# card written at training time")
    assert '"accuracy": 0.6' in card and "by_tag" not in card
    assert "Gate: promote against `base`" in card and '"ci_high": 0.2' not in card  # ungated (no tolerance) left out
    assert (tmp_path / "models" / "preference" / "README.md").read_text() == "# card written at training time\n"
