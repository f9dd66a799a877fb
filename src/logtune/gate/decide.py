"""The release gate: may the candidate model replace its baseline, or is it worse beyond noise?

Input: evaluate's per-case results (records.EVAL_RESULT rows: `case_id`, `model`, `passed`, `tags`, and
`scores`, JSON {metric: value in [0, 1] or null}; see `logtune.scores`). A model's metric is
the mean of its non-null per-case values, so every metric can be bootstrapped by resampling cases.

How a delta is judged (`rule`, params `gate.rule`). Let `regression` = how far the candidate is worse
than the baseline in the metric's direction (`DIRECTIONS`: +1 higher is better, -1 lower is better),
and [lo, hi] its paired bootstrap interval:
  significant (default)  reject when regression > tolerance AND lo > 0: the point estimate is worse
                         beyond tolerance and the whole interval lies on the worse side of zero. A
                         regression beyond tolerance whose interval includes 0 is a `noise` warning.
  point                  reject when regression > tolerance (the interval is reported, not used).
  non_inferior           reject when hi > tolerance: promote only if a regression beyond tolerance
                         is ruled out at the confidence level.
Why `significant` for a 100-200 case golden set: the bootstrap is PAIRED (both models' values of a case
move together), so its width comes from the cases that flipped, not from all cases. With 120 cases,
4 cases broken and none fixed already give an interval that excludes 0 (each resample misses all four
with probability (1 - 4/120)^120 ~ e^-4), so real regressions of a few cases are caught; one or two
cases changing either way (greedy decoding on a slightly different adapter) are not a reason to block
a release. `non_inferior` needs an interval narrower than the tolerance: with tolerance 0 it rejects
any candidate that is not clearly better, and with ~150 cases a useful tolerance would be ~0.05.
`point` is seed 000's literal rule ("must not regress"), for teams that want it.
Every gated interval is Bonferroni-corrected (`bootstrap.correction`) for the number of gated
judgements the gate makes, so that many metrics and tags do not add up to a noisy gate
(`comparison_level`). The count is honest: one judgement per gated metric that both models have a
value for, overall and in each gated tag (`judgements`); a metric null for either model (tool-call
accuracy on a golden set with no tool cases) is skipped and not counted.

Every directed metric evaluate writes should have a rule (`gate.tolerances`); one without is listed in
the decision's `not_gated` with the reason, as is every metric with no direction (reply_words), so
nothing the evaluation measured is silently ignored.

Also here: per-case flips (passed under the baseline, fails under the candidate: `broken`; the reverse:
`fixed`), per-tag deltas for the tags params list (gated like the overall ones), and which baseline to
use (`champion`, the last release, falls back to `base` with a note when evaluate did not score one).
Not for computing the metrics (that is `logtune.evaluate`) nor for the rollout plan (`logtune.gate.rollout`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from logtune.scores import DIRECTIONS, loads_scores

RULES = ("significant", "point", "non_inferior")
CORRECTIONS = ("bonferroni", "none")


def comparison_level(confidence: float, comparisons: int, correction: str) -> float:
    """The confidence of each gated interval so that ALL of them hold together at `confidence`.

    The gate makes one judgement per gated metric, overall and per gated tag (`judgements`: ~20 on the
    default golden set). At 95% each, a candidate exactly as good as its baseline would still be rejected
    by chance alone in up to ~50% of releases (one-sided, 20 x 2.5%). Bonferroni widens each interval to
    1 - (1 - confidence) / comparisons, keeping that family-wise false-rejection rate at 2.5%; it is
    conservative (the comparisons are correlated), which costs power on small tags. `none` judges each
    interval at `confidence` alone.
    """
    if correction == "none" or comparisons <= 1:
        return confidence
    return 1.0 - (1.0 - confidence) / comparisons

# A percentile interval end estimated from fewer resamples than this in its tail moves a lot between seeds.
MIN_TAIL_RESAMPLES = 5

# Float noise (0.1 + 0.2) must not turn an exact tie into a regression at tolerance 0.
_EPS = 1e-9


@dataclass(frozen=True)
class BootstrapParams:
    """The paired bootstrap: how many resamples of the golden cases, the interval's confidence, the RNG seed."""
    n_resamples: int = 2000   # interval ends move by ~0.005 between seeds at 2000; 10000 halves that, 5x the time
    confidence: float = 0.95
    seed: int = 0
    correction: str = "bonferroni"  # or none: see `comparison_level`


