"""Seed 001's curriculum records from SQuAD v2: extractive answers and written refusals.

An answerable question's reply is the annotated span: it must occur in the CONTEXT passage, or the
record would teach the model to answer from outside its context (`answer_not_in_context`). An
unanswerable question arrives with no reply (the squad_v2 adapter leaves it empty on purpose): the
reply trained is a refusal in the assistant's own words, composed from parts: an opener
(`build.refusal_openers`), a core (`build.refusal_templates`) and a closer (`build.refusal_closers`),
each chosen by a hash of the seed and the message, so phrasings vary across records yet the same input
always gets the same one. A core may name what was asked: `{question}` (the user's question as asked)
and `{title}` (the article's title from CONTEXT, SQuAD's `title`; cores naming it are skipped when the
CONTEXT has none). Variety then grows with the number of refusals, as seed 004's uniqueness gate asks:
six fixed sentences made 6 distinct replies however many refusals there were (on the real SQuAD v2
dev split's 3,168 unanswerables: `uniqueness_refusal` 0.0019; composed: 0.62). 6 of the 15 default
cores name the question, so the ratio stays above ~0.4 at any size. Every composed refusal must count
as a refusal for `logtune.refusal` (the definition evaluation scores with), which `check_templates`
enforces for every opener x core x closer when the params load.
"""

from __future__ import annotations

import json
import string
from typing import Any

from logtune.ids import content_id
from logtune.refusal import is_refusal

DEFAULT_REFUSALS = (
    "I couldn't find the answer to that in the provided context.",
    "I can't find that in the context I was given.",
    "that isn't in the context, so I can't answer it from there.",
    "I don't see any information about that in the context.",
    "the provided context has no information about that.",
    "I'm unable to find that in the passage provided.",
    "I couldn't find the answer to \"{question}\" in the passage.",
    "the passage doesn't answer \"{question}\": I can't find it anywhere in the text.",
    "I'm not able to find anything in the passage that answers \"{question}\"",
    "I can't find anything about \"{question}\" in the context I was given.",
    "the passage has no information on \"{question}\", so I can't answer it from there.",
    "I'm unable to find \"{question}\" answered anywhere in the passage.",
    "I read the passage about {title}, but I couldn't find what you asked there.",
    "the text on {title} has no information about that, so I can't answer it from the passage.",
    "there is no mention of that in the passage about {title}; I couldn't find the answer there.",
)
DEFAULT_OPENERS = ("", "Sorry, ", "Unfortunately, ", "I'm afraid ", "I checked, but ", "Looking at the passage, ")
DEFAULT_CLOSERS = ("", " If you have another source on it, I can look there.",
                   " Could you share a passage that covers it?", " It may be in a different document.",
                   " I'd rather not guess.")
_PLACEHOLDERS = ("question", "title")
_EXAMPLE = {"question": "Who gave their name to Normandy?", "title": "Normans"}


def _fields(template: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = names - set(_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"build.refusal_templates: {template!r} uses {{{sorted(unknown)[0]}}}; "
                         f"a core may use {{question}} and {{title}} only")
    return names


def compose(opener: str, core: str, closer: str, fields: dict[str, str]) -> str:
    """opener + core (its placeholders filled; its first letter lower-cased after an opener, except "I")
    + closer, ending on a full stop when the core ends on a quotation."""
    text = core.format(**fields)
    if opener and not text.startswith(("I ", "I'")):
        text = text[:1].lower() + text[1:]
    elif not opener:
        text = text[:1].upper() + text[1:]
    if text.endswith('"') and not text.endswith(('?"', '."', '!"')):
        text += "."
    elif not text.endswith((".", "?", "!", '"')):
        text += "."
    return opener + text + closer


def check_templates(templates: tuple[str, ...] | list[str], openers: tuple[str, ...] | list[str] = ("",),
                    closers: tuple[str, ...] | list[str] = ("",)) -> None:
    """ValueError unless there is at least one core, opener and closer, and each composition is a
    refusal by `logtune.refusal` (checked with an example question and title filled in)."""
    for name, parts in (("refusal_templates", templates), ("refusal_openers", openers),
                        ("refusal_closers", closers)):
        if not parts or not all(isinstance(p, str) for p in parts):
            raise ValueError(f"build.{name} must list at least one text")
    for t in templates:
        _fields(t)
        for opener in openers:
            for closer in closers:
                text = compose(opener, t, closer, _EXAMPLE)
                if not is_refusal(text):
                    raise ValueError(f"build.refusal_templates: {t!r} (as {text!r}) is not a refusal by "
                                     f"logtune.refusal.is_refusal")


def refusal_fields(question: str | None, context: str | None) -> dict[str, str]:
    """{question, title} of an unanswerable question: the question as asked (trimmed), the CONTEXT title
    ("" when it has none), underscores in SQuAD titles read as spaces."""
    title = ""
    try:
        obj = json.loads(context) if context else None
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("title"), str):
        title = " ".join(obj["title"].replace("_", " ").split())
    return {"question": " ".join((question or "").split()), "title": title}


def refusal_text(templates: tuple[str, ...] | list[str], seed: int, conversation_id: str, message_id: Any,
                 fields: dict[str, str] | None = None, openers: tuple[str, ...] | list[str] = ("",),
                 closers: tuple[str, ...] | list[str] = ("",)) -> str:
    """The refusal for one unanswerable question: a seeded, per-message choice of opener, core and closer.

    `fields` fills the cores' {question} / {title}; cores whose fields are empty are not chosen (a core
    that needs nothing is always available: `check_templates` ensures at least one template exists, and
    when every core needs a missing field the plain fallback DEFAULT_REFUSALS[0] is used)."""
    fields = fields or {}
    usable = [t for t in templates if all(fields.get(f) for f in _fields(t))]
    if not usable:
        usable = [DEFAULT_REFUSALS[0]]
    h = int(content_id("refusal", seed, conversation_id, message_id), 16)
    core = usable[h % len(usable)]
    h //= len(usable)
    opener = openers[h % len(openers)]
    h //= len(openers)
    closer = closers[h % len(closers)]
    return compose(opener, core, closer, fields)


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
