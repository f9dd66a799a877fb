"""Seed 001's curriculum records from SQuAD v2: extractive answers and written refusals.

An answerable question's reply is the annotated span: it must occur in the CONTEXT passage, or the
record would teach the model to answer from outside its context (`answer_not_in_context`). An
unanswerable question arrives with no reply (the squad_v2 adapter leaves it empty on purpose): the
reply trained is a refusal in the assistant's own words, one of `build.refusal_templates` chosen by a
hash of the seed and the message, so phrasings vary across records yet the same input always gets
the same one. Every template must count as a refusal for `logtune.refusal` (the definition evaluation
scores with), which `check_templates` enforces when the params load.
"""

from __future__ import annotations

import json
from typing import Any

from logtune.ids import content_id
from logtune.refusal import is_refusal

DEFAULT_REFUSALS = (
    "I couldn't find the answer to that in the provided context.",
    "Sorry, I can't find that in the context I was given.",
    "That isn't in the context, so I can't answer it from there.",
    "I don't see any information about that in the context.",
    "The provided context has no information about that.",
    "I'm unable to find that in the passage provided.",
)


def check_templates(templates: tuple[str, ...] | list[str]) -> None:
    """ValueError unless there is at least one template and each is a refusal by `logtune.refusal`."""
    if not templates:
        raise ValueError("build.refusal_templates must list at least one refusal")
    for t in templates:
        if not isinstance(t, str) or not is_refusal(t):
            raise ValueError(f"build.refusal_templates: {t!r} is not a refusal by logtune.refusal.is_refusal")


def refusal_text(templates: tuple[str, ...] | list[str], seed: int, conversation_id: str, message_id: Any) -> str:
    """The refusal for one unanswerable question: a seeded, per-message choice among the templates."""
    index = int(content_id("refusal", seed, conversation_id, message_id), 16) % len(templates)
    return templates[index]


def passage(context: str | None) -> str:
    """The text an extractive answer must come from: CONTEXT `text` (SQuAD), else the whole CONTEXT JSON."""
    if not context:
        return ""
    try:
        obj = json.loads(context)
    except ValueError:
        return context
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return obj["text"]
    return context


def answer_in_context(answer: str, context: str | None) -> bool:
    """The span occurs in the passage verbatim (SQuAD answers are character spans of it)."""
    return bool(answer.strip()) and answer.strip() in passage(context)
