"""Task accuracy: does the reply give the expected answer? Exact, contains, regex, token F1.

Definitions (per case, on the reply text):
- `normalize_answer`: SQuAD v1.1's normalisation: lower-case, punctuation removed, the articles
  a/an/the removed, whitespace collapsed.
- `exact_match`: 1 when the normalised reply equals the normalised reference for any reference (max over
  `expected.answer`, else `expected.exact`); None when the case gives neither.
- `token_f1`: SQuAD's token F1: the harmonic mean of precision (shared tokens / reply tokens) and recall
  (shared tokens / reference tokens), tokens of the normalised texts counted with multiplicity, max over
  references; 1.0 when both are empty, 0.0 when only one is. None when the case gives no reference.
- `contains_all`: every `expected.contains` string occurs in the reply, case-insensitive (substring).
- `regex_all`: every `expected.regex` pattern matches somewhere in the reply (re.search, case-insensitive).
- `is_correct`: the case's expected behaviour: a must-refuse case is correct when the reply refuses;
  a case expecting a tool call when the call matches (`tools.tool_call_accuracy`); any other case when
  the reply does not refuse, makes no tool call when told not to, and passes every check the case gives
  (contains, exact, regex). `answer` feeds exact match / F1 only: a support reply is a sentence, so
  requiring it to BE the reference answer would fail every good reply.
Not for hallucination, refusal detection or tool parsing (their own modules).
"""

from __future__ import annotations

import re
import string

from logtune.scores import tokens_f1

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str | None) -> str:
    """SQuAD v1.1 normalisation: lower, drop punctuation, drop articles, collapse whitespace."""
    text = "".join(ch for ch in (text or "").lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def references(answers: tuple[str, ...] | list[str], exact: str | None) -> list[str]:
    """The reference answers exact match and F1 compare with: `answer`, else `exact`, else none."""
    return list(answers) if answers else ([exact] if exact is not None else [])


def exact_match(reply: str | None, refs: list[str]) -> float | None:
    if not refs:
        return None
    pred = normalize_answer(reply)
    return float(any(pred == normalize_answer(r) for r in refs))


def token_f1(reply: str | None, refs: list[str]) -> float | None:
    if not refs:
        return None
    pred = normalize_answer(reply).split()
    return max(tokens_f1(pred, normalize_answer(r).split()) for r in refs)


def contains_all(reply: str | None, needles: tuple[str, ...] | list[str]) -> bool:
    text = (reply or "").casefold()
    return all(n.casefold() in text for n in needles)


def regex_all(reply: str | None, patterns: tuple[str, ...] | list[str]) -> bool:
    return all(re.search(p, reply or "", re.IGNORECASE) for p in patterns)


def is_correct(case, reply: str | None, refused: bool, made_call: bool, call_accuracy: float | None) -> bool:
    """The case's expected behaviour met (see the module docstring); `case` is a GoldenCase."""
    if case.must_refuse:
        return refused
    if call_accuracy is not None and case.tool_call not in (None, "none"):
        return call_accuracy == 1.0
    if refused or (case.tool_call == "none" and made_call):
        return False
    if case.exact is not None and exact_match(reply, [case.exact]) != 1.0:
        return False
    return contains_all(reply, case.contains) and regex_all(reply, case.regex)
