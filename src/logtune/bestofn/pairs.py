"""Grading n candidates and pairing the best with the worst.

The rule score of a candidate is the offline judge's rule-based quality (`logtune.judge.offline.quality`:
empty, too short/long, repetitive, an id absent from CONTEXT and the conversation, an echo, ungrounded),
with the prompt's system message (system prompt + CONTEXT) as the context. With `use_judge`, the score
that ranks is (1 - judge_weight) x rule + judge_weight x the judge's quality. A pair is kept only when
- best minus worst is at least `min_margin` (otherwise `below_min_margin`: a tie, no clear preference),
- the two replies differ after normalization (otherwise `identical_candidates`),
- the chosen reply's RULE score is strictly above the rejected one's (with a judge mixed in, a ranking the
  rules contradict is dropped as `judge_contradicts_rules`): every kept pair's chosen side scores higher
  on the rules, an invariant `make_pairs` asserts.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from logtune.bestofn.params import BestOfNParams
from logtune.ids import content_id
from logtune.judge.offline import quality
from logtune.normalize import normalize_text

REASONS = ("below_min_margin", "identical_candidates", "judge_contradicts_rules", "no_candidates")


def context_of(prompt: list[dict[str, str]]) -> str | None:
    return prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else None


def user_text(prompt: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in prompt if m["role"] != "system")


def rule_scores(prompt: list[dict[str, str]], candidates: list[str]) -> list[float]:
    return [quality(user_text(prompt), c, context_of(prompt))[0] for c in candidates]


def make_pairs(prompts: list[dict[str, Any]], candidates: list[list[str]], params: BestOfNParams, model: str,
               judge_scores: list[list[float | None]] | None = None
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter]:
    """(PREFERENCE_PAIR rows, per-prompt grading records, dropped by reason)."""
    pairs, graded, dropped = [], [], Counter({r: 0 for r in REASONS})
    for i, (p, cands) in enumerate(zip(prompts, candidates)):
        if not cands:
            dropped["no_candidates"] += 1
            continue
        rules = rule_scores(p["prompt"], cands)
        if judge_scores is not None:
            js = judge_scores[i]
            w = params.judge_weight
            ranked = [(1 - w) * r + w * (j if j is not None else r) for r, j in zip(rules, js)]
        else:
            ranked = rules
        order = sorted(range(len(cands)), key=lambda k: (-ranked[k], k))
        best, worst = order[0], order[-1]
        margin = ranked[best] - ranked[worst]
        reason = None
        if normalize_text(cands[best]) == normalize_text(cands[worst]):
            reason = "identical_candidates"
        elif margin < params.min_margin:
            reason = "below_min_margin"
        elif rules[best] <= rules[worst]:
            reason = "judge_contradicts_rules"
        graded.append({"id": p["id"], "candidates": cands, "rule_scores": rules, "scores": ranked,
                       "best": best, "worst": worst, "margin": round(margin, 4), "dropped": reason})
        if reason:
            dropped[reason] += 1
            continue
        assert rules[best] > rules[worst], "best-of-n would pair a chosen reply the rules score no higher"
        generated_by = {"provider": "best_of_n", "model": model, "task": "best_of_n", "prompt_version": None,
                        "n": params.n, "seed": params.seed, "judge": params.use_judge,
                        "chosen_score": round(ranked[best], 4), "rejected_score": round(ranked[worst], 4)}
        pairs.append({
            "id": content_id("best_of_n", p["id"], cands[best], cands[worst]),
            "prompt": p["prompt"], "chosen": [{"role": "assistant", "content": cands[best]}],
            "rejected": [{"role": "assistant", "content": cands[worst]}], "record_type": "best_of_n",
            "phase": None, "task_type": p.get("task_type"), "provenance": "synthetic", "rule": "best_of_n",
            "conversation_id": p.get("conversation_id"), "message_ids": None,
            "generated_by": json.dumps(generated_by, sort_keys=True)})
    return pairs, graded, dropped
