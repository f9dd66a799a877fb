"""A record's quality score in [0, 1] (issue #18, seed 002: chat exports "quality-scored and filtered").

Computed from the built record itself (so every source gets one and no contract changes), as a weighted
mean of four parts, each in [0, 1]:
  length   0.35  words of the trained reply (SFT: the last assistant turn; preference: chosen; KTO: the
                 completion): fewer than 5 -> words / 5; 5..300 -> 1; more -> 300 / words
  turns    0.15  user turns in the prompt: min(turns, 3) / 3 (context-rich exchanges rank higher)
  rating   0.30  1 when a person endorsed the reply (build rules upvoted_reply, top_ranked_reply,
                 rewrite_sft/pair, correction_sft/pair, recorded_pair, sibling_rank_pair, thumbs_up),
                 0 for a thumbs-down KTO example (label false), else 0.5 (unrated)
  clean    0.20  0 when the reply carries an error marker (a traceback, "Error:" / "Exception:", an
                 unrendered "[object Object]" / "undefined" / "NaN", a leaked special token "<|...|>"),
                 else 1
Mix table rows threshold it with `min_quality`: a record the row selects scoring below it is dropped
with reason `low_quality` (counted). Not for judging content beyond these signals: that is curate.
"""

from __future__ import annotations

import re
from typing import Any

WEIGHTS = {"length": 0.35, "turns": 0.15, "rating": 0.30, "clean": 0.20}
ENDORSED = {"upvoted_reply", "top_ranked_reply", "rewrite_sft", "rewrite_pair", "correction_sft", "correction_pair",
            "recorded_pair", "sibling_rank_pair", "thumbs_up"}
ERROR_MARKERS = re.compile(r"Traceback \(most recent call last\)|\b(?:[A-Z][A-Za-z]*)?(?:Error|Exception): |"
                           r"\[object Object\]|\bundefined\b|\bNaN\b|<\|[A-Za-z_]+\|>")


def _text(turns: Any) -> str:
    turns = turns or []
    reply = next((t for t in reversed(turns) if t.get("role") == "assistant"), None)
    return (reply or {}).get("content") or ""


def parts(set_name: str, record: dict[str, Any]) -> dict[str, float]:
    """The four parts of a record's score (see the module docstring)."""
    if set_name == "sft":
        prompt, reply = record["messages"][:-1], _text(record["messages"])
    elif set_name == "preference":
        prompt, reply = record["prompt"], _text(record["chosen"])
    else:
        prompt, reply = record["prompt"], _text(record["completion"])
    words = len(reply.split())
    length = words / 5 if words < 5 else 1.0 if words <= 300 else 300 / words
    users = sum(1 for t in prompt or [] if t.get("role") == "user")
    if set_name == "kto" and record.get("label") is False:
        rating = 0.0
    else:
        rating = 1.0 if record.get("rule") in ENDORSED else 0.5
    return {"length": length, "turns": min(users, 3) / 3, "rating": rating,
            "clean": 0.0 if ERROR_MARKERS.search(reply) else 1.0}


def score(set_name: str, record: dict[str, Any]) -> float:
    """The weighted mean of `parts`, rounded to 4 places (stable across platforms)."""
    return round(sum(WEIGHTS[k] * v for k, v in parts(set_name, record).items()), 4)
