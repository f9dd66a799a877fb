"""The whole pipeline under real `dvc repro`, in a temporary copy of the repo, on a shrunken sample.

Slow (a few minutes on 2 cores): it trains the tiny model end to end. It checks the DAG runs in
order, every stage writes its metrics, a second `dvc repro` is a no-op, and the data stages are
byte-deterministic.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Smaller than the default so the test stays within a few minutes; the shape is the same.
# The gate's decision on so little data is noise; its logic is tested in test_gate.py, so here every
# tolerance is opened and the test checks the mechanics: order, metrics, no-op rerun, determinism.
SHRINK = {
    ("sample", "sessions"): 160,
    # every gated metric's tolerance opened (the tag judgements need a rule for each of gate.tag_metrics)
    ("gate", "tolerances"): {m: 1.0 for m in yaml.safe_load((ROOT / "params.yaml").read_text())["gate"]["tolerances"]},
    ("dryrun", "max_rejection_increase"): None,
    ("dryrun", "max_prompts"): 16,
}


def _copy_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        # metrics are outputs, except the README that keeps metrics/gate_task/ (rollout_tasks' dep) in git
        output = rel.startswith(("data/", "models/", "metrics/")) and not rel.endswith("README.md")
        if src.is_file() and not output and rel != "dvc.lock":
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp / ".cache" / "hf"), DVC_NO_ANALYTICS="1",
               DVC_SITE_CACHE_DIR=str(tmp / ".dvc" / "site-cache"), TOKENIZERS_PARALLELISM="false",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t.invalid",
               PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""))
    return env


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepared_repo(tmp_path: Path, shrink: dict, edit=None):
    """A git repo in tmp_path/repo copied from this one with `shrink`'s params (and `edit(params)`) applied:
    (repo, params, run) where run(*cmd) runs a command there."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_repo(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for (section, key), value in shrink.items():
        params[section][key] = value
    if edit is not None:
        edit(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = _env(tmp_path)
    run = lambda *cmd: subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)  # noqa: E731
    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "-A").returncode == 0
    assert run("git", "commit", "-qm", "copy").returncode == 0
    return repo, params, run


@pytest.mark.slow
def test_dvc_repro_end_to_end(tmp_path):
    repo, params, run = prepared_repo(tmp_path, SHRINK)

    first = run("dvc", "repro")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    for name in ["sample", "export/support", "curate", "build", "rewrite", "mix", "validate", "base", "sft",
                 "preference", "dryrun", "eval", "gate", "rollout", "rollout_tasks"]:
        assert (repo / "metrics" / f"{name}.json").exists(), name
    assert yaml.safe_load((repo / "metrics" / "rollout_tasks.json").read_text())["per_task"] is False   # sft.per_task off
    eval_metrics = yaml.safe_load((repo / "metrics" / "eval.json").read_text())
    assert {"base", "sft", "preference"} <= set(eval_metrics)
    assert (repo / "models" / "sft" / "README.md").exists()          # model card
    assert (repo / "dvclive" / "sft" / "plots" / "metrics").is_dir()  # DVCLive curves for `dvc plots`
    assert (repo / "data" / "gate" / "review.html").exists()

    second = run("dvc", "repro")
    assert second.returncode == 0
    assert "didn't change" in second.stdout or "up to date" in second.stdout.lower(), second.stdout

    # the data stages are deterministic: forcing them again gives byte-identical artifacts
    data = ["data/exported/support.parquet", "data/curated/conversations.parquet",
            "data/curated/rejected.parquet", "data/built/sft.parquet", "data/built/preference.parquet",
            "data/rewritten/sft.parquet", "data/train/sft.parquet", "data/train/preference.parquet"]
    before = {p: _sha(repo / p) for p in data}
    for stage in ["sample", "export@support", "curate", "build", "rewrite", "mix"]:
        forced = run("dvc", "repro", "--force", "--single-item", stage)
        assert forced.returncode == 0, forced.stderr[-2000:]
    assert {p: _sha(repo / p) for p in data} == before
