"""Length and style (seed 001: "8-30 words (1-2 sentences)", "no preambles like 'Based on the context...'").

Per case:
- `length_ok`: on cases that give `expected.min_words` and/or `expected.max_words`, 1 when the reply's
  whitespace-separated word count is within the bounds (inclusive); None on cases that do not ask;
- `no_preamble`: on every case, 1 when the reply does not OPEN with a preamble: any of the params'
  `evaluate.preamble_patterns`, matched case-insensitively at the start of the reply (after leading
  whitespace). A preamble in the middle of a reply is not one;
- `reply_words`: the word count itself (no direction; a jump shows rambling or truncated replies).
"""

from __future__ import annotations

import re

DEFAULT_PREAMBLES = [
    r"(?:based on|according to|from|looking at) (?:the |your |my )?(?:provided |given |available |current )?"
    r"(?:context|information|data|records?)\b",
    r"(?:sure|certainly|of course|absolutely)[!,.]", r"as an ai\b", r"(?:great|good) question\b",
    r"here(?:'s| is) (?:the|your) answer\b", r"i'?d be (?:happy|glad) to help\b",
]


def reply_words(reply: str | None) -> int:
    """Whitespace-separated words: a length measure that does not depend on the tokenizer."""
    return len((reply or "").split())


def has_preamble(reply: str | None, patterns: list[str]) -> bool:
    text = (reply or "").lstrip()
    return any(re.match(p, text, re.IGNORECASE) for p in patterns)


def style_scores(case, reply: str | None, preamble_patterns: list[str]) -> dict[str, float | None]:
    words = reply_words(reply)
    asks = case.min_words is not None or case.max_words is not None
    ok = (case.min_words is None or words >= case.min_words) and (case.max_words is None or words <= case.max_words)
    return {"length_ok": float(ok) if asks else None,
            "no_preamble": float(not has_preamble(reply, preamble_patterns)),
            "reply_words": float(words)}
