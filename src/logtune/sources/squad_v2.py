"""Source adapter for SQuAD v2.0 extractive QA (one JSON document, parsed whole: the format has no streaming form).

Format:
    {"version": "v2.0", "data": [{"title": "Normans", "paragraphs": [{"context": "The Normans ... in France ...",
      "qas": [{"id": "56ddde6b", "question": "In what country is Normandy located?", "is_impossible": false,
               "answers": [{"text": "France", "answer_start": 159}, ...]},
              {"id": "5ad39d53", "question": "Who gave their name to Normandy in the 1000's?", "is_impossible": true,
               "answers": [], "plausible_answers": [{"text": "Normans", "answer_start": 4}]}]}]}]}

Mapping: one conversation per question (source_id = the question id), Conversation `context` =
{"title": article title, "text": paragraph} as JSON text, user = the question.
- answerable: assistant = the first answer's text; its feedback_meta keeps every annotator answer
  {"answers": [{"text", "answer_start"}, ...]}; task_type "extractive".
- unanswerable (is_impossible): an assistant message with content None and feedback_meta
  {"unanswerable": true, "plausible_answers": [...]}; task_type "extractive_unanswerable". The content
  is left empty on purpose: the right reply is a refusal in the assistant's own words, which the build
  stage writes (with `logtune.refusal`), not this adapter.
provenance "real" (crowd-written). No ratings. Titles, answer spans and plausible answers are kept;
nothing else is in the format.
Quarantined questions (location "article 3 paragraph 2 question 5 (id ...)"): wrong_type, missing_field
(no id/question, no paragraph context, answerable with no answers), duplicate_id (an id seen before).
A paragraph or article of the wrong shape quarantines as one item (it holds no readable question).

Options: `task_type` (default "extractive"), `unanswerable_task_type` (default "extractive_unanswerable"),
`provenance` (default "real").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources.items import check_fields, check_options, conversation, message, note, quarantine, unmapped
from logtune.sources.json_document import load_json_records
from logtune.sources.jsonl import require_file

KIND = "squad_v2"


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per question, in document order."""
    opts = check_options(source_name, options, {"task_type", "unanswerable_task_type", "provenance"})
    path = require_file(path)
    seen: set[str] = set()
    for item in load_json_records(path, KIND, key="data"):
        if isinstance(item, dict):   # a damaged stretch of the file (whole articles), quarantined with its offsets
            yield item
            continue
        a, article = item[0] + 1, item[1]
        if check_fields(article, {"paragraphs": list}, {"title": str}):
            yield quarantine("wrong_type", "an article must be an object with a 'paragraphs' list",
                             f"article {a}", article)
            continue
        for p, paragraph in enumerate(article["paragraphs"], 1):
            if check_fields(paragraph, {"qas": list}):
                yield quarantine("wrong_type", "a paragraph must be an object with a 'qas' list",
                                 f"article {a} paragraph {p}", paragraph)
                continue
            for q, qa in enumerate(paragraph["qas"], 1):
                where = f"article {a} paragraph {p} question {q}"
                if isinstance(qa, dict) and qa.get("id") is not None:
                    where += f" (id {qa['id']})"
                yield _question(qa, paragraph.get("context"), article.get("title"), where, seen, opts, source_name)


def _question(qa: Any, text: Any, title: str | None, where: str, seen: set[str], opts: dict[str, Any],
              source_name: str) -> dict[str, Any]:
    problem = check_fields(qa, {"id": str, "question": str},
                           {"answers": list, "plausible_answers": list, "is_impossible": bool})
    if problem:
        return quarantine(*problem, where, qa)
    if not isinstance(text, str):
        return quarantine("missing_field", "the paragraph has no 'context' text", where, qa)
    if qa["id"] in seen:
        return quarantine("duplicate_id", f"question id {qa['id']} occurred before", where, qa)
    seen.add(qa["id"])
    answers = [{"text": a.get("text"), "answer_start": a.get("answer_start")}
               for a in qa.get("answers") or [] if isinstance(a, dict)]
    user = message("user", qa["question"], id=f"{qa['id']}:q")
    context = {"title": title, "text": text}
    if qa.get("is_impossible"):
        reply = message("assistant", None, id=f"{qa['id']}:a",
                        feedback_meta={"unanswerable": True, "plausible_answers": qa.get("plausible_answers") or []})
        task_type = opts.get("unanswerable_task_type", "extractive_unanswerable")
    else:
        if not answers or not isinstance(answers[0]["text"], str):
            return quarantine("missing_field", "an answerable question has no answer text", where, qa)
        reply = message("assistant", answers[0]["text"], id=f"{qa['id']}:a", feedback_meta={"answers": answers})
        task_type = opts.get("task_type", "extractive")
    return note(conversation(source_name, qa["id"], [user, reply], task_type=task_type, context=context,
                             provenance=opts.get("provenance", "real")),
                unmapped(qa, ("id", "question", "answers", "plausible_answers", "is_impossible")))
