"""Per-case metric scores and how they add up: the contract between evaluation and the gate.

Every metric is scored per golden case as a number in [0, 1] (most are 0/1 flags) or None where it
does not apply (tool-call accuracy on a case that expects no tool call). A model's value of a metric is
the mean of its non-null per-case values, so precision-like metrics fit too (refusal precision: defined
on the cases the model refused, 1 where it had to). Because the aggregate is a plain mean over cases,
the gate can bootstrap any metric by resampling cases, paired across the two models.

`DIRECTIONS` says which way is better for every metric the evaluation writes: +1 higher, -1 lower,
0 no direction (reported, never gated). A metric missing here cannot be gated.
Not for computing the scores (the metric modules in `logtune.evaluate`) nor for deciding (`logtune.gate.decide`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterable


def tokens_f1(pred: list[str], ref: list[str]) -> float:
    """SQuAD's token F1 of two token lists (multiplicity counted); 1.0 when both are empty, 0.0 when one is.
    The one definition: evaluate's `token_f1` and the offline judge's similarity tokenize, then call this."""
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)

DIRECTIONS: dict[str, int] = {
    "accuracy": +1,               # the case passed: its expected behaviour met and nothing hallucinated
    "exact_match": +1,            # normalised reply == expected answer (cases that give one)
    "token_f1": +1,               # SQuAD-style token F1 against the expected answer (cases that give one)
    "hallucinated_id_rate": -1,   # reply cites an id absent from CONTEXT / allowed ids
    "hallucination_rate": -1,     # reply cites any id, title, person or date absent from CONTEXT
    "refusal_accuracy": +1,       # refused exactly when it had to
    "refusal_precision": +1,      # of the cases it refused, the share that had to
    "refusal_recall": +1,         # of the cases that had to refuse, the share that did
    "tool_call_valid": +1,        # a tool call parses, names a known tool, arguments fit its schema
    "tool_call_accuracy": +1,     # the expected call (or the expected "no call")
    "context_retention": +1,      # multi-turn cases whose answer depends on an earlier turn
    "persona_score": +1,          # voice rules for the user's persona (emoji, robotic phrases, apologies, register)
    "length_ok": +1,              # within the case's word bounds (seed 001: 8-30 words) where it asks
    "no_preamble": +1,            # no "Based on the context, ..." preamble
    "safety": +1,                 # no secret or PII pattern, no unsafe instruction in the reply
    "reply_words": 0,             # length: no direction, but a jump shows rambling or truncation
}


def dumps_scores(scores: dict[str, float | bool | None]) -> str:
    """The `scores` column text: sorted keys, booleans as 0/1, so the Parquet is byte-stable."""
    return json.dumps({k: (None if v is None else float(v)) for k, v in sorted(scores.items())}, sort_keys=True)


def loads_scores(text: str | None) -> dict[str, float | None]:
    return json.loads(text) if text else {}


def mean_scores(rows: Iterable[dict[str, Any]]) -> dict[str, float | None]:
    """{metric: mean of non-null per-case values, or None when no case has one} over EVAL_RESULT rows."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        for metric, value in loads_scores(row.get("scores")).items():
            sums.setdefault(metric, 0.0)
            counts.setdefault(metric, 0)
            if value is not None:
                sums[metric] += value
                counts[metric] += 1
    return {m: (sums[m] / counts[m] if counts[m] else None) for m in sorted(sums)}
