"""`logtune report --against REV`: the Markdown a pull request shows about what this change did to the model.

Sections: the gate (candidate vs baseline in this revision: every metric's delta with its paired bootstrap
interval, the decision and its reasons, from metrics/gate.json); golden metrics now vs at REV (each
model's metrics/eval.json values, from `git show REV:metrics/eval.json`); the flipped cases with the
baseline's and the candidate's replies side by side (data/eval/results.parquet); data-quality changes
(metrics/validate.json now vs at REV). Intervals are only within a revision: REV's per-case results are
DVC-tracked, not in git, so the REV comparison is of point values.
Not for deciding: the gate decides; this only reports.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from logtune.scores import DIRECTIONS

MAX_FLIPS = 20        # per direction: a PR comment stays readable; the review page has all of them
MAX_QUALITY_ROWS = 40
REPLY_CHARS = 300


class ReportError(ValueError):
    """A revision git does not know, or a repository without the files a report needs."""


def at_revision(root: Path, rev: str, path: str) -> Any | None:
    """The JSON file `path` as committed at `rev` (None when it did not exist there)."""
    check = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=root,
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise ReportError(f"git does not know revision {rev!r} (in {root})")
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    try:
        return json.loads(shown.stdout)
    except ValueError:
        return None


def _read(path: Path) -> Any | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def cell(text: Any, limit: int = REPLY_CHARS) -> str:
    """Text safe inside a Markdown table cell: one line, pipes and HTML escaped, cut at `limit`."""
    s = "" if text is None else str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    s = " ".join(s.split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _f(v: Any, signed: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return f"{v:+.4f}" if signed else f"{v:.4f}" if isinstance(v, float) else str(v)
    return cell(v, 60)


def gate_section(gate: dict[str, Any] | None) -> list[str]:
    if not gate:
        return ["### Gate", "", "_No metrics/gate.json: run `dvc repro gate`._", ""]
    level = gate.get("bootstrap", {}).get("confidence", 0.95)
    icon = "✅" if gate["decision"] == "promote" else "❌"
    out = [f"### Gate: {icon} **{gate['decision']}**", "",
           f"Candidate `{gate['candidate']}` vs baseline `{gate['baseline']}`"
           + (f" on {gate['n_cases']} golden cases" if gate.get("n_cases") else "")
           + (f"; rule `{gate['rule']}`, paired bootstrap {level:.0%} intervals." if gate.get("rule") else "."), "",
           f"| metric | {gate['baseline']} | {gate['candidate']} | delta | {level:.0%} interval | tolerance | status |",
           "|---|---:|---:|---:|---|---:|---|"]
    for metric, m in sorted(gate.get("metrics", {}).items()):
        interval = "–" if m.get("ci_low") is None else f"{m['ci_low']:+.4f} .. {m['ci_high']:+.4f}"
        out.append(f"| {metric} | {_f(m.get('baseline'))} | {_f(m.get('candidate'))} | {_f(m.get('delta'), True)} "
                   f"| {interval} | {_f(m.get('tolerance'))} | {m.get('status')} |")
    out.append("")
    for title, key in (("Regressions", "reasons"), ("Warnings", "warnings"), ("Notes", "notes")):
        if gate.get(key):
            out += [f"**{title}**", ""] + [f"- {cell(r, 400)}" for r in gate[key]] + [""]
    return out


def metrics_section(now: dict[str, Any] | None, then: dict[str, Any] | None, rev: str) -> list[str]:
    out = [f"### Golden metrics vs `{rev}`", ""]
    if not now:
        return out + ["_No metrics/eval.json: run `dvc repro evaluate`._", ""]
    if then is None:
        out += [f"_metrics/eval.json did not exist at `{rev}`: values below have nothing to compare to._", ""]
    then = then or {}
    out += [f"| model | metric | {rev} | now | change |", "|---|---|---:|---:|---:|"]
    for model in sorted(set(now) | set(then)):
        a, b = then.get(model) or {}, now.get(model) or {}
        for metric in sorted(set(a) | set(b)):
            if metric not in DIRECTIONS and metric != "n_cases":
                continue
            va, vb = a.get(metric), b.get(metric)
            if not isinstance(va, (int, float, type(None))) or not isinstance(vb, (int, float, type(None))):
                continue
            change = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            out.append(f"| {model} | {metric} | {_f(va)} | {_f(vb)} | {_f(change, True)} |")
    return out + [""]


def flips_section(gate: dict[str, Any] | None, rows: list[dict[str, Any]] | None) -> list[str]:
    if not gate or "flips" not in gate:
        return []
    f = gate["flips"]
    out = [f"### Flipped cases: {f['n_broken']} broken, {f['n_fixed']} fixed", ""]
    if rows is None:
        return out + ["_No data/eval/results.parquet: replies not shown._", ""]
    by = {(r["model"], r["case_id"]): r for r in rows}
    base, cand = gate["baseline"], gate["candidate"]
    for title, ids in (("Broken (passed before, fail now)", f["broken"]), ("Fixed (failed before, pass now)", f["fixed"])):
        if not ids:
            continue
        out += [f"<details{' open' if title.startswith('Broken') else ''}><summary>{title}: {len(ids)}</summary>", "",
                f"| case | tags | {base} reply | {cand} reply |", "|---|---|---|---|"]
        for case_id in ids[:MAX_FLIPS]:
            b, c = by.get((base, case_id), {}), by.get((cand, case_id), {})
            out.append(f"| {case_id} | {cell(', '.join(b.get('tags') or []), 80)} | {cell(b.get('reply'))} "
                       f"| {cell(c.get('reply'))} |")
        if len(ids) > MAX_FLIPS:
            out.append(f"| … | {len(ids) - MAX_FLIPS} more: see the review page | | |")
        out += ["", "</details>", ""]
    return out


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Numeric and boolean leaves of nested JSON as {"a.b.c": value} (lists are skipped)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (bool, int, float)) or obj is None:
        out[prefix[:-1]] = obj
    return out


def quality_section(now: dict[str, Any] | None, then: dict[str, Any] | None, rev: str) -> list[str]:
    out = [f"### Data quality vs `{rev}` (metrics/validate.json)", ""]
    if now is None:
        return out + ["_No metrics/validate.json._", ""]
    a, b = flatten(then or {}), flatten(now)
    changed = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if then is None:
        out += [f"_metrics/validate.json did not exist at `{rev}`._", ""]
    if not changed:
        return out + ["No change.", ""]
    out += [f"| check | {rev} | now |", "|---|---:|---:|"]
    for k in changed[:MAX_QUALITY_ROWS]:
        out.append(f"| {cell(k, 120)} | {_f(a.get(k))} | {_f(b.get(k))} |")
    if len(changed) > MAX_QUALITY_ROWS:
        out.append(f"| … {len(changed) - MAX_QUALITY_ROWS} more | | |")
    return out + [""]


def render_report(root: str | Path, against: str, gate_path: str = "metrics/gate.json",
                  eval_path: str = "metrics/eval.json", validate_path: str = "metrics/validate.json",
                  results_path: str = "data/eval/results.parquet") -> str:
    root = Path(root)
    gate = _read(root / gate_path)
    results = root / results_path
    rows = None
    if results.is_file():
        from logtune.io import read_rows
        rows = read_rows(results, columns=["case_id", "model", "reply", "tags"])
    then_gate = at_revision(root, against, gate_path)
    lines = ["## logtune: model report", ""]
    if then_gate:
        lines += [f"At `{against}` the gate said **{then_gate.get('decision')}** "
                  f"({then_gate.get('candidate')} vs {then_gate.get('baseline')}).", ""]
    lines += gate_section(gate)
    lines += metrics_section(_read(root / eval_path), at_revision(root, against, eval_path), against)
    lines += flips_section(gate, rows)
    lines += quality_section(_read(root / validate_path), at_revision(root, against, validate_path), against)
    return "\n".join(lines).rstrip() + "\n"


def command(args: argparse.Namespace) -> int:
    """Markdown for a pull request: gate deltas with intervals, metrics vs REV, flipped cases, data quality."""
    try:
        text = render_report(args.root, args.against)
    except ReportError as e:
        print(f"logtune report: error: {e}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


ARGS = (
    (("--against",), dict(required=True, help="git revision to compare with (e.g. origin/main)")),
    (("--root",), dict(type=Path, default=Path("."), help="the logtune repository (default: the current folder)")),
    (("--out",), dict(type=Path, help="write the Markdown here (default: stdout)")),
)
