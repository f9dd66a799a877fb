"""Releasing a promoted candidate: release/champion/ (the model), release/manifest.json (what it is made of).

Run by a human or CI after the gate promoted (`logtune release`), not by `dvc repro`: evaluate scores the
champion as a baseline, so a release stage would close a cycle in the DAG. Layout:

    release/manifest.json              the current release (deterministic content, except `created`)
    release/champion/                  its model directory (logtune_model.json contract); an adapter's
                                       base is copied to champion/base/ so the release does not move when
                                       models/base is rebuilt
    release/history/<release_id>/      earlier releases: model/ and manifest.json, for `--rollback`

The manifest pins: `release_id` (hash of everything below but `created` and `previous`), the model
(`model.dir`, what evaluate's `champion` baseline loads, and its kind), the base model (params
`base.model` and the sha256 of its weights), the adapter's sha256, the merged model's path and sha256
if one was exported, the prompt version (of the system prompt in force: params `assistant.system_prompt`
with $LOGTUNE_SYSTEM_PROMPT / $LOGTUNE_SYSTEM_PROMPT_EXTRA applied), the data hashes from dvc.lock, the
gate's metrics and flips, the rollout plan's stages, an optional production baseline for `logtune
monitor`, and `previous` (release id and path) for rollback.
Not for deciding whether to release: that is the gate; this refuses unless the gate said promote.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from logtune.ids import content_id, prompt_version
from logtune.io import read_json, write_json
from logtune.lockfile import data_hashes
from logtune.params import read_params
from logtune.prompt import effective_system_prompt
from logtune.models import MARKER, base_dir_of, read_marker

RELEASE_DIR = Path("release")
CHAMPION = RELEASE_DIR / "champion"
MANIFEST = RELEASE_DIR / "manifest.json"
HISTORY = RELEASE_DIR / "history"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "pytorch_model.bin")
MONITOR_BASELINE_KEYS = ("mean_confidence", "error_rate", "p95_latency_ms", "rejection_rate", "thumbs_down_rate",
                         "n_calls")


class ReleaseError(ValueError):
    """No release: the gate did not promote, a model directory is broken, nothing to roll back to."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_hash(model_dir: str | Path) -> dict[str, str]:
    """{file: sha256} of a model directory's weights (sharded *.safetensors included), sorted by name."""
    model_dir = Path(model_dir)
    files = [model_dir / f for f in WEIGHT_FILES if (model_dir / f).is_file()]
    files += sorted(p for p in model_dir.glob("model-*-of-*.safetensors"))
    if not files:
        raise ReleaseError(f"{model_dir}: no weights ({', '.join(WEIGHT_FILES)})")
    return {p.name: sha256_file(p) for p in files}