@dataclass(frozen=True)
class GateParams:
    """params.yaml `gate`."""
    candidate: str = "preference"       # the preference stage's model, as evaluate names it
    baseline: str = "base"              # a model name evaluate scored, or `champion` (the last release)
    fallback_baseline: str = "base"     # used (with a note) when `baseline` was not scored, e.g. no release yet
    tolerances: dict[str, float] = field(default_factory=dict)
    rule: str = "significant"
    bootstrap: BootstrapParams = field(default_factory=BootstrapParams)
    tags: list[str] = field(default_factory=list)
    tag_metrics: list[str] | None = None  # gated metrics judged per tag too (None: every gated metric)


class GateError(ValueError):
    """The gate cannot judge: a model or gated metric missing, a bad tolerance or rule, stale inputs."""


def check_params(p: GateParams) -> None:
    """Every gated metric has a known direction and a tolerance >= 0; the rule and bootstrap are valid."""
    for metric, tol in p.tolerances.items():
        if not DIRECTIONS.get(metric):
            gated = sorted(m for m, d in DIRECTIONS.items() if d)
            raise GateError(f"gate.tolerances: unknown or ungated metric '{metric}' (known: {', '.join(gated)})")
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
            raise GateError(f"gate.tolerances.{metric}: tolerance must be a number >= 0, got {tol!r}")
    if p.rule not in RULES:
        raise GateError(f"gate.rule: must be one of {', '.join(RULES)}, got {p.rule!r}")
    b = p.bootstrap
    if not (isinstance(b.n_resamples, int) and b.n_resamples >= 100):
        raise GateError(f"gate.bootstrap.n_resamples: at least 100, got {b.n_resamples!r}")
    if not (0.5 <= b.confidence < 1):
        raise GateError(f"gate.bootstrap.confidence: in [0.5, 1), got {b.confidence!r}")
    if b.correction not in CORRECTIONS:
        raise GateError(f"gate.bootstrap.correction: one of {', '.join(CORRECTIONS)}, got {b.correction!r}")
    for metric in p.tag_metrics or []:
        if metric not in p.tolerances:
            raise GateError(f"gate.tag_metrics: '{metric}' has no tolerance in gate.tolerances (a tag judgement "
                            f"needs the metric's rule)")


def check_tolerances(tolerances: dict[str, float]) -> None:
    """The tolerances alone (what a params test checks): known, directed metrics, each >= 0."""
    check_params(GateParams(tolerances=tolerances))


# ------------------------------------------------------------------------------------ per-case table

@dataclass
class Paired:
    """The two models' per-case results on the cases both were scored on, in case-id order."""
    case_ids: list[str]
    tags: list[list[str]]
    baseline: list[dict[str, float | None]]
    candidate: list[dict[str, float | None]]
    passed_baseline: list[bool]
    passed_candidate: list[bool]
    only_baseline: list[str]
    only_candidate: list[str]


def paired_cases(rows: Iterable[dict[str, Any]], candidate: str, baseline: str) -> Paired:
    by_model: dict[str, dict[str, dict[str, Any]]] = {candidate: {}, baseline: {}}
    for r in rows:
        if r["model"] in by_model:
            by_model[r["model"]][r["case_id"]] = r
    for name in (candidate, baseline):
        if not by_model[name]:
            raise GateError(f"model '{name}' has no per-case results")
    cand, base = by_model[candidate], by_model[baseline]
    common = sorted(set(cand) & set(base))
    return Paired(
        case_ids=common,
        tags=[sorted(set(base[c].get("tags") or []) | set(cand[c].get("tags") or [])) for c in common],
        baseline=[loads_scores(base[c].get("scores")) for c in common],
        candidate=[loads_scores(cand[c].get("scores")) for c in common],
        passed_baseline=[bool(base[c]["passed"]) for c in common],
        passed_candidate=[bool(cand[c]["passed"]) for c in common],
        only_baseline=sorted(set(base) - set(cand)),
        only_candidate=sorted(set(cand) - set(base)),
    )


