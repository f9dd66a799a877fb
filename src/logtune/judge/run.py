"""The judge stage's logic: what it asks about the golden results, the held-out logs and the thumbs.

- pairwise, on the golden set: the candidate's reply vs the baseline's reply to every case (evaluate's
  `results.parquet`), the case's expectation as the reference; win rate overall and per case type;
- pointwise, on held-out logged prompts (the dry-run's replays, `data/dryrun/decisions.jsonl`): each
  model's reply vs the reply the assistant logged and the build kept for SFT (Data Flywheel's
  similarity-to-production metric);
- agreement, on every logged thumb in the curated conversations: the judge's quality score of the rated
  reply vs the user's thumb (`agreement`), and the same on the review queue's marks (keep = good), so the
  judge is trusted only as far as it agrees with people (`trust`).
Every item the stage reads is judged or skipped with a reason in the metrics.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from logtune.golden.contract import GoldenCase
from logtune.judge.agreement import agreement
from logtune.judge.core import (FILTER_REASONS, Judge, PairItem, QualityItem, context_text, summarize_pairwise,
                                transcript)


def reference_of(case: GoldenCase) -> str | None:
    """What a good reply to the case says, as the judge's reference (None: judge on the CONTEXT alone)."""
    if case.answer:
        return case.answer[0]
    if case.exact:
        return case.exact
    if case.must_refuse:
        return "A polite reply that the CONTEXT does not contain this information."
    return "; ".join(case.contains) or None


def golden_pairs(results: list[dict[str, Any]], cases: list[GoldenCase], candidate: str, baseline: str
                 ) -> tuple[list[PairItem], Counter]:
    replies = {(r["model"], r["case_id"]): r["reply"] for r in results}
    items, skipped = [], Counter()
    for case in cases:
        a, b = replies.get((candidate, case.id)), replies.get((baseline, case.id))
        if a is None or b is None:
            skipped["no_reply_from_both_models"] += 1
            continue
        items.append(PairItem(case.id, transcript(list(case.messages)), a, b, context_text(case.shown_context),
                              reference_of(case)))
    return items, skipped


def thumbs(conversations: list[dict[str, Any]]) -> tuple[list[QualityItem], list[bool]]:
    """Every assistant reply with a thumb (+1 / -1): the judge's question and the human's answer."""
    items, labels = [], []
    for conv in conversations:
        messages = conv.get("messages") or []
        for i, m in enumerate(messages):
            if m.get("role") == "assistant" and m.get("rating") in (1, -1):
                items.append(QualityItem(f"{conv['id']}:{m.get('id') or i}", transcript(messages[:i]),
                                         m.get("content") or "", conv.get("context")))
                labels.append(m["rating"] == 1)
    return items, labels


