"""The recorded gate decision, read back: is it current, and does it promote? (`logtune gate --check`)

The gate stage always succeeds and writes its decision (metrics/gate.json), so `dvc exp run` records a
rejected experiment like any other. Failing a CI job or a pull request on a reject is this module's job:
`logtune gate --check` exits 0 on promote, 1 on reject, and 2 when there is no decision to trust: the
file is missing, or it is stale, i.e. written for other inputs than the ones `dvc.lock` records.

Stale is checked, not assumed: the gate stage stores in gate.json (`inputs`) the md5 of each file it
judged (the same hash DVC writes in dvc.lock: md5 of the bytes) and a digest of the `gate` params
section. `check` compares them with the gate stage's deps and params in dvc.lock, and with the files
and params.yaml in the workspace. A gate.json from another run, an evaluate re-run without the gate,
or edited tolerances all read as stale (exit 2), never as a verdict.
Not for deciding (that is `logtune.gate`) nor for running DVC.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from logtune.lockfile import LockError, read_lock
from logtune.params import ParamsError, read_params

EXIT_PROMOTE, EXIT_REJECT, EXIT_NO_DECISION = 0, 1, 2
GATE_JSON = "metrics/gate.json"
GATE_STAGE = "gate"


def file_md5(path: str | Path) -> str:
    """md5 of the file's bytes: what DVC 3 records for a file in dvc.lock."""
    digest = hashlib.md5()  # noqa: S324 (DVC's content hash, not security)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def params_digest(section: Any) -> str:
    """A digest of a params section as parsed (key order does not matter)."""
    return hashlib.md5(json.dumps(section, sort_keys=True, default=str).encode()).hexdigest()  # noqa: S324


def gate_inputs(files: list[str | Path], gate_section: Any) -> dict[str, Any]:
    """What a gate decision was made from: {"files": {path as in dvc.yaml: md5}, "params": digest}."""
    return {"files": {Path(f).as_posix(): file_md5(f) for f in files}, "params": params_digest(gate_section)}


def _stale_reasons(root: Path, gate: dict[str, Any]) -> list[str]:
    inputs = gate.get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("files"), dict):
        return [f"{GATE_JSON} records no `inputs` (written by an older gate stage): run `dvc repro`"]
    try:
        lock = read_lock(root / "dvc.lock")
    except LockError as e:
        return [str(e)]
    stage = lock["stages"].get(GATE_STAGE)
    if not isinstance(stage, dict):
        return [f"dvc.lock has no '{GATE_STAGE}' stage: the pipeline has not been reproduced up to the gate"]
    locked = {d.get("path"): d.get("md5") for d in stage.get("deps") or [] if isinstance(d, dict)}
    reasons = []
    for path, md5 in sorted(inputs["files"].items()):
        if path not in locked:
            reasons.append(f"{path}: judged by the gate but not a dep of the gate stage in dvc.lock")
        elif locked[path] != md5:
            reasons.append(f"{path}: {GATE_JSON} was written for md5 {md5}, dvc.lock records {locked[path]}: "
                           "the decision is for other eval results than the pipeline's")
        elif (root / path).is_file() and file_md5(root / path) != md5:
            reasons.append(f"{path}: changed in the workspace since the gate ran (md5 {file_md5(root / path)}): "
                           "run `dvc repro`")
    locked_params = ((stage.get("params") or {}).get("params.yaml") or {}).get(GATE_STAGE)
    if locked_params is None or params_digest(locked_params) != inputs.get("params"):
        reasons.append("the gate params in dvc.lock differ from the ones the decision was made with")
    try:
        current = read_params(root / "params.yaml").get(GATE_STAGE)
    except ParamsError as e:
        reasons.append(str(e))
    else:
        if params_digest(current) != inputs.get("params"):
            reasons.append("params.yaml's `gate` section changed since the gate ran: run `dvc repro`")
    return reasons


def check(root: str | Path, gate_path: str | Path | None = None) -> tuple[int, list[str]]:
    """(exit code, lines to print): 0 promote, 1 reject, 2 no current decision."""
    root = Path(root)
    path = Path(gate_path) if gate_path is not None else root / GATE_JSON
    if not path.is_file():
        return EXIT_NO_DECISION, [f"no decision: {path} does not exist (run `dvc repro`)"]
    try:
        gate = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return EXIT_NO_DECISION, [f"no decision: {path} is not JSON ({e})"]
    decision = gate.get("decision") if isinstance(gate, dict) else None
    if decision not in ("promote", "reject"):
        return EXIT_NO_DECISION, [f"no decision: {path} has decision {decision!r}"]
    stale = _stale_reasons(root, gate)
    if stale:
        return EXIT_NO_DECISION, [f"stale decision ({decision}) in {path}, not trusted:"] + [f"  {r}" for r in stale]
    return (EXIT_PROMOTE if decision == "promote" else EXIT_REJECT), summary_lines(gate)


def summary_lines(gate: dict[str, Any]) -> list[str]:
    """The decision, each named regression, and what was not gated."""
    flips = gate.get("flips") or {}
    lines = [f"{gate['decision'].upper()}: candidate {gate.get('candidate')} vs baseline {gate.get('baseline')} on "
             f"{gate.get('n_cases')} cases ({gate.get('comparisons')} gated judgements at "
             f"{gate.get('comparison_confidence', 0):.2%} each; {flips.get('n_fixed', 0)} cases fixed, "
             f"{flips.get('n_broken', 0)} broken)"]
    lines += [f"  REGRESSION {r}" for r in gate.get("reasons") or []]
    lines += [f"  warning: {w}" for w in gate.get("warnings") or []]
    lines += [f"  not gated: {m}: {why}" for m, why in sorted((gate.get("not_gated") or {}).items())]
    return lines
