"""Scoring golden-set replies: per-case flags, then per-model and per-tag aggregates.

Per case (`score_case`): refused, correct, hallucinated_ids, passed, reply_words.
Per model (`aggregate`): accuracy, hallucinated_id_rate, refusal_accuracy, refusal_precision,
refusal_recall, mean_reply_words, n_cases, and the same numbers under `by_tag`.
Not for generation (`logtune.evaluate.generate`) nor for comparing models (`logtune.gate`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from logtune.evaluate.golden import GoldenCase
from logtune.refusal import is_refusal


def find_ids(text: str | None, id_patterns: Iterable[str]) -> list[str]:
    """Every whole id the patterns match in `text`, sorted and unique."""
    found: set[str] = set()
    for pattern in id_patterns:
        found.update(m.group(0) for m in re.finditer(pattern, text or ""))
    return sorted(found)


def grounded_ids(case: GoldenCase, id_patterns: Iterable[str], *, allow_prompt_ids: bool) -> set[str]:
    """Ids the reply may cite: expected.allowed_ids, whole ids found in CONTEXT, optionally ids the user typed.

    CONTEXT is scanned for whole ids with the same patterns as the reply, so `PRJ-104` is not
    grounded by a CONTEXT that only holds `PRJ-1042` (a substring test would wrongly allow it).
    """
    patterns = list(id_patterns)
    allowed = set(case.allowed_ids)
    if case.context is not None:
        allowed.update(find_ids(json.dumps(case.context, ensure_ascii=False), patterns))
    if allow_prompt_ids:
        for m in case.messages:
            if m["role"] == "user":
                allowed.update(find_ids(m["content"], patterns))
    return allowed


def reply_words(reply: str) -> int:
    """Whitespace-separated words in the reply: a length measure that does not depend on the tokenizer."""
    return len((reply or "").split())


def is_correct(case: GoldenCase, reply: str, refused: bool) -> bool:
    """A must-refuse case is correct when the reply refuses; any other case when the reply does not
    refuse and contains every expected string (case-insensitive)."""
    if case.must_refuse:
        return refused
    text = (reply or "").casefold()
    return not refused and all(s.casefold() in text for s in case.contains)


def score_case(case: GoldenCase, reply: str, model: str, id_patterns: Iterable[str], *,
               allow_prompt_ids: bool = True) -> dict[str, Any]:
    """One EVAL_RESULT row: the reply and its flags. `passed` = correct and no hallucinated id."""
    patterns = list(id_patterns)
    refused = is_refusal(reply)
    grounded = grounded_ids(case, patterns, allow_prompt_ids=allow_prompt_ids)
    hallucinated = [i for i in find_ids(reply, patterns) if i not in grounded]
    correct = is_correct(case, reply, refused)
    return {
        "case_id": case.id,
        "model": model,
        "reply": reply,
        "passed": correct and not hallucinated,
        "correct": correct,
        "refused": refused,
        "must_refuse": case.must_refuse,
        "hallucinated_ids": hallucinated,
        "reply_words": reply_words(reply),
        "tags": list(case.tags),
    }


def _ratio(num: int, den: int) -> float | None:
    # None (null in JSON) when undefined, e.g. precision of a model that never refuses: a made-up 0 or 1
    # would read as a real score in `dvc metrics diff`; the gate skips metrics that are null on either side.
    return num / den if den else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The model-level numbers over some scored rows (all of one model, or one tag's)."""
    n = len(rows)
    refused = sum(r["refused"] for r in rows)
    must = sum(r["must_refuse"] for r in rows)
    both = sum(r["refused"] and r["must_refuse"] for r in rows)
    return {
        "n_cases": n,
        # accuracy: share of cases passed (correct and no hallucinated id): the headline number.
        "accuracy": _ratio(sum(r["passed"] for r in rows), n),
        # hallucinated_id_rate: share of replies citing at least one id not grounded in the case.
        "hallucinated_id_rate": _ratio(sum(bool(r["hallucinated_ids"]) for r in rows), n),
        # refusal_accuracy: share of cases where the model refused exactly when it had to.
        "refusal_accuracy": _ratio(sum(r["refused"] == r["must_refuse"] for r in rows), n),
        # refusal_precision: of the replies that refused, the share that had to (over-refusal lowers it).
        "refusal_precision": _ratio(both, refused),
        # refusal_recall: of the cases that had to refuse, the share that did (answering anyway lowers it).
        "refusal_recall": _ratio(both, must),
        # mean_reply_words: length; no direction, but a jump shows rambling or truncated replies.
        "mean_reply_words": _ratio(sum(r["reply_words"] for r in rows), n),
    }


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{model: {metric: value, ..., "by_tag": {tag: {metric: value}}}} from scored rows of any models."""
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        summary = summarize(mine)
        tags = sorted({t for r in mine for t in r["tags"]})
        summary["by_tag"] = {t: summarize([r for r in mine if t in r["tags"]]) for t in tags}
        out[model] = summary
    return out
