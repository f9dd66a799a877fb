"""The release gate: a candidate model may replace its baseline only if no golden metric regresses.

`compare` takes the per-model metrics written by evaluate (metrics/eval.json) and tolerances from
params (`gate.tolerances`: metric -> allowed regression) and returns a decision with one line per
metric and a reason for every regression. Which way is "better" is a property of the metric, so it is
fixed here (`DIRECTIONS`), not in params. `flips` lists golden cases that changed outcome.
Not for computing the metrics themselves: that is `logtune.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# +1: higher is better; -1: lower is better. A metric must be listed here to be gated.
DIRECTIONS = {
    "accuracy": +1,
    "hallucinated_id_rate": -1,
    "refusal_accuracy": +1,
    "refusal_precision": +1,
    "refusal_recall": +1,
}

# Float noise (e.g. 0.1 + 0.2) must not turn an exact tie into a regression at tolerance 0.
_EPS = 1e-9


@dataclass(frozen=True)
class GateParams:
    """params.yaml `gate`: which model is judged against which, and each metric's allowed regression."""
    candidate: str = "dpo"
    baseline: str = "base"
    tolerances: dict[str, float] = field(default_factory=dict)


class GateError(ValueError):
    """The gate cannot compare: a model or metric missing, or a metric with no known direction."""


def check_tolerances(tolerances: dict[str, float]) -> None:
    """Every gated metric must have a known direction and a non-negative tolerance."""
    for metric, tol in tolerances.items():
        if metric not in DIRECTIONS:
            raise GateError(f"gate.tolerances: unknown metric '{metric}' (known: {', '.join(sorted(DIRECTIONS))})")
        if not isinstance(tol, (int, float)) or tol < 0:
            raise GateError(f"gate.tolerances.{metric}: tolerance must be a number >= 0, got {tol!r}")


def compare(eval_metrics: dict[str, Any], candidate: str, baseline: str,
            tolerances: dict[str, float]) -> dict[str, Any]:
    """The gate decision: `promote` when no metric regresses beyond its tolerance, else `reject`.

    A metric's regression is how far the candidate is worse than the baseline in the metric's
    direction; ok when that is <= tolerance. A metric null on either side (e.g. refusal precision of a
    model that never refused) cannot be compared and is reported as skipped, not passed silently.
    """
    check_tolerances(tolerances)
    for name in (candidate, baseline):
        if name not in eval_metrics:
            raise GateError(f"model '{name}' not in eval metrics (have: {', '.join(sorted(eval_metrics))})")
    cand, base = eval_metrics[candidate], eval_metrics[baseline]
    reasons: list[str] = []
    if cand.get("n_cases") != base.get("n_cases"):
        reasons.append(f"n_cases: baseline {baseline} scored {base.get('n_cases')} cases, candidate {candidate} "
                       f"scored {cand.get('n_cases')}: not the same golden set, so not comparable")
    metrics: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for metric in sorted(tolerances):
        b, c, tol = base.get(metric), cand.get(metric), float(tolerances[metric])
        if b is None or c is None:
            skipped.append(metric)
            metrics[metric] = {"baseline": b, "candidate": c, "delta": None, "tolerance": tol, "ok": None}
            continue
        delta = c - b
        regression = -delta * DIRECTIONS[metric]
        ok = regression <= tol + _EPS
        # delta rounded for reading (0.1 - 0.2 prints as -0.09999999999999998); `ok` used the exact value
        metrics[metric] = {"baseline": b, "candidate": c, "delta": round(delta, 6), "tolerance": tol, "ok": ok}
        if not ok:
            better = "higher" if DIRECTIONS[metric] > 0 else "lower"
            reasons.append(f"{metric}: baseline {b:.4f}, candidate {c:.4f}, delta {delta:+.4f} "
                           f"exceeds tolerance {tol:.4f} ({better} is better)")
    return {
        "decision": "reject" if reasons else "promote",
        "candidate": candidate,
        "baseline": baseline,
        "metrics": metrics,
        "skipped": skipped,
        "reasons": reasons,
    }


def flips(results: list[dict[str, Any]], candidate: str, baseline: str) -> dict[str, Any]:
    """Golden cases whose `passed` changed from baseline to candidate: `fixed` and `broken` case ids.

    Aggregates can hide churn (five cases fixed, five broken, same accuracy); these lists show it.
    """
    passed: dict[str, dict[str, bool]] = {candidate: {}, baseline: {}}
    for r in results:
        if r["model"] in passed:
            passed[r["model"]][r["case_id"]] = bool(r["passed"])
    common = sorted(set(passed[candidate]) & set(passed[baseline]))
    fixed = [c for c in common if passed[candidate][c] and not passed[baseline][c]]
    broken = [c for c in common if passed[baseline][c] and not passed[candidate][c]]
    return {"fixed": fixed, "broken": broken, "n_fixed": len(fixed), "n_broken": len(broken)}
