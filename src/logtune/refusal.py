"""What counts as a refusal: the assistant saying the answer is not in its CONTEXT.

Shared by the sample generator (which writes refusals), curation/build (which route them) and
evaluation (which scores refusal correctness), so all three agree on one definition.
"""

from __future__ import annotations

import re

# Phrasings of "the answer is not in the context". Case-insensitive, matched anywhere in the reply.
REFUSAL_PATTERNS = [
    r"\bcould(?:n'?t| not) find\b",
    r"\bcan(?:'?t|not) find\b",
    r"\bdo(?:n'?t| not) (?:see|have)\b.{0,40}\b(?:context|record|information|details?|data)\b",
    r"\bnot (?:in|part of|available in|listed in|present in) (?:the |your |my )?(?:provided |current )?(?:context|records?|data)\b",
    r"\bno (?:record|information|mention|details?|data) (?:of|about|on|for)\b",
    r"\bisn'?t (?:in|listed in|part of) (?:the |your )?(?:context|records?)\b",
    r"\b(?:unable|not able) to (?:find|locate|see)\b",
    r"\bnothing (?:in|about)\b.{0,30}\b(?:context|records?)\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.IGNORECASE)


def is_refusal(reply: str) -> bool:
    """True when the reply says the requested information is not available in the context."""
    return bool(_REFUSAL_RE.search(reply or ""))
