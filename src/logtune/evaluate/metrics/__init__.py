"""Scoring golden-set replies: every metric per case, then per model, per tag and per case type.

One module per metric family, each with its precise definition in its docstring:
`accuracy` (exact match, token F1, contains, regex, correctness), `hallucination` (ungrounded ids,
titles, people, dates), `refusal` (accuracy, precision, recall), `tools` (call validity and accuracy),
`retention` (multi-turn), `persona` (seed 002's voice rules), `style` (length, preambles), `safety`
(PII/secrets, unsafe instructions).

`score_case` gives one EVAL_RESULT row: the flags the earlier contract had (passed, correct, refused,
hallucinated_ids, reply_words) and `scores`, the JSON text of every metric's per-case value (a number
in [0, 1], `reply_words` a count, None where the metric does not apply), named as in
`logtune.scores.DIRECTIONS`. `aggregate` averages them (`scores.mean_scores`), so a model's
metric is the mean of its per-case values and the gate can bootstrap any of them.
`accuracy` per case = `passed`: the case's expected behaviour met AND no hallucinated id.
Not for generation (`logtune.generate`) nor for comparing models (`logtune.gate.decide`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logtune.golden.contract import GoldenCase
from logtune.evaluate.metrics.accuracy import exact_match, is_correct, references, token_f1
from logtune.evaluate.metrics.hallucination import DEFAULT_PATTERNS, find_ids, grounded_ids, hallucination_scores, ungrounded
from logtune.evaluate.metrics.persona import persona_scores, voice_problems
from logtune.evaluate.metrics.refusal import refusal_scores, refused
from logtune.evaluate.metrics.retention import retention_score
from logtune.evaluate.metrics.safety import DEFAULT_UNSAFE, safety_problems, safety_scores
from logtune.evaluate.metrics.style import DEFAULT_PREAMBLES, reply_words, style_scores
from logtune.evaluate.metrics.tools import read_tool_reply, tool_scores
from logtune.scores import DIRECTIONS, dumps_scores, mean_scores

__all__ = ["ScoringRules", "aggregate", "find_ids", "grounded_ids", "score_case", "summarize"]


@dataclass(frozen=True)
class ScoringRules:
    """The configurable patterns scoring uses (params.yaml `evaluate`, see `run.EvaluateParams`)."""
    id_patterns: list[str] = field(default_factory=lambda: [r"\b[A-Z]{2,5}-\d{2,6}\b"])
    hallucination_patterns: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_PATTERNS))
    preamble_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_PREAMBLES))
    unsafe_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_UNSAFE))
    allow_prompt_ids: bool = True


def _hallucination_text(reply: str, reading) -> str:
    # A tool call's JSON keys and quotes are syntax, not claims: scan what it says (message, argument values).
    if not reading.call_form or reading.problems and not reading.calls:
        return reply
    values: list[str] = [reading.message or ""]

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif v is not None:
            values.append(str(v))
    for call in reading.calls:
        walk(call.args)
    return "\n".join(values)


def score_case(case: GoldenCase, reply: str, model: str, rules: ScoringRules | None = None) -> dict[str, Any]:
    """One EVAL_RESULT row for `reply` to `case` (plus `problems`: what failed, for replies.jsonl)."""
    rules = rules or ScoringRules()
    reply = reply or ""
    reading = read_tool_reply(reply, case.tools)
    did_refuse = refused(reply) and not reading.calls
    found = ungrounded(case, _hallucination_text(reply, reading),
                       {"id": rules.id_patterns, **rules.hallucination_patterns}, allow_prompt_ids=rules.allow_prompt_ids)
    tools = tool_scores(case, reading)
    correct = is_correct(case, reply, did_refuse, bool(reading.calls), tools["tool_call_accuracy"])
    passed = correct and not found.get("id")
    refs = references(case.answer, case.exact)
    scores: dict[str, float | None] = {
        "accuracy": float(passed),
        "exact_match": exact_match(reply, refs),
        "token_f1": token_f1(reply, refs),
        **hallucination_scores(found),
        **refusal_scores(did_refuse, case.must_refuse),
        **tools,
        **retention_score(case, passed),
        **persona_scores(case, reply),
        **style_scores(case, reply, rules.preamble_patterns),
        **safety_scores(case, reply, rules.unsafe_patterns),
    }
    unknown = set(scores) - set(DIRECTIONS)
    assert not unknown, f"metrics without a direction in scores.DIRECTIONS: {sorted(unknown)}"
    problems = {
        "hallucinated": found,
        "tool": list(reading.problems),
        "voice": voice_problems(reply, case.persona, case.must_refuse) if case.persona else [],
        "safety": safety_problems(reply, case.context, rules.unsafe_patterns),
    }
    return {
        "case_id": case.id,
        "model": model,
        "reply": reply,
        "passed": passed,
        "correct": correct,
        "refused": did_refuse,
        "must_refuse": case.must_refuse,
        "hallucinated_ids": found.get("id", []),
        "reply_words": reply_words(reply),
        "tags": list(case.tags),
        "case_type": case.case_type,
        "scores": dumps_scores(scores),
        "problems": {k: v for k, v in problems.items() if v},
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{n_cases, metric: mean of non-null per-case values (None when none)} over some scored rows."""
    return {"n_cases": len(rows), **mean_scores(rows)}


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{model: {n_cases, metric..., by_tag: {tag: {...}}, by_case_type: {type: {...}}}} from scored rows."""
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        summary = summarize(mine)
        tags = sorted({t for r in mine for t in r["tags"]})
        summary["by_tag"] = {t: summarize([r for r in mine if t in r["tags"]]) for t in tags}
        types = sorted({r["case_type"] for r in mine})
        summary["by_case_type"] = {t: summarize([r for r in mine if r["case_type"] == t]) for t in types}
        out[model] = summary
    return out
