"""Golden-set leakage into training records beyond the exact match: reworded questions and golden replies.

`features` already marks a record whose final user turn and CONTEXT equal a golden case's (`exact`).
This module finds the near ones, with the same measures curate uses to keep them out
(`logtune.golden.overlap`), so a leak that slipped past curate and build (or came in through a
later stage, e.g. rewrite) still stops training:
- `question`: the record's user turns near a golden case's by word 3-gram Jaccard >= `threshold`
  under ANY CONTEXT (curate's `golden_near_threshold` rule: a single-turn case against each user turn
  of at least NEAR_MIN_WORDS words, a multi-turn case against the user turns pooled);
- `same CONTEXT`: under the golden case's own CONTEXT (equal after normalization), the record's final
  user turn near the case's final one by word-set Jaccard >= `same_context_threshold`. Golden questions
  are short (most 3-9 words) and one changed word breaks every 3-gram it is in: "what is the status of
  PRJ-6763" with one word swapped keeps 2 of 7 shingles. Word 3-grams cannot tell that edit from the
  same template asked about another record, so the CONTEXT (the golden case's data) is what tells them
  apart; within it, words shared are enough;
- `reply`: a training reply (SFT target, chosen, rejected, KTO completion) near a golden case's expected
  `answer`/`exact` text (what the case scores), by word 3-gram Jaccard >= `threshold`: a model that
  trained on the golden answer scores it from memory. Not the assistant turns of a golden case's history:
  those are inputs, and in templated logs they are the assistant's stock phrases ("Sorry, I can't find
  that project in my current context...": 17 training replies of the default data say exactly that).
It reports; the `not_in_golden` expectation decides. Not the exact check (features.golden_keys).
"""

from __future__ import annotations

from typing import Any

from logtune.golden.overlap import golden_near_matches, near_text_matches
from logtune.prompt import split_system
from logtune.normalize import normalize_text
from logtune.validate.features import golden_key


def usable_cases(cases: list[Any]) -> list[dict[str, Any]]:
    """Golden cases with an id and a user turn (malformed ones fail the golden suite; they cannot leak)."""
    out = []
    for case in cases:
        if not isinstance(case, dict) or case.get("id") in (None, ""):
            continue
        messages = [m for m in case.get("messages") or [] if isinstance(m, dict)]
        if any(m.get("role") == "user" and isinstance(m.get("content"), str) for m in messages):
            out.append({**case, "id": str(case["id"]), "messages": messages})
    return out


def golden_replies(cases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(case id, text) of every expected answer text (`answer`, `exact`: a string or a list of them)."""
    out = []
    for case in cases:
        expected = case.get("expected") if isinstance(case.get("expected"), dict) else {}
        for key in ("answer", "exact"):
            value = expected.get(key)
            out += [(case["id"], v) for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return out


def _context(prompt: list[dict[str, Any]]) -> str | None:
    if prompt and prompt[0].get("role") == "system":
        return split_system(prompt[0].get("content"))[1]
    return None


def _words(text: Any) -> set[str]:
    return set(normalize_text(text).split())


def near_leaks(prompts: list[list[dict[str, Any]]], replies: list[list[str]], cases: list[Any],
               threshold: float | None, same_context_threshold: float | None) -> dict[int, str]:
    """{record index: 'g001, near: <how> jaccard 0.86'} for records near a golden case (best match kept).

    `prompts[i]`: record i's prompt messages (system first, if any); `replies[i]`: its reply texts.
    A threshold of None turns its check off.
    """
    cases = usable_cases(cases)
    if not cases or not prompts:
        return {}
    found: dict[int, tuple[float, str, str]] = {}

    def keep(i: int, score: float, case_id: str, how: str) -> None:
        if i not in found or score > found[i][0]:
            found[i] = (score, case_id, how)

    if threshold is not None:
        pseudo = [{"messages": [m for m in prompt if m.get("role") == "user"]} for prompt in prompts]
        for i, (score, case_id) in golden_near_matches(pseudo, cases, threshold).items():
            keep(i, score, case_id, "question")
        targets = golden_replies(cases)
        flat = [(i, text) for i, texts in enumerate(replies) for text in texts]
        matches = near_text_matches([text for _, text in flat], [text for _, text in targets], threshold)
        for k, (score, t) in matches.items():
            keep(flat[k][0], score, targets[t][0], "reply")
    if same_context_threshold is not None:
        by_context: dict[str, list[tuple[str, set[str]]]] = {}
        for case in cases:
            if case.get("context") is None:
                continue   # a case without CONTEXT has nothing that tells its question from a template
            users = [m["content"] for m in case["messages"] if m.get("role") == "user"]
            by_context.setdefault(golden_key(None, case["context"])[1], []).append((case["id"], _words(users[-1])))
        for i, prompt in enumerate(prompts):
            context = _context(prompt)
            users = [m.get("content") for m in prompt if m.get("role") == "user"]
            if context is None or not users:
                continue
            for case_id, golden_words in by_context.get(golden_key(None, context)[1], []):
                words = _words(users[-1])
                union = words | golden_words
                score = len(words & golden_words) / len(union) if union else 1.0
                if score >= same_context_threshold:
                    keep(i, score, case_id, "question under its CONTEXT")
    return {i: f"{case_id}, near: {how} jaccard {score:.2f}" for i, (score, case_id, how) in sorted(found.items())}


def _messages(value: Any) -> list[dict[str, Any]]:
    return [m for m in value or [] if isinstance(m, dict)]


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == "assistant"]


def record_parts(set_name: str, record: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(prompt messages, reply texts) of a training record: what leakage compares with the golden set."""
    if set_name == "sft":
        messages = _messages(record.get("messages"))
        return messages[:-1], _texts(messages[-1:])
    prompt = _messages(record.get("prompt"))
    if set_name == "preference":
        return prompt, _texts(_messages(record.get("chosen"))) + _texts(_messages(record.get("rejected")))
    return prompt, _texts(_messages(record.get("completion")))
