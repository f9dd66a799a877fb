"""Source adapter for Anthropic HH-RLHF preference transcripts (JSONL, gzip or plain: detected by magic bytes).

Format, one JSON object per line, two full transcripts that differ only in the last assistant reply:
    {"chosen":   "\\n\\nHuman: a pen trick?\\n\\nAssistant: Draw.\\n\\nHuman: more\\n\\nAssistant: Sketch a cat.",
     "rejected": "\\n\\nHuman: a pen trick?\\n\\nAssistant: Draw.\\n\\nHuman: more\\n\\nAssistant: Prank someone."}

Mapping: one conversation per line: the shared turns (Human -> user, Assistant -> assistant, each
stripped of surrounding whitespace) followed by the chosen final reply as the last assistant message,
which keeps the rejected reply in feedback_meta {"rejected": "..."}; rating None (a comparison is not
a thumb). source_id = "<file name>:<line number>"; provenance "real"; task_type option (default "chat").
Quarantined lines: invalid_utf8, broken_json, wrong_type, missing_field (chosen/rejected),
bad_transcript (text before the first "Human:"/"Assistant:" label, or no label at all),
no_shared_prompt (the two transcripts differ before their final reply, or one does not end in an
assistant turn: about 5 lines of 2,312 in harmless-base-test, where a transcript was truncated),
empty_reply (the chosen final reply is blank).

Options: `task_type` (default "chat"), `provenance` (default "real").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources.chat import split_transcript
from logtune.sources.items import check_fields, check_options, conversation, message, note, quarantine, unmapped
from logtune.sources.jsonl import map_json_lines

KIND = "hh_rlhf"
SPEAKERS = {"Human": "user", "Assistant": "assistant"}


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per non-blank line, in file order."""
    opts = check_options(source_name, options, {"task_type", "provenance"})
    name = Path(path).name
    yield from map_json_lines(path, KIND, lambda line_no, row: _pair(row, line_no, name, opts, source_name))


def _pair(row: Any, line_no: int, name: str, opts: dict[str, Any], source_name: str) -> dict[str, Any]:
    where = f"line {line_no}"
    problem = check_fields(row, {"chosen": str, "rejected": str})
    if problem:
        return quarantine(*problem, where, row)
    chosen = split_transcript(row["chosen"], SPEAKERS, "\n\n")
    rejected = split_transcript(row["rejected"], SPEAKERS, "\n\n")
    if chosen is None or rejected is None:
        which = "chosen" if chosen is None else "rejected"
        return quarantine("bad_transcript", f"the {which} transcript has no Human:/Assistant: turns at its start",
                          where, row)
    if chosen[:-1] != rejected[:-1] or chosen[-1][0] != "assistant" or rejected[-1][0] != "assistant":
        return quarantine("no_shared_prompt", "chosen and rejected do not share the turns before a final "
                          "assistant reply", where, row)
    if not chosen[-1][1]:
        return quarantine("empty_reply", "the chosen final reply is blank", where, row)
    messages = [message(role, content) for role, content in chosen[:-1]]
    messages.append(message("assistant", chosen[-1][1], feedback_meta={"rejected": rejected[-1][1]}))
    return note(conversation(source_name, f"{name}:{line_no}", messages, task_type=opts.get("task_type", "chat"),
                             provenance=opts.get("provenance", "real")), unmapped(row, ("chosen", "rejected")))
