"""Test-wide setup: no network, caches inside the repo, helpers for real data and the repo root."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "hf"))
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

REAL = ROOT.parent / "shared" / "real"


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def real_dir() -> Path:
    """../shared/real: small real public datasets; tests that need them skip when it is absent."""
    if not REAL.is_dir():
        pytest.skip(f"real data folder {REAL} is missing (it sits beside the repo in CI, not in a user's clone)")
    return REAL


def load_stage(name: str):
    """Import stages/<name>.py as a module (stage scripts are not a package), to call its main(argv)."""
    spec = importlib.util.spec_from_file_location(f"logtune_stage_{name}", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stage():
    """`stage("curate").main([...])` runs a stage script in-process."""
    return load_stage
