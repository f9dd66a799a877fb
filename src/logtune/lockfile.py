"""What `dvc.lock` says about a pipeline run: the content hash of every stage's deps and outs.

Model cards and release manifests record these so a checkpoint names exactly the data and code it was
made from; `dvc.lock` is the source because DVC already hashed everything (no second hashing pass over
gigabytes). Not for running DVC: this only reads the lock file (plain YAML, schema 2.0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LockError(ValueError):
    """dvc.lock is missing, unreadable or not in the 2.0 schema."""


def read_lock(path: str | Path = "dvc.lock") -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockError(f"{path}: no dvc.lock (run `dvc repro` first)") from None
    except yaml.YAMLError as e:
        raise LockError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict) or str(data.get("schema")) != "2.0" or not isinstance(data.get("stages"), dict):
        raise LockError(f"{path}: not a DVC 2.0 lock file (expected `schema: '2.0'` and `stages:`)")
    return data


def _hash(entry: dict[str, Any]) -> str | None:
    return entry.get("md5") or entry.get("etag") or entry.get("checksum")


def stage_hashes(path: str | Path | dict[str, Any] = "dvc.lock", stage: str | None = None) -> dict[str, dict[str, str]]:
    """{stage: {path: md5}} of every dep and out (one stage's when `stage` is given; foreach stages are `name@key`).

    `path`: the lock file, or its content already read with `read_lock`."""
    stages = (path if isinstance(path, dict) else read_lock(path))["stages"]
    if stage is not None:
        if stage not in stages:
            where = "dvc.lock" if isinstance(path, dict) else path
            raise LockError(f"{where}: no stage '{stage}' (have: {', '.join(sorted(stages))})")
        stages = {stage: stages[stage]}
    out: dict[str, dict[str, str]] = {}
    for name, body in sorted(stages.items()):
        entries = list(body.get("deps") or []) + list(body.get("outs") or [])
        out[name] = {e["path"]: _hash(e) for e in entries if isinstance(e, dict) and "path" in e}
    return out


DATA_PREFIXES = ("data/", "models/", "golden/")


def data_hashes(path: str | Path | dict[str, Any] = "dvc.lock", prefixes: tuple[str, ...] = DATA_PREFIXES) -> dict[str, str]:
    """{path: md5} of every data/model/golden path any stage recorded (deps and outs), across all stages.

    `path`: the lock file, or its content already read with `read_lock`."""
    merged: dict[str, str] = {}
    for entries in stage_hashes(path).values():
        for p, h in entries.items():
            if p.startswith(prefixes) and h:
                merged[p] = h
    return dict(sorted(merged.items()))