def judge_filtered(rejected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sessions curate dropped by the judge's own score (`records.REJECTED` rows, the record as JSON).
    Their thumbs count in the agreement: measured on the survivors only, a judge that filters out exactly
    the replies people disliked would be left agreeing with them at chance, and one that filters out
    the ones they liked would look better than it is."""
    return [json.loads(r["record"]) for r in rejected if r["reason"] in FILTER_REASONS]


def review_labels(marks: list[dict[str, Any]], sft_rows: list[dict[str, Any]]) -> tuple[list[QualityItem], list[bool]]:
    """The reviewed SFT records as the judge's question, the reviewer's mark as the human label
    (keep = good; reject or fix = the reply was not fit to train on)."""
    by_id = {r["id"]: r for r in sft_rows}
    items, labels = [], []
    for m in marks:
        row = by_id.get(m["id"]) if m.get("set") == "sft" else None
        if row is None:
            continue
        messages = list(row["messages"])
        system = next((x["content"] for x in messages if x["role"] == "system"), None)
        items.append(QualityItem(m["id"], transcript([x for x in messages[:-1] if x["role"] != "system"]),
                                 messages[-1]["content"], system))
        labels.append(m["mark"] == "keep")
    return items, labels


def trust(thumbs: dict[str, Any], review: dict[str, Any] | None, min_cases: int) -> tuple[bool, str | None]:
    """(trusted, why not): the judge must beat chance on the logged thumbs, and must not fail to on the review
    marks once there are enough of them (a small review is too little evidence either way, so it cannot
    vouch for a judge the thumbs do not, nor veto one they do)."""
    if not thumbs["better_than_chance"]:
        return False, f"logged thumbs: {thumbs['untrusted_because']}"
    if review is not None and review["n"] >= min_cases and not review["better_than_chance"]:
        return False, f"review marks: {review['untrusted_because']}"
    return True, None


def logged_similarity(judge: Judge, decisions: list[dict[str, Any]], models: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in models:
        pairs = [(d[name], d["logged"]) for d in decisions if isinstance(d.get(name), str) and d.get("logged")]
        scores = [s for s in judge.similarity(pairs) if s is not None] if pairs else []
        out[name] = {"n": len(pairs), "unparsed": len(pairs) - len(scores),
                     "mean": round(sum(scores) / len(scores), 4) if scores else None}
    return out


def judge_run(judge: Judge, *, results: list[dict[str, Any]], cases: list[GoldenCase],
              conversations: list[dict[str, Any]], decisions: list[dict[str, Any]] | None,
              review: tuple[list[QualityItem], list[bool]] | None = None,
              filtered: list[dict[str, Any]] | None = None
              ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(metrics, per-case pairwise verdicts, per-reply thumbs vs judge rows). `filtered`: sessions the
    judge's curate filter dropped (`judge_filtered`), whose thumbs join the agreement."""
    p = judge.params
    items, skipped = golden_pairs(results, cases, p.candidate, p.baseline)
    verdicts = judge.pairwise(items)
    case_type = {c.id: c.case_type for c in cases}
    by_type: dict[str, Any] = {}
    for t in sorted({case_type[v.id] for v in verdicts}):
        by_type[t] = summarize_pairwise(v for v in verdicts if case_type[v.id] == t)
    pair_rows = [{"judge": judge.name, "case_id": v.id, "case_type": case_type[v.id], "winner": v.winner, "orders": list(v.orders),
                  "position_inconsistent": v.position_inconsistent} for v in verdicts]
    q_items, labels = thumbs(conversations)
    f_items, f_labels = thumbs(filtered or [])
    q_items, labels = q_items + f_items, labels + f_labels
    scores = judge.quality(q_items) if q_items else []
    agree = agreement(scores, labels, threshold=p.thumbs_threshold, confidence=p.confidence,
                      min_cases=p.min_agreement_cases)
    thumb_rows = [{"judge": judge.name, "id": i.id, "thumb_up": h, "judge_score": s} for i, h, s in zip(q_items, labels, scores)]
    metrics: dict[str, Any] = {
        "judge": judge.name, "provider": p.provider, "stand_in": judge.stand_in,
        "pairwise": {"candidate": p.candidate, "baseline": p.baseline, "swap_positions": p.swap_positions,
                     **summarize_pairwise(verdicts), "skipped": dict(skipped), "by_case_type": by_type},
        "similarity_to_logged": (logged_similarity(judge, decisions, [p.baseline, p.candidate])
                                 if decisions is not None else None),
        "agreement_thumbs": {**agree, "from_filtered_sessions": len(f_items)},
        "agreement_review": None,
    }
    if review is not None and review[0]:   # the review queue's marks: a second, deliberate set of human labels
        metrics["agreement_review"] = agreement(judge.quality(review[0]), review[1], threshold=p.thumbs_threshold,
                                                confidence=p.confidence, min_cases=p.min_agreement_cases)
    metrics["trusted"], metrics["untrusted_because"] = trust(agree, metrics["agreement_review"], p.min_agreement_cases)
    backend = judge.backend
    if hasattr(backend, "requests"):
        metrics["requests"] = {"total": backend.requests, "cached": backend.cached, "failed": backend.failed}
    return metrics, pair_rows, thumb_rows