def models_in(rows: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({r["model"] for r in rows})


def resolve_baseline(models: Iterable[str], p: GateParams) -> tuple[str, str | None]:
    """(baseline name, note): `p.baseline` when it was scored, else `p.fallback_baseline` with a note saying so."""
    models = set(models)
    if p.baseline in models:
        return p.baseline, None
    if p.fallback_baseline in models:
        return p.fallback_baseline, (f"baseline '{p.baseline}' was not scored (no release yet?): "
                                     f"judged against '{p.fallback_baseline}' instead")
    raise GateError(f"neither baseline '{p.baseline}' nor fallback '{p.fallback_baseline}' in the results "
                    f"(have: {', '.join(sorted(models))})")


# --------------------------------------------------------------------------------------- bootstrap

def resample_counts(n_cases: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_cases) how often each case was drawn: n_cases draws with replacement per resample.

    One matrix for every metric and tag of a gate run: all of them see the same resampled golden sets,
    and both models always see the same cases (the pairing).
    """
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_cases, np.full(n_cases, 1.0 / n_cases), size=n_resamples).astype(np.float64)


def _column(values: list[dict[str, float | None]], metric: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([np.nan if s.get(metric) is None else float(s[metric]) for s in values], dtype=np.float64)
    mask = ~np.isnan(v)
    return np.where(mask, v, 0.0), mask.astype(np.float64)


def bootstrap_delta(baseline: list[float | None], candidate: list[float | None], counts: np.ndarray,
                    confidence: float, select: np.ndarray | None = None) -> dict[str, Any]:
    """Candidate minus baseline mean, and its paired percentile bootstrap interval.

    `baseline[i]`, `candidate[i]`: case i's value (None: the metric does not apply to that case for that
    model); `counts`: resample_counts over the same cases; `select`: optional 0/1 per case (a tag's cases).
    Each model's mean in a resample is over its own non-null values, as in metrics/eval.json, so the
    delta of a precision-like metric (defined where the model refused) is the delta eval.json shows. A
    resample in which either model has no value is left out (`n_resamples` says how many were used).
    """
    b, mb = _column([{"m": x} for x in baseline], "m")
    c, mc = _column([{"m": x} for x in candidate], "m")
    if select is not None:
        mb, mc = mb * select, mc * select
    out: dict[str, Any] = {"baseline": None, "candidate": None, "delta": None, "ci_low": None, "ci_high": None,
                           "n_cases": int(((mb > 0) & (mc > 0)).sum()), "n_resamples": 0,
                           # a precision-like metric is defined on each model's own cases (where it refused),
                           # which may not overlap: n_cases (both) alone would read "0 cases" for a real delta
                           "n_baseline": int((mb > 0).sum()), "n_candidate": int((mc > 0).sum())}
    if mb.sum() == 0 or mc.sum() == 0:
        return out
    base_mean, cand_mean = float((b * mb).sum() / mb.sum()), float((c * mc).sum() / mc.sum())
    deltas = []
    for start in range(0, counts.shape[0], 1000):   # chunks: memory stays flat for big golden sets
        w = counts[start:start + 1000]
        db, dc = w @ mb, w @ mc
        ok = (db > 0) & (dc > 0)
        deltas.append((w[ok] @ (c * mc)) / dc[ok] - (w[ok] @ (b * mb)) / db[ok])
    d = np.concatenate(deltas)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size else (math.nan, math.nan)
    out.update(baseline=base_mean, candidate=cand_mean, delta=cand_mean - base_mean,
               ci_low=float(lo), ci_high=float(hi), n_resamples=int(d.size))
    return out


# ----------------------------------------------------------------------------------------- judging

def judge_delta(stat: dict[str, Any], direction: int, tolerance: float, rule: str) -> str:
    """`ok`, `regressed` (a reason to reject), `noise` (worse beyond tolerance, interval includes 0;
    only under `significant`) or `skipped` (null for a model: not comparable)."""
    if stat["delta"] is None:
        return "skipped"
    regression = -stat["delta"] * direction
    ends = sorted((-stat["ci_low"] * direction, -stat["ci_high"] * direction))
    r_lo, r_hi = ends if not any(math.isnan(e) for e in ends) else (regression, regression)
    beyond = regression > tolerance + _EPS
    if rule == "point":
        return "regressed" if beyond else "ok"
    if rule == "non_inferior":
        return "regressed" if r_hi > tolerance + _EPS else "ok"
    if beyond:
        return "regressed" if r_lo > _EPS else "noise"
    return "ok"


def _cases(stat: dict[str, Any]) -> str:
    nb, nc = stat.get("n_baseline", stat["n_cases"]), stat.get("n_candidate", stat["n_cases"])
    if nb == nc == stat["n_cases"]:
        return f"{stat['n_cases']} cases"
    return f"{nb} baseline / {nc} candidate cases, {stat['n_cases']} shared"


def _fmt(stat: dict[str, Any], level: float) -> str:
    return (f"baseline {stat['baseline']:.4f}, candidate {stat['candidate']:.4f}, delta {stat['delta']:+.4f} "
            f"({level:.1%} CI {stat['ci_low']:+.4f} .. {stat['ci_high']:+.4f}, {_cases(stat)})")


def metric_deltas(paired: Paired, counts: np.ndarray, p: GateParams, metrics: list[str],
                   select: np.ndarray | None, where: str, reasons: list[str], warnings: list[str],
                   skipped: list[str], gated_level: float | None = None) -> dict[str, Any]:
    """Deltas with intervals: gated metrics at `gated_level` (the corrected level), the rest at the nominal one."""
    block = {}
    for metric in metrics:
        gated = metric in p.tolerances
        level = gated_level if gated and gated_level is not None else p.bootstrap.confidence
        stat = bootstrap_delta([s.get(metric) for s in paired.baseline], [s.get(metric) for s in paired.candidate],
                               counts, level, select)
        tol = float(p.tolerances[metric]) if gated else None
        status = judge_delta(stat, DIRECTIONS[metric], tol, p.rule) if gated else "reported"
        better = "higher" if DIRECTIONS[metric] > 0 else "lower"
        if status == "regressed":
            reasons.append(f"{where}{metric}: {_fmt(stat, level)} regresses beyond tolerance {tol:.4f} "
                           f"({better} is better; rule {p.rule})")
        elif status == "noise":
            warnings.append(f"{where}{metric}: {_fmt(stat, level)} is beyond tolerance {tol:.4f} but the interval "
                            f"includes no change: within noise, not a reason to reject")
        elif status == "skipped":
            skipped.append(f"{where}{metric}")
        block[metric] = {**{k: (round(v, 6) if isinstance(v, float) else v) for k, v in stat.items()},
                         "confidence": round(level, 6),
                         "direction": DIRECTIONS[metric], "tolerance": tol, "status": status,
                         "ok": None if status == "skipped" else status in ("ok", "noise", "reported")}
    return block


def flips(paired: Paired | list[dict[str, Any]], candidate: str | None = None,
          baseline: str | None = None) -> dict[str, Any]:
    """Cases whose `passed` changed: `broken` (passed under the baseline, fails now) and `fixed` (the reverse).

    Aggregates can hide churn (five cases fixed, five broken, same accuracy); these lists show it.
    Takes a Paired table, or EVAL_RESULT rows with the two model names.
    """
    if not isinstance(paired, Paired):
        paired = paired_cases(paired, candidate, baseline)
    trio = list(zip(paired.case_ids, paired.passed_baseline, paired.passed_candidate))
    fixed = [c for c, b, n in trio if n and not b]
    broken = [c for c, b, n in trio if b and not n]
    return {"fixed": fixed, "broken": broken, "n_fixed": len(fixed), "n_broken": len(broken),
            "n_same": len(trio) - len(fixed) - len(broken)}


def gated_metrics_present(paired: Paired, p: GateParams) -> list[str]:
    """Every directed metric some case has a score for; a GATED metric no row scores at all is an error
    (evaluate did not write it: promoting on an unmeasured metric would pass silently)."""
    seen = {m for s in paired.baseline + paired.candidate for m in s}
    missing = sorted(set(p.tolerances) - seen)
    if missing:
        raise GateError(f"gated metric(s) {', '.join(missing)} in no result row's `scores` (results written by an "
                        f"older evaluate? re-run it): cannot judge what was not measured")
    return sorted(m for m in seen if DIRECTIONS.get(m))


def check_against_eval(eval_metrics: dict[str, Any], paired: Paired, names: dict[str, str]) -> None:
    """metrics/eval.json and the per-case results must tell the same story (both come from evaluate):
    a mismatch means one of them is stale, and the gate would judge numbers nobody sees."""
    for side, name in names.items():
        summary = eval_metrics.get(name)
        if not isinstance(summary, dict):
            continue
        values = getattr(paired, side)
        for metric, value in summary.items():
            if not DIRECTIONS.get(metric) or not isinstance(value, (int, float)):
                continue
            col = [s.get(metric) for s in values if s.get(metric) is not None]
            if col and abs(sum(col) / len(col) - value) > 1e-6 and not (paired.only_baseline or paired.only_candidate):
                raise GateError(f"metrics/eval.json says {name} {metric} = {value:.6f}, its per-case results give "
                                f"{sum(col) / len(col):.6f}: one of them is stale (re-run evaluate)")


def tag_metric_names(p: GateParams) -> list[str]:
    """The gated metrics judged within each tag: `tag_metrics`, or every gated metric."""
    return sorted(p.tag_metrics if p.tag_metrics is not None else p.tolerances)


def _judgeable(paired: Paired, metric: str, select: np.ndarray | None) -> bool:
    """Both models have at least one value of `metric` on the (selected) cases: a delta can be judged."""
    def has(values):
        return any(s.get(metric) is not None and (select is None or select[i]) for i, s in enumerate(values))
    return has(paired.baseline) and has(paired.candidate)


def judgements(paired: Paired, p: GateParams) -> list[str]:
    """Every gated judgement the gate will make (`metric` overall, `tag T: metric` per tag): the count the
    Bonferroni correction divides by. A metric null for either model is skipped, so it is not counted."""
    out = [m for m in sorted(p.tolerances) if _judgeable(paired, m, None)]
    for tag in p.tags:
        select = np.array([tag in t for t in paired.tags])
        if select.any():
            out += [f"tag {tag}: {m}" for m in tag_metric_names(p) if _judgeable(paired, m, select)]
    return out


def not_gated(paired: Paired, p: GateParams) -> dict[str, str]:
    """{metric: why it is not gated} for every metric some case has a score for but no rule judges."""
    seen = {m for s in paired.baseline + paired.candidate for m in s}
    out = {}
    for metric in sorted(seen - set(p.tolerances)):
        if metric not in DIRECTIONS:
            out[metric] = "unknown to logtune.scores.DIRECTIONS: no direction, reported only"
        elif not DIRECTIONS[metric]:
            out[metric] = "no direction (neither higher nor lower is better): reported only"
        else:
            out[metric] = "no tolerance in gate.tolerances: reported, never a reason to reject"
    return out


def decide(rows: list[dict[str, Any]], p: GateParams, eval_metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The gate decision with everything behind it (the content of metrics/gate.json)."""
    check_params(p)
    models = models_in(rows)
    if p.candidate not in models:
        raise GateError(f"candidate '{p.candidate}' not in the results (have: {', '.join(models)})")
    baseline, note = resolve_baseline(models, p)
    paired = paired_cases(rows, p.candidate, baseline)
    if eval_metrics is not None:
        check_against_eval(eval_metrics, paired, {"baseline": baseline, "candidate": p.candidate})
    reasons: list[str] = []
    warnings: list[str] = []
    skipped: list[str] = []
    notes = [note] if note else []
    if paired.only_baseline or paired.only_candidate:
        reasons.append(f"case sets differ: {len(paired.only_baseline)} case(s) scored only for {baseline}, "
                       f"{len(paired.only_candidate)} only for {p.candidate}: not the same golden set")
    if not paired.case_ids:
        raise GateError(f"no case was scored for both {p.candidate} and {baseline}")
    metrics = gated_metrics_present(paired, p)
    counts = resample_counts(len(paired.case_ids), p.bootstrap.n_resamples, p.bootstrap.seed)
    judged = judgements(paired, p)
    comparisons = len(judged)
    gated_level = comparison_level(p.bootstrap.confidence, comparisons, p.bootstrap.correction)
    tail = (1 - gated_level) / 2 * p.bootstrap.n_resamples
    if tail < MIN_TAIL_RESAMPLES:
        warnings.append(f"each corrected {gated_level:.2%} interval end rests on {tail:.1f} of "
                        f"{p.bootstrap.n_resamples} resamples ({comparisons} judgements): raise "
                        f"gate.bootstrap.n_resamples to at least {math.ceil(MIN_TAIL_RESAMPLES * 2 / (1 - gated_level))} "
                        f"for stable interval ends")
    overall = metric_deltas(paired, counts, p, metrics, None, "", reasons, warnings, skipped, gated_level)
    tags = {}
    for tag in p.tags:
        select = np.array([1.0 if tag in t else 0.0 for t in paired.tags])
        if not select.any():
            warnings.append(f"tag {tag}: no golden case has this tag (gate.tags): not judged")
            tags[tag] = {"n_cases": 0, "metrics": {}}
            continue
        block = metric_deltas(paired, counts, p, tag_metric_names(p), select, f"tag {tag}: ", reasons, warnings,
                               skipped, gated_level)
        tags[tag] = {"n_cases": int(select.sum()), "metrics": block}
    return {
        "decision": "reject" if reasons else "promote",
        "candidate": p.candidate,
        "baseline": baseline,
        "baseline_requested": p.baseline,
        "rule": p.rule,
        "bootstrap": asdict(p.bootstrap),
        "comparisons": comparisons,                      # gated judgements made (`judgements`: what Bonferroni counts)
        "comparison_confidence": round(gated_level, 6),  # each gated interval's level after the correction
        "judgements": judged,
        "tolerances": {m: float(t) for m, t in sorted(p.tolerances.items())},
        "not_gated": not_gated(paired, p),
        "n_cases": len(paired.case_ids),
        "metrics": overall,
        "tags": tags,
        "flips": flips(paired),
        "reasons": reasons,
        "warnings": warnings,
        "skipped": skipped,
        "notes": notes,
    }
