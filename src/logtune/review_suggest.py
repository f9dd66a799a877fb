"""The judge's suggested marks on the review sample, and how far they agree with people (issue #17, the `review` stage).

For every sampled training record the judge (on the default, the offline rule-based STAND-IN: every row
says so in `reviewer` and `judge`) suggests a mark in `logtune.reviews`' format:
- sft: `reject` when the reply's quality score is below `review.reject_below`, else `keep`;
- preference: `reject` when the chosen reply scores below it, or the rejected reply scores higher than the
  chosen one (the pair teaches the wrong way round);
- kto: a desirable completion as sft; an undesirable one (`label: false`) is `reject`ed when it scores at
  or above the threshold (a good reply labelled bad), else `keep` (a bad reply correctly labelled bad).
A reject carries the judge's reason (its score, and the stand-in's broken rules). A score the judge
could not give is `unparsed`: no suggestion, counted. Suggestions are NEVER applied to training by
themselves (mix applies only the human marks in reviews/): a person copies or confirms them.
When the latest human review is of the same data version, the suggestions are compared with its marks
(keep = keep, reject or fix = not keep): `judge.agreement`'s rate, Wilson interval and chance level.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from logtune.judge import offline
from logtune.judge.agreement import agreement
from logtune.judge.core import Judge, QualityItem, transcript
from logtune.params import ParamsError
from logtune.review_page import draw


@dataclass(frozen=True)
class ReviewQueueParams:
    """params.yaml `review`: the `review` stage's sample and its judge's threshold."""
    SECTION = "review"            # class attribute, not a param: names this section in messages

    n: int = 100                  # seed 004: "a manual spot-check of 100 random records"
    seed: int = 0
    reject_below: float = 0.5     # a reply the judge scores below this (0-1, judge.thumbs_threshold's scale) is suggested `reject`

    def __post_init__(self):
        if self.n < 1:
            raise ParamsError(f"review.n: {self.n} must be at least 1")
        if not 0 <= self.reject_below <= 1:
            raise ParamsError(f"review.reject_below: {self.reject_below} must be in [0, 1]")


def _item(rid: str, prompt: list[dict[str, Any]], reply: str) -> QualityItem:
    """The judge's question about one training reply: the conversation before it, its system message as CONTEXT."""
    system = next((m["content"] for m in prompt if m["role"] == "system"), None)
    return QualityItem(rid, transcript([m for m in prompt if m["role"] != "system"]), reply, system)


def record_items(name: str, row: dict[str, Any]) -> list[QualityItem]:
    """What the judge scores of a record: the trained reply (and, for a pair, the rejected reply too)."""
    if name == "sft":
        return [_item(row["id"], row["messages"][:-1], row["messages"][-1]["content"])]
    if name == "preference":
        return [_item(row["id"], row["prompt"], row["chosen"][-1]["content"]),
                _item(row["id"], row["prompt"], row["rejected"][-1]["content"])]
    return [_item(row["id"], row["prompt"], row["completion"][-1]["content"])]


def _rules(judge: Judge, item: QualityItem) -> str:
    """The stand-in's broken rules, for a reason a person can check ('' for an LLM judge: its score is all it says)."""
    if judge.params.provider != "offline":
        return ""
    broken = offline.quality(item.prompt, item.reply, item.context)[1]
    return f" ({', '.join(broken)})" if broken else ""


def decide(judge: Judge, name: str, row: dict[str, Any], items: list[QualityItem], scores: list[float | None],
           threshold: float) -> tuple[str | None, str | None, str | None]:
    """(mark or None when unparsed, reason, kind of reject) for one record from its reply scores."""
    if any(s is None for s in scores):
        return None, None, None
    q = scores[0]
    if name == "kto" and not row.get("label"):
        if q >= threshold:
            return "reject", f"labelled undesirable, but the judge scores the completion {q:.2f} >= {threshold}", \
                "undesirable_scores_high"
        return "keep", None, None
    if q < threshold:
        return "reject", f"reply quality {q:.2f} < {threshold}{_rules(judge, items[0])}", "low_quality"
    if name == "preference" and scores[1] > q:
        return "reject", f"the rejected reply scores higher ({scores[1]:.2f}) than the chosen one ({q:.2f})", \
            "rejected_scores_higher"
    return "keep", None, None


