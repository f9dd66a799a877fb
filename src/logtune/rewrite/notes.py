"""The `notes` rewrite task (issue #18, seed 004): plain notes -> grounded user-assistant exchanges.

Takes each curated note (a conversation the `notes` source kind made: one assistant message, context
{"note": {file, title, line}}), asks for up to `rewrite.notes.per_note` questions a user would ask whose
answers the note gives, and checks every exchange before it becomes an SFT record:
  - the output is JSON {"exchanges": [{"question": ..., "answer": ...}, ...]}, 1..per_note of them
    (`unparseable_output`, `too_many_exchanges`, `empty_output`);
  - grounding: every id (`rewrite.id_patterns`), date and number in the answer or the question occurs in
    the note (`invented_id`, `ungrounded_date`, `ungrounded_number`);
  - the answer has min_words..max_words words (`too_short` / `too_long`); no PII (`pii`);
  - two exchanges never ask the same question (`duplicate_question`).
One failure rejects the note's whole output (reason counted in metrics/rewrite.json). Each exchange kept
is an SFT record: record_type `knowledge` (a question answered from what the assistant should know),
phase conversational, provenance `synthetic`, rule `llm_note_exchange`, conversation_id and message_ids
of the note (its lineage: mix keeps it on the note's side of the split; trace walks back to the file).
The offline provider's rule (deterministic): one exchange per sentence of the note that carries an id, a
date or a number (else the first sentences), the question naming the note's title and what the
sentence is about, the answer the sentence itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from logtune.ids import content_id
from logtune.rewrite import checks
from logtune.rewrite.checks import Failed
from logtune.rewrite.params import RewriteParams
from logtune.normalize import normalize_text

DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|"
                  r"Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def note_of(conversation: dict[str, Any]) -> dict[str, Any] | None:
    """{file, title, line} of a curated note conversation, None for any other conversation."""
    try:
        context = json.loads(conversation.get("context") or "null")
    except ValueError:
        return None
    note = context.get("note") if isinstance(context, dict) else None
    return note if isinstance(note, dict) and isinstance(note.get("title"), str) else None


def facts(text: str, patterns: Any) -> dict[str, set[str]]:
    """The ids, dates and numbers a text states (numbers inside dates and ids count as those, not apart)."""
    ids = checks.find_ids(text, patterns)
    dates = {m.group(0) for m in DATE.finditer(text)}
    rest = text
    for token in ids | dates:
        rest = rest.replace(token, " ")
    return {"id": ids, "date": dates, "number": {m.group(0) for m in NUMBER.finditer(rest)}}


def check_grounded(text: str, note: str, patterns: Any) -> None:
    """Every id, date and number in `text` occurs (whole) in `note`; Failed naming those that do not."""
    said, ids = facts(text, patterns), checks.find_ids(note, patterns)
    for kind, reason in (("id", "invented_id"), ("date", "ungrounded_date"), ("number", "ungrounded_number")):
        missing = sorted(v for v in said[kind] if (v not in ids if kind == "id" else
                                                   not re.search(rf"(?<![\w.]){re.escape(v)}(?!\w)", note)))
        if missing:
            raise Failed(reason, ", ".join(missing))


def offline(title: str, text: str, per_note: int, patterns: Any) -> str:
    """The deterministic rule: one exchange per fact-bearing sentence (else the first), as the JSON asked for."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    sentences = [s.strip(" -*\t") for s in SENTENCE.split(body) if len(s.strip(" -*\t").split()) >= 3]
    with_facts = [s for s in sentences if any(facts(s, patterns).values())]
    chosen = (with_facts or sentences)[:per_note]
    exchanges = []
    for s in chosen:
        found = facts(s, patterns)
        subject = next(iter(sorted(found["id"])), None) or next(iter(sorted(found["date"])), None)
        question = f"What do the {title} notes say about {subject}?" if subject else f"What do the {title} notes say?"
        if any(normalize_text(question) == normalize_text(e["question"]) for e in exchanges):
            question = f"{question[:-1]}, point {len(exchanges) + 1}?"
        exchanges.append({"question": question, "answer": s})
    return json.dumps({"exchanges": exchanges}, ensure_ascii=False)


def exchanges(text: str, note: str, p: RewriteParams) -> list[tuple[str, str]]:
    """The checked (question, answer) pairs of a provider's output; Failed on the first problem."""
    q = p.notes
    items = checks.parse_json_object(text, ["exchanges"])["exchanges"]
    if not isinstance(items, list) or not all(isinstance(e, dict) and isinstance(e.get("question"), str)
                                              and isinstance(e.get("answer"), str) for e in items):
        raise Failed("unparseable_output", "exchanges must be a list of {question, answer} text objects")
    if not items:
        raise Failed("empty_output", "no exchange")
    if len(items) > q.per_note:
        raise Failed("too_many_exchanges", f"{len(items)} > rewrite.notes.per_note {q.per_note}")
    out, seen = [], set()
    for e in items:
        question, answer = e["question"].strip(), e["answer"].strip()
        if not question or not answer:
            raise Failed("empty_output", "a blank question or answer")
        words = len(answer.split())
        if words < q.min_words:
            raise Failed("too_short", f"{words} words < {q.min_words}")
        if words > q.max_words:
            raise Failed("too_long", f"{words} words > {q.max_words}")
        for part in (question, answer):
            check_grounded(part, note, p.id_patterns)
            checks.check_pii(part)
        key = normalize_text(question)
        if key in seen:
            raise Failed("duplicate_question", question)
        seen.add(key)
        out.append((question, answer))
    return out


def record_id(source_id: str, index: int, question: str) -> str:
    return content_id("rewrite", "notes", source_id, index, question)
