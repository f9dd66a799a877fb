"""The offline judge: a deterministic, rule-based STAND-IN for an LLM judge (no model, no network, no key).

It lets the default run exercise every judge path and gives a floor to compare a real judge against;
its numbers are rules, not judgement, and every output that uses it says `offline-rules-v1 (rule-based
stand-in)`. Rules:
- `similarity(reply, reference)`: SQuAD-style token F1 on normalized words, in [0, 1];
- `quality(prompt, reply, context)`: 1.0 minus penalties (below), clamped to [0, 1], with the reasons;
- `compare`: the higher of quality + similarity to the reference (when one is given); closer than
  `tie_margin` is a tie. Symmetric by construction, so swapping positions never changes its verdict.
"""

from __future__ import annotations

import re

from logtune.normalize import normalize_text
from logtune.refusal import is_refusal
from logtune.scores import tokens_f1

NAME = "offline-rules-v1"
ID_RE = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b")
PENALTIES = {                     # what each broken rule costs a reply's quality
    "too_short": 0.4,             # fewer than MIN_WORDS words: rarely a useful answer
    "too_long": 0.3,              # more than MAX_WORDS: rambling, or a loop the model did not stop
    "repetitive": 0.4,            # over REPEAT_SHARE of its word 3-grams are repeats
    "invented_id": 0.6,           # cites an id in neither CONTEXT nor the conversation: below thumbs_threshold alone
    "echo": 0.5,                  # repeats the user's last turn back
    "ungrounded": 0.2,            # not a refusal and shares no content word with CONTEXT or the conversation
}
MIN_WORDS, MAX_WORDS, REPEAT_SHARE = 3, 120, 0.3
STOPWORDS = frozenset("a an the is are was were be to of in on for and or it this that with as at by i you we "
                      "my your our can do does did not no yes".split())


def words(text: str | None) -> list[str]:
    return re.findall(r"\w+", normalize_text(text or ""))


def similarity(reply: str | None, reference: str | None) -> float:
    """Token F1 between the reply and the reference (1.0 when both are empty)."""
    return tokens_f1(words(reply), words(reference))


def quality(prompt: str | None, reply: str | None, context: str | None = None) -> tuple[float, list[str]]:
    """(score in [0, 1], broken rules) of `reply` as the answer to `prompt` under `context`."""
    w = words(reply)
    if not w:
        return 0.0, ["empty"]
    broken = []
    if len(w) < MIN_WORDS:
        broken.append("too_short")
    if len(w) > MAX_WORDS:
        broken.append("too_long")
    grams = [tuple(w[i:i + 3]) for i in range(len(w) - 2)]
    if grams and 1 - len(set(grams)) / len(grams) > REPEAT_SHARE:
        broken.append("repetitive")
    known = set(ID_RE.findall(context or "")) | set(ID_RE.findall(prompt or ""))
    if any(i not in known for i in ID_RE.findall(reply or "")):
        broken.append("invented_id")
    if prompt and normalize_text(reply) == normalize_text(prompt):
        broken.append("echo")
    source = set(words(context)) | set(words(prompt))
    if not is_refusal(reply or "") and not (set(w) - STOPWORDS) & (source - STOPWORDS):
        broken.append("ungrounded")
    return max(0.0, 1.0 - sum(PENALTIES[b] for b in broken)), broken


def preference_score(prompt: str | None, reply: str | None, context: str | None, reference: str | None) -> float:
    score, _ = quality(prompt, reply, context)
    return score + (similarity(reply, reference) if reference else 0.0)


def compare(prompt: str | None, first: str | None, second: str | None, context: str | None = None,
            reference: str | None = None, tie_margin: float = 0.05) -> str:
    """'first', 'second' or 'tie'."""
    a = preference_score(prompt, first, context, reference)
    b = preference_score(prompt, second, context, reference)
    if abs(a - b) < tie_margin:
        return "tie"
    return "first" if a > b else "second"