def suggest(judge: Judge, records: list[tuple[str, dict[str, Any]]], version: str, threshold: float
            ) -> tuple[list[dict[str, Any]], Counter]:
    """(one suggested mark per record the judge could score, counts by outcome and reject kind)."""
    items = [record_items(name, row) for name, row in records]
    flat = [i for group in items for i in group]
    scores = judge.quality(flat) if flat else []
    rows, counts, at = [], Counter(), 0
    reviewer = f"judge:{judge.params.provider}"
    for (name, row), group in zip(records, items):
        got = scores[at:at + len(group)]
        at += len(group)
        mark, reason, kind = decide(judge, name, row, group, got, threshold)
        counts[mark or "unparsed"] += 1
        if kind:
            counts[f"reject:{kind}"] += 1
        if mark is None:
            continue
        rows.append({"id": row["id"], "set": name, "mark": mark,
                     "reason": f"{judge.name}: {reason}" if reason else None, "fix": None,
                     "reviewed_at": None, "data_version": version, "reviewer": reviewer, "judge": judge.name,
                     "stand_in": judge.stand_in, "judge_score": round(got[0], 4)})
    return rows, counts


def human_agreement(judge: Judge, sets: dict[str, list[dict[str, Any]]], marks: list[dict[str, Any]], version: str,
                    threshold: float) -> tuple[dict[str, Any] | None, Counter]:
    """(the judge's suggestions vs the human marks of this data version, skipped marks by reason)."""
    by_key = {(name, r["id"]): r for name, rows in sets.items() for r in rows}
    skipped, records, labels = Counter(), [], []
    for m in marks:
        if m.get("data_version") != version:
            skipped["other_data_version"] += 1
        elif (m["set"], m["id"]) not in by_key:
            skipped["not_in_data"] += 1
        else:
            records.append((m["set"], by_key[(m["set"], m["id"])]))
            labels.append(m["mark"] == "keep")
    if not records:
        return None, skipped
    suggested, _ = suggest(judge, records, version, threshold)
    said = {(s["set"], s["id"]): s["mark"] == "keep" for s in suggested}
    # the suggestion as a 0/1 score at threshold 0.5: agreement() compares the judge's keep with the person's keep
    decisions = [None if (name, row["id"]) not in said else float(said[(name, row["id"])]) for name, row in records]
    p = judge.params
    return agreement(decisions, labels, threshold=0.5, confidence=p.confidence, min_cases=p.min_agreement_cases), skipped


def review_queue(judge: Judge, sets: dict[str, list[dict[str, Any]]], version: str, params: ReviewQueueParams,
                 review: tuple[str, list[dict[str, Any]]] | None = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(the sample (`review_page.draw`), the judge's suggested marks, the stage's metrics). `review`: the latest
    human review (file name, its marks), compared with the judge when it reviewed this data version."""
    sample = draw(sets, params.n, params.seed)
    suggested, counts = suggest(judge, [(e["set"], e["row"]) for e in sample], version, params.reject_below)
    agree, skipped = human_agreement(judge, sets, review[1], version, params.reject_below) if review else (None, Counter())
    metrics = {
        "judge": judge.name, "provider": judge.params.provider, "stand_in": judge.stand_in,
        "data_version": version, "records": {name: len(rows) for name, rows in sets.items()},
        "sample": {"n": len(sample), "requested": params.n, "seed": params.seed,
                   "by_set": dict(sorted(Counter(e["set"] for e in sample).items())),
                   "by_stratum": dict(sorted(Counter(e["stratum"] for e in sample).items()))},
        "reject_below": params.reject_below,
        "suggested": {"keep": counts["keep"], "reject": counts["reject"], "unparsed": counts["unparsed"],
                      "reject_by_kind": {k.removeprefix("reject:"): v for k, v in sorted(counts.items())
                                         if k.startswith("reject:")}},
        "applied_to_training": False,   # suggestions only: mix applies the human marks in reviews/
        "human_review": None if review is None else {"file": review[0], "marks": len(review[1]),
                                                     "compared": agree["n"] if agree else 0, "skipped": dict(skipped)},
        "agreement_human": agree,
    }
    return sample, suggested, metrics