def _copy_model(src: Path, dst: Path) -> str:
    """Copy a model directory to `dst`, self-contained: an adapter gets its base copied into dst/base."""
    info = read_marker(src)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoint-*", "runs", "__pycache__"))
    if info["kind"] == "adapter":
        shutil.copytree(base_dir_of(src), dst / "base", ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
        write_json(dst / MARKER, {**info, "base": "base"})
    return info["kind"]


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def build_manifest(root: Path, gate: dict[str, Any], model_dir: Path, params: dict[str, Any], lock: Path,
                   merged_dir: Path | None, rollout: dict[str, Any] | None,
                   monitor_baseline: dict[str, Any] | None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The manifest's deterministic content (no `created`, no `previous`) for `model_dir` as it is now."""
    info = read_marker(model_dir)
    adapter = weights_hash(model_dir) if info["kind"] == "adapter" else None
    base_dir = base_dir_of(model_dir)
    prompt = effective_system_prompt((params.get("assistant") or {}).get("system_prompt"), environ)
    merged = None
    if merged_dir is not None:
        merged = {"path": _rel(merged_dir, root), "sha256": weights_hash(merged_dir)}
    gated = {m: {k: v.get(k) for k in ("baseline", "candidate", "delta", "ci_low", "ci_high", "status")}
             for m, v in sorted(gate.get("metrics", {}).items())}
    body = {
        "candidate": gate["candidate"],
        "baseline": gate["baseline"],
        "model": {"dir": CHAMPION.as_posix(), "kind": info["kind"], "source_dir": _rel(model_dir, root)},
        "base_model": {"name": (params.get("base") or {}).get("model"), "sha256": weights_hash(base_dir),
                       "dir": (CHAMPION / "base").as_posix() if info["kind"] == "adapter" else CHAMPION.as_posix()},
        "adapter": None if adapter is None else {"sha256": adapter},
        "merged": merged,
        "prompt_version": prompt_version(prompt),
        "data": data_hashes(lock),
        "metrics": {"decision": gate["decision"], "rule": gate.get("rule"), "n_cases": gate.get("n_cases"),
                    "gate": gated, "flips": {k: gate.get("flips", {}).get(k) for k in ("n_fixed", "n_broken")}},
        "rollout": None if rollout is None else {"may_enter": rollout.get("may_enter"),
                                                 "stopped_at": rollout.get("stopped_at")},
        "monitor_baseline": None if monitor_baseline is None else
        {k: monitor_baseline.get(k) for k in MONITOR_BASELINE_KEYS if k in monitor_baseline},
    }
    return {"release_id": content_id("release", *(repr(body[k]) for k in sorted(body))), **body}


def release(root: str | Path = ".", gate_path: str | Path = "metrics/gate.json", model_dir: str | Path | None = None,
            params_path: str | Path = "params.yaml", lock_path: str | Path = "dvc.lock",
            merged_dir: str | Path | None = None, rollout_path: str | Path | None = "metrics/rollout.json",
            monitor_baseline_path: str | Path | None = None, created: str | None = None,
            environ: dict[str, str] | None = None, eval_path: str | Path | None = "metrics/eval.json") -> dict[str, Any]:
    """Release the gate's promoted candidate; the previous champion moves to history. Returns the manifest.

    Relative paths are taken from `root` (the repository). `model_dir` defaults to models/<candidate>;
    `merged_dir` to <model_dir>-merged when that exists (what `export_merged` writes).
    """
    root = Path(root)

    def at(path: str | Path | None) -> Path | None:
        return None if path is None else (Path(path) if Path(path).is_absolute() else root / path)
    gate_file = at(gate_path)
    if not gate_file.is_file():
        raise ReleaseError(f"{gate_file}: no gate result (run `dvc repro gate` first)")
    gate = read_json(gate_file)
    if gate.get("decision") != "promote":
        reasons = "; ".join(gate.get("reasons", [])) or "no reason recorded"
        raise ReleaseError(f"{gate_file}: the gate decided {gate.get('decision')!r}, not 'promote': {reasons}")
    model = at(model_dir) if model_dir is not None else root / "models" / gate["candidate"]
    if not model.is_dir():
        raise ReleaseError(f"{model}: no such model directory (pass --model)")
    merged = at(merged_dir) if merged_dir is not None else Path(str(model) + "-merged")
    merged = merged if merged.is_dir() else None
    rollout_file = at(rollout_path)
    rollout = read_json(rollout_file) if rollout_file is not None and rollout_file.is_file() else None
    baseline = read_json(at(monitor_baseline_path)) if monitor_baseline_path else None
    manifest = build_manifest(root, gate, model, read_params(at(params_path)), at(lock_path), merged, rollout,
                              baseline, environ)

    manifest_file, champion, history = root / MANIFEST, root / CHAMPION, root / HISTORY
    staging = root / RELEASE_DIR / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    _copy_model(model, staging)   # before anything moves: a failed copy leaves the current release as it was
    _card_with_golden(staging, at(eval_path), gate)
    previous = None
    if manifest_file.is_file():
        current = read_json(manifest_file)
        if current["release_id"] == manifest["release_id"]:
            shutil.rmtree(staging)
            raise ReleaseError(f"release {manifest['release_id']} is already the champion: nothing changed")
        previous = {"release_id": current["release_id"], "path": (HISTORY / current["release_id"]).as_posix()}
        _archive(root, current)
    _replace_dir(staging, champion)
    manifest["previous"] = previous
    manifest["created"] = created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    write_json(manifest_file, manifest)
    return manifest


def _card_with_golden(model_dir: Path, eval_file: Path | None, gate: dict[str, Any]) -> None:
    """Append the golden-set results to the released copy's model card (README.md).

    A training stage writes the card before evaluate has run, so its card cannot hold golden metrics;
    the released champion's can: the candidate's overall metrics from metrics/eval.json and the gate's
    decision against its baseline. The card in models/ stays as DVC made it.
    """
    card = model_dir / "README.md"
    metrics = read_json(eval_file).get(gate["candidate"]) if eval_file is not None and eval_file.is_file() else None
    if metrics is None:
        return
    overall = {k: v for k, v in sorted(metrics.items()) if not isinstance(v, dict)}
    deltas = {m: {k: v.get(k) for k in ("baseline", "candidate", "delta", "ci_low", "ci_high", "status")}
              for m, v in sorted(gate.get("metrics", {}).items()) if v.get("tolerance") is not None}
    text = card.read_text(encoding="utf-8") if card.is_file() else f"# {gate['candidate']} model\n"
    text += ("\n## Golden-set metrics (at release)\n\n```json\n" + json.dumps(overall, indent=2, sort_keys=True)
             + f"\n```\n\nGate: {gate.get('decision')} against `{gate.get('baseline')}` "
             f"(rule {gate.get('rule')}, {gate.get('n_cases')} cases):\n\n```json\n"
             + json.dumps(deltas, indent=2, sort_keys=True) + "\n```\n")
    card.write_text(text, encoding="utf-8")


def _archive(root: Path, current: dict[str, Any]) -> None:
    """Move the current champion and its manifest to release/history/<its release_id>/."""
    dest = root / HISTORY / current["release_id"]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if (root / CHAMPION).is_dir():
        shutil.move(str(root / CHAMPION), str(dest / "model"))
    write_json(dest / "manifest.json", current)


def _replace_dir(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dst)


def rollback(root: str | Path = ".") -> dict[str, Any]:
    """Restore the previous release as champion; the current one goes to history (so it can come back)."""
    root = Path(root)
    manifest_file = root / MANIFEST
    if not manifest_file.is_file():
        raise ReleaseError(f"{manifest_file}: no release to roll back")
    current = read_json(manifest_file)
    prev = current.get("previous")
    if not prev:
        raise ReleaseError(f"release {current['release_id']} has no previous release to roll back to")
    src = root / prev["path"]
    if not (src / "manifest.json").is_file() or not (src / "model").is_dir():
        raise ReleaseError(f"{src}: previous release {prev['release_id']} is not in history (model/ and manifest.json)")
    restored = read_json(src / "manifest.json")
    staging = root / RELEASE_DIR / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.move(str(src / "model"), str(staging))
    shutil.copyfile(src / "manifest.json", root / RELEASE_DIR / ".staging.manifest.json")
    shutil.rmtree(src)
    _archive(root, current)
    _replace_dir(staging, root / CHAMPION)
    (root / RELEASE_DIR / ".staging.manifest.json").replace(manifest_file)
    return restored


def command(args) -> int:
    """Release the gate-promoted candidate to release/champion/ + release/manifest.json (--rollback: the previous)."""
    import sys

    from logtune.lockfile import LockError
    from logtune.params import ParamsError
    from logtune.models import ModelDirError

    try:
        if args.rollback:
            m = rollback(args.root)
            print(f"logtune release: rolled back to {m['release_id']} ({m['model']['dir']})")
            return 0
        m = release(args.root, args.gate, args.model, args.params, args.lock, args.merged, args.rollout,
                    args.monitor_baseline)
    except (ReleaseError, LockError, ParamsError, ModelDirError) as e:
        print(f"logtune release: error: {e}", file=sys.stderr)
        return 2
    prev = m["previous"]["release_id"] if m["previous"] else "none"
    print(f"logtune release: {m['release_id']} = {m['candidate']} ({m['model']['kind']}) in {m['model']['dir']}; "
          f"prompt {m['prompt_version']}; previous {prev}")
    return 0


ARGS = (
    (("--root",), dict(type=Path, default=Path("."), help="the logtune repository (default: the current folder)")),
    (("--gate",), dict(default="metrics/gate.json", help="the gate's decision: must be promote")),
    (("--model",), dict(help="the candidate's model directory (default: models/<gate candidate>)")),
    (("--merged",), dict(help="a merged export of it (default: <model>-merged when present)")),
    (("--params",), dict(default="params.yaml", help="for assistant.system_prompt and base.model")),
    (("--lock",), dict(default="dvc.lock", help="data hashes come from here")),
    (("--rollout",), dict(default="metrics/rollout.json", help="the rollout plan to record (when present)")),
    (("--monitor-baseline",), dict(help="a monitor.json from production before this release: `logtune monitor` "
                                        "measures confidence drop against it")),
    (("--rollback",), dict(action="store_true", help="restore the previous release instead")),
)
