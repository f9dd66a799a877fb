"""How far to trust the judge: its agreement with human labels (logged thumbs, review marks).

The judge's quality score predicts a thumbs up when >= `thumbs_threshold`. Reported: n, raw agreement
with a Wilson interval, the agreement expected by chance from the two sides' own rates (Cohen's p_e:
a judge that says "up" to everything agrees with a mostly-up log often, and learns nothing), and Cohen's
kappa. `better_than_chance` holds only when the interval's lower end is above chance; with fewer than
`min_cases` labels the judge is untrusted for want of evidence. Downstream (gate) flags an untrusted judge.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement(scores: list[float | None], labels: list[bool], *, threshold: float, confidence: float,
              min_cases: int) -> dict[str, Any]:
    """The judge (scores) against human labels (True = thumbs up / keep); unreadable scores are left out, counted."""
    pairs = [(s >= threshold, h) for s, h in zip(scores, labels) if s is not None]
    n = len(pairs)
    agree = sum(j == h for j, h in pairs)
    low, high = wilson_interval(agree, n, confidence)
    judge_up = sum(j for j, _ in pairs) / n if n else 0.0
    human_up = sum(h for _, h in pairs) / n if n else 0.0
    chance = judge_up * human_up + (1 - judge_up) * (1 - human_up)
    rate = agree / n if n else None
    kappa = None if not n or chance >= 1 else (rate - chance) / (1 - chance)
    better = bool(n >= min_cases and low > chance)
    reason = (None if better else f"only {n} labelled replies (< {min_cases})" if n < min_cases
              else f"agreement interval [{low:.3f}, {high:.3f}] does not clear chance {chance:.3f}")
    return {"n": n, "unparsed": len(scores) - n, "agreement": None if rate is None else round(rate, 4),
            "interval": [round(low, 4), round(high, 4)], "confidence": confidence, "chance": round(chance, 4),
            "kappa": None if kappa is None else round(kappa, 4), "judge_up_rate": round(judge_up, 4),
            "human_up_rate": round(human_up, 4), "better_than_chance": better, "untrusted_because": reason}


def _brief(agree: dict[str, Any] | None) -> dict[str, Any] | None:
    if not agree:
        return None
    return {k: agree.get(k) for k in ("n", "agreement", "interval", "chance", "kappa", "better_than_chance")}


def gate_note(judge_metrics: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
    """What the gate shows about the judge: a summary (agreement with logged thumbs and with the review marks,
    each with its interval and chance level), and a warning when its numbers are not to be trusted."""
    if judge_metrics is None:
        return None, []
    agree = judge_metrics.get("agreement_thumbs") or {}
    pair = judge_metrics.get("pairwise") or {}
    summary = {"judge": judge_metrics.get("judge"), "stand_in": judge_metrics.get("stand_in"),
               "trusted": bool(judge_metrics.get("trusted")), "candidate_win_rate": pair.get("candidate_win_rate"),
               "agreement": agree.get("agreement"), "interval": agree.get("interval"), "chance": agree.get("chance"),
               "n": agree.get("n"), "agreement_review": _brief(judge_metrics.get("agreement_review")),
               "untrusted_because": None}
    warnings = []
    if not summary["trusted"]:
        why = judge_metrics.get("untrusted_because") or f"logged thumbs: {agree.get('untrusted_because') or 'unknown'}"
        summary["untrusted_because"] = why
        warnings.append(f"judge {summary['judge']} is NOT trusted: agreement with {why}; its win rate "
                        f"{summary['candidate_win_rate']} is reported, not relied on")
    return summary, warnings
