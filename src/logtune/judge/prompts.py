"""What an LLM judge (anthropic, local) is asked, and how its one-word answer is read.

The templates' hash is the judge's prompt version: it is part of every cache key, so editing a template
re-asks everything and nothing else does. An answer that cannot be read is `None` (counted as
`unparsed` in the metrics), never guessed.
"""

from __future__ import annotations

import hashlib
import re

PAIRWISE_SYSTEM = (
    "You judge replies of a support assistant that must answer only from its CONTEXT. Prefer the reply that is "
    "correct per the CONTEXT, answers the question, refuses when the CONTEXT lacks the answer, invents nothing, "
    "and is concise. Ignore which reply comes first. Answer with exactly one word: A, B or TIE.")
PAIRWISE_USER = ("CONTEXT:\n{context}\n\nConversation:\n{prompt}\n\n{reference}Reply A:\n{first}\n\n"
                 "Reply B:\n{second}\n\nWhich reply is better? A, B or TIE:")
SIMILARITY_SYSTEM = (
    "You compare an assistant reply with a reference reply that users approved. Rate how closely the reply "
    "matches the reference in meaning and facts (wording does not matter). Answer with one integer from 1 "
    "(unrelated or contradicting) to 10 (same meaning and facts).")
SIMILARITY_USER = "Reference reply:\n{reference}\n\nReply:\n{reply}\n\nScore 1-10:"
QUALITY_SYSTEM = (
    "You rate an assistant reply as a training example for a support assistant grounded in a CONTEXT: correct "
    "per the CONTEXT, answers what was asked (or refuses when the CONTEXT lacks it), invents no ids, names or "
    "dates, concise and polite. Answer with one integer from 1 (harmful to train on) to 10 (ideal).")
QUALITY_USER = "CONTEXT:\n{context}\n\nConversation:\n{prompt}\n\nReply:\n{reply}\n\nScore 1-10:"

PROMPT_VERSION = hashlib.sha256("\x00".join([PAIRWISE_SYSTEM, PAIRWISE_USER, SIMILARITY_SYSTEM, SIMILARITY_USER,
                                             QUALITY_SYSTEM, QUALITY_USER]).encode()).hexdigest()[:12]
_CHOICE = re.compile(r"^\W*(A|B|TIE)\b", re.IGNORECASE)
_SCORE = re.compile(r"^\D*?(10|[1-9])(?!\d)")


def pairwise(prompt: str, first: str, second: str, context: str | None, reference: str | None) -> tuple[str, str]:
    ref = f"A reply users approved (for reference):\n{reference}\n\n" if reference else ""
    return PAIRWISE_SYSTEM, PAIRWISE_USER.format(context=context or "(none)", prompt=prompt, reference=ref,
                                                 first=first, second=second)


def similarity(reply: str, reference: str) -> tuple[str, str]:
    return SIMILARITY_SYSTEM, SIMILARITY_USER.format(reference=reference, reply=reply)


def quality(prompt: str, reply: str, context: str | None) -> tuple[str, str]:
    return QUALITY_SYSTEM, QUALITY_USER.format(context=context or "(none)", prompt=prompt, reply=reply)


def parse_choice(text: str | None) -> str | None:
    """'first' (A), 'second' (B), 'tie', or None when the answer is not one of them."""
    m = _CHOICE.match(text or "")
    if not m:
        return None
    return {"a": "first", "b": "second", "tie": "tie"}[m.group(1).lower()]


def parse_score(text: str | None) -> float | None:
    """A 1-10 answer mapped to [0, 1]; None when there is no such integer first in the answer."""
    m = _SCORE.match(text or "")
    return None if not m else (int(m.group(1)) - 1) / 9
