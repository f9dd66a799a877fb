"""Source adapter for seed 004's typed dataset records (JSONL: chat, qa, preference, knowledge, memory, trajectory).

Format, one record per line; `input` holds 0-3 previous turns as "User:"/"Assistant:" lines:
    {"id": "c_real_0001", "record_type": "chat", "input": "User: I missed yesterday's deadline.\\nAssistant:
     Let's reset with essentials.\\nUser: I only have 2 hours now, what first?", "output": "Start with ..."}
    {"id": "p_0001", "record_type": "preference", "input": "User: Summarise my week.", "chosen": "You shipped ...",
     "rejected": "Week good."}

Mapping: one conversation per line, task_type = record_type, source_id = id (or "<file name>:<line
number>" when absent). `input` (or `prompt`) is split at line starts labelled "User:", "Assistant:" or
"System:" into user/assistant/system messages (a turn keeps its continuation lines); an input with no
such labels (a bare question, a knowledge snippet) becomes one user message; a blank input gives none.
The final assistant message is `output`, or for preference records `chosen` (falling back to
`output`) with feedback_meta {"rejected": "..."}; an output that is an object or list (trajectories,
memory entries) becomes its JSON text. provenance = the record's own `provenance` field when it is
real/synthetic/rewritten, else option `provenance`, default "synthetic" (seed 004's v8 dataset is a
synthetic profile; its real-chat records should say so themselves, since the real-data share gate counts them).
Other fields are ignored. Quarantined lines: invalid_utf8, broken_json, wrong_type, missing_field
(record_type, output / chosen, a preference without rejected), unknown_record_type, empty_conversation
(blank output), duplicate_id (an `id` seen on an earlier line: two conversations with one source id
would share a conversation id; the first is kept).

Options: `provenance` (default "synthetic"), `record_types` (the accepted types; default the six above).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources.chat import split_transcript
from logtune.sources.items import check_fields, check_options, conversation, first_key, json_text, message, quarantine
from logtune.sources.jsonl import map_json_lines

KIND = "records_jsonl"
RECORD_TYPES = ("chat", "qa", "preference", "knowledge", "memory", "trajectory")
SPEAKERS = {"User": "user", "Assistant": "assistant", "System": "system"}
PROVENANCES = {"real", "synthetic", "rewritten"}
OUTPUT = (str, dict, list)


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per non-blank line, in file order."""
    opts = check_options(source_name, options, {"provenance", "record_types"})
    record_types = set(opts.get("record_types") or RECORD_TYPES)
    name = Path(path).name
    seen: dict[str, int] = {}          # source id -> the line that used it first

    def item(line_no: int, row: Any) -> dict[str, Any]:
        out = _record(row, f"line {line_no}", f"{name}:{line_no}", record_types, opts, source_name)
        if out.get("quarantine"):
            return out
        first = seen.setdefault(out["source_id"], line_no)
        if first != line_no:
            return quarantine("duplicate_id", f"id {out['source_id']!r} occurred before, on line {first}",
                              f"line {line_no}", row)
        return out

    yield from map_json_lines(path, KIND, item)


def history(text: str) -> list[tuple[str, str]]:
    """The (role, content) turns of an `input` history; unlabelled text is one user turn."""
    if not text.strip():
        return []
    return split_transcript(text, SPEAKERS, "\n") or [("user", text.strip())]


def _record(row: Any, where: str, fallback_id: str, record_types: set[str], opts: dict[str, Any],
            source_name: str) -> dict[str, Any]:
    problem = check_fields(row, {"record_type": str}, {"id": (str, int), "input": str, "prompt": str,
                                                       "output": OUTPUT, "chosen": OUTPUT, "rejected": OUTPUT})
    if problem:
        return quarantine(*problem, where, row)
    record_type = row["record_type"]
    if record_type not in record_types:
        return quarantine("unknown_record_type", f"record_type '{record_type}' is not one of "
                          f"{', '.join(sorted(record_types))}", where, row)
    meta = None
    if record_type == "preference":
        reply = first_key(row, "chosen", "output")
        if reply is None or row.get("rejected") is None:
            return quarantine("missing_field", "a preference record needs chosen (or output) and rejected", where, row)
        meta = {"rejected": _text(row["rejected"])}
    else:
        reply = row.get("output")
        if reply is None:
            return quarantine("missing_field", "field 'output' is missing", where, row)
    reply = _text(reply)
    if not reply.strip():
        return quarantine("empty_conversation", "the output is blank", where, row)
    messages = [message(role, content) for role, content in history(first_key(row, "input", "prompt") or "")]
    messages.append(message("assistant", reply, feedback_meta=meta))
    provenance = row.get("provenance") if row.get("provenance") in PROVENANCES else opts.get("provenance", "synthetic")
    source_id = str(row["id"]) if row.get("id") is not None else fallback_id
    return conversation(source_name, source_id, messages, task_type=record_type, provenance=provenance)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json_text(value)
