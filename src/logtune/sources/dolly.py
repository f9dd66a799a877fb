"""Source adapter for databricks-dolly-15k style instruction data (JSONL, human-written).

Format, one JSON object per line:
    {"instruction": "When did Virgin Australia start operating?", "context": "Virgin Australia ... commenced
     services on 31 August 2000 ...", "response": "Virgin Australia commenced services on 31 August 2000.",
     "category": "closed_qa"}

Mapping: one conversation per line. user = instruction, assistant = response, task_type = category
(option `task_type` overrides; "general" when a line has none), Conversation `context` =
{"text": context} as JSON text when the line
has a non-empty context (so it is shown the same way the support assistant's CONTEXT is), else None.
Dolly has no ids: source_id = "<file name>:<line number>". provenance "real" (people wrote it).
No feedback: ratings are None. Nothing else is dropped; unknown extra keys are ignored.
Quarantined lines: invalid_utf8, broken_json, wrong_type (not an object, or a field of the wrong
type), missing_field (instruction or response missing), empty_conversation (blank instruction or response).

Options: `task_type` (str, overrides category), `provenance` (default "real").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources.items import check_fields, check_options, conversation, message, note, quarantine, unmapped
from logtune.sources.jsonl import map_json_lines

KIND = "dolly"


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per non-blank line, in file order."""
    opts = check_options(source_name, options, {"task_type", "provenance"})
    name = Path(path).name
    yield from map_json_lines(path, KIND, lambda line_no, row: _instruction(row, line_no, name, opts, source_name))


def _instruction(row: Any, line_no: int, name: str, opts: dict[str, Any], source_name: str) -> dict[str, Any]:
    problem = check_fields(row, {"instruction": str, "response": str}, {"context": str, "category": str})
    if problem:
        return quarantine(*problem, f"line {line_no}", row)
    if not row["instruction"].strip() or not row["response"].strip():
        return quarantine("empty_conversation", "instruction or response is blank", f"line {line_no}", row)
    context = (row.get("context") or "").strip()
    return note(conversation(
        source_name, f"{name}:{line_no}",
        [message("user", row["instruction"]), message("assistant", row["response"])],
        task_type=opts.get("task_type") or row.get("category") or "general",
        context={"text": context} if context else None,
        provenance=opts.get("provenance", "real"),
    ), unmapped(row, ("instruction", "context", "response", "category")))
