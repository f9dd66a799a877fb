"""Hallucination (seed 000): ids, titles, people and dates in the reply that nothing in the case grounds.

A span is *grounded* when it occurs as a whole token sequence (not inside a longer word or number) in
the case's grounding text: the CONTEXT (its JSON text, keys and values), `expected.allowed_ids`, and,
when `allow_prompt_ids`, the conversation's earlier turns (an id the user typed is not invented: "I
can't find PRJ-9999" is a good refusal). Whole-token matching matters: CONTEXT holding `PRJ-1042` does
not ground `PRJ-104`, and `Dana Larsen` does not ground `Dana Lars`.

Spans are found by regex patterns per kind (params `evaluate.id_patterns` for ids,
`evaluate.hallucination_patterns` {kind: [regex]} for the rest; a pattern with a group reports
group 1, so a title can be "the quoted text"). Defaults: dates `YYYY-MM-DD`, people two capitalised
words, titles in double quotes.

Per case:
- `hallucinated_id_rate`: 1 when the reply cites at least one id that is not grounded, else 0;
- `hallucination_rate`: 1 when the reply holds any ungrounded span of any kind (ids included), else 0.
Not for judging whether a grounded fact is the RIGHT one (task accuracy does that).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

DEFAULT_PATTERNS: dict[str, list[str]] = {
    "date": [r"\b\d{4}-\d{2}-\d{2}\b"],
    "person": [r"\b[A-Z][a-z]+ [A-Z][a-z]+(?:-[A-Z][a-z]+)?\b"],
    "title": [r'"([^"]{3,80})"', r"“([^”]{3,80})”"],
}


def find_spans(text: str | None, patterns: Iterable[str]) -> list[str]:
    """Every match of the patterns (group 1 when a pattern has one), sorted and unique."""
    found: set[str] = set()
    for pattern in patterns:
        for m in re.finditer(pattern, text or ""):
            found.add(m.group(1) if m.re.groups else m.group(0))
    return sorted(s for s in found if s.strip())


def find_ids(text: str | None, id_patterns: Iterable[str]) -> list[str]:
    """Every whole id the patterns match in `text`, sorted and unique."""
    return find_spans(text, id_patterns)


def grounding_text(case, allow_prompt_ids: bool) -> str:
    """What may ground a span: CONTEXT JSON (tools included), allowed ids, earlier turns (optional)."""
    parts = [json.dumps(case.shown_context, ensure_ascii=False)] if case.shown_context is not None else []
    parts += list(case.allowed_ids)
    if allow_prompt_ids:
        parts += [m["content"] for m in case.messages]
    return "\n".join(parts)


def is_grounded(span: str, grounding: str) -> bool:
    """`span` occurs in `grounding` as a whole token sequence (case-insensitive)."""
    return re.search(r"(?<![\w-])" + re.escape(span) + r"(?![\w-]*\w)", grounding, re.IGNORECASE) is not None


def grounded_ids(case, id_patterns: Iterable[str], *, allow_prompt_ids: bool) -> set[str]:
    """Ids the reply may cite: whole ids found in the grounding text (see `grounding_text`)."""
    return set(find_ids(grounding_text(case, allow_prompt_ids), id_patterns))


def ungrounded(case, reply: str | None, patterns: dict[str, list[str]], *,
               allow_prompt_ids: bool) -> dict[str, list[str]]:
    """{kind: spans in the reply that nothing in the case grounds}, kinds with none left out.

    `patterns` must hold "id"; ids are compared as whole ids found by the same patterns in the
    grounding text, every other kind by `is_grounded`.
    """
    grounding = grounding_text(case, allow_prompt_ids)
    out: dict[str, list[str]] = {}
    ids_ok = set(find_ids(grounding, patterns.get("id", [])))
    bad_ids = [i for i in find_ids(reply, patterns.get("id", [])) if i not in ids_ok]
    if bad_ids:
        out["id"] = bad_ids
    for kind in sorted(k for k in patterns if k != "id"):
        bad = [s for s in find_spans(reply, patterns[kind]) if not is_grounded(s, grounding)
               and not any(s in i for i in bad_ids)]
        if bad:
            out[kind] = bad
    return out


def hallucination_scores(found: dict[str, list[str]]) -> dict[str, Any]:
    return {"hallucinated_id_rate": float(bool(found.get("id"))), "hallucination_rate": float(bool(found))}
