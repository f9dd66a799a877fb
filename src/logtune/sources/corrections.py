"""Source adapter for seed 002's tool-call corrections (JSONL: a known error pattern, the wrong output, the fix).

Format, one correction per line (the documented patterns: `"action"` instead of `"tool"`,
`tool="none"` not recognised, a plan printed as a Python dict, a wrong count from tool output, ...):
    {"id": "corr-003", "pattern": "action_instead_of_tool", "prompt": "check disk on web-1",
     "wrong": "{\\"action\\": \\"ssh\\", \\"args\\": {\\"host\\": \\"web-1\\", \\"cmd\\": \\"df -h\\"}}",
     "fix": "{\\"tool\\": \\"ssh\\", \\"args\\": {\\"host\\": \\"web-1\\", \\"cmd\\": \\"df -h\\"}}",
     "context": {"agents": ["web-1"]}, "task_type": "tool_use"}

Mapping: one conversation per line: user = the prompt (when there is one: a correction may carry only
the outputs, then the conversation is the assistant message alone), assistant = the wrong output
with rating -1 and rewrite = the fix (so build turns it into a DPO pair: fix chosen, wrong rejected),
feedback_meta {"pattern": ..., "explanation": ...}; wrong/fix given as JSON objects become their JSON
text. task_type from the record, else option `task_type` (default "tool_use"); context (object ->
JSON text, text -> {"text": ...}); source_id = id or "<file name>:<line number>". provenance defaults to
"synthetic" (seed 002 generates them: generate_corrections.py --multiply 10); option or a record's
own `provenance` field says otherwise.
Field spellings accepted (first present wins): id; pattern | error_pattern | issue;
wrong | wrong_output | incorrect | bad_output | rejected; fix | fixed | correct | correct_output |
corrected | chosen; prompt | user_prompt | user | input; context; explanation | note; task_type | taskType.
Quarantined lines: invalid_utf8, broken_json, wrong_type, missing_field (no wrong output or no fix),
empty_conversation (wrong or fix blank).

Options: `task_type` (default "tool_use"), `provenance` (default "synthetic").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources.items import (check_options, conversation, json_text, message, note, quarantine, spelled_fields,
                                   unmapped)
from logtune.sources.jsonl import map_json_lines

KIND = "corrections"
SPELLINGS = {
    "id": ("id",),
    "pattern": ("pattern", "error_pattern", "issue"),
    "wrong": ("wrong", "wrong_output", "incorrect", "bad_output", "rejected"),
    "fix": ("fix", "fixed", "correct", "correct_output", "corrected", "chosen"),
    "prompt": ("prompt", "user_prompt", "user", "input"),
    "context": ("context",),
    "explanation": ("explanation", "note"),
    "task_type": ("task_type", "taskType"),
    "provenance": ("provenance",),
}
OUTPUT = (str, dict, list)
TYPES = {"id": (str, int), "pattern": str, "prompt": str, "context": (dict, list, str), "explanation": str,
         "task_type": str, "provenance": str}
PROVENANCES = {"real", "synthetic", "rewritten"}


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per non-blank line, in file order."""
    opts = check_options(source_name, options, {"task_type", "provenance"})
    name = Path(path).name
    yield from map_json_lines(path, KIND, lambda line_no, row: _correction(row, line_no, name, opts, source_name))


def _correction(row: Any, line_no: int, name: str, opts: dict[str, Any], source_name: str) -> dict[str, Any]:
    where = f"line {line_no}"
    fix = spelled_fields(row, SPELLINGS, {"wrong": OUTPUT, "fix": OUTPUT}, TYPES, where)
    if fix.get("quarantine"):
        return fix
    wrong, fixed = _text(fix["wrong"]), _text(fix["fix"])
    if not wrong.strip() or not fixed.strip():
        return quarantine("empty_conversation", "the wrong output or the fix is blank", where, row)
    meta = {"pattern": fix["pattern"]}
    if fix["explanation"] is not None:
        meta["explanation"] = fix["explanation"]
    messages = [message("user", fix["prompt"])] if fix["prompt"] and fix["prompt"].strip() else []
    messages.append(message("assistant", wrong, rating=-1, rewrite=fixed, feedback_meta=meta))
    context = {"text": fix["context"]} if isinstance(fix["context"], str) else fix["context"]
    provenance = fix["provenance"] if fix["provenance"] in PROVENANCES else opts.get("provenance", "synthetic")
    source_id = str(fix["id"]) if fix["id"] is not None else f"{name}:{line_no}"
    task_type = fix["task_type"] or opts.get("task_type", "tool_use")
    spelled = {name for names in SPELLINGS.values() for name in names}
    return note(conversation(source_name, source_id, messages, task_type=task_type, context=context,
                             provenance=provenance), unmapped(row, spelled))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json_text(value)
