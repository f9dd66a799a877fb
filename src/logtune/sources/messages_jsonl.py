"""Source adapter for chat JSONL: OpenAI fine-tuning files and TRL's conversational format.

Format: one JSON object per line (`.jsonl`, or `.jsonl.gz`), streamed line by line:

    {"id": "t1", "messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Weather in Oslo?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "4C"},
      {"role": "assistant", "content": "It is 4C.", "weight": 1}],
     "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}]}

TRL's prompt-completion form (`{"prompt": [...], "completion": [...]}`) is read as prompt + completion.

Mapping: one line -> one Conversation. source_id = the line's `id` field (option `id_field`) or
`<file name>:<line number>`; message ids are the turn index. Leading system turns become the
system_prompt (`developer` counts as system, legacy `function` as tool); content given as a list of
parts keeps its text parts. Assistant `tool_calls` become the canonical tool-call JSON (see `_shared`);
a tool turn's `tool_call_id`/`name` is kept in its tool_calls column. `tools` become the CONTEXT
`{"tools": [...]}`. An assistant `weight` (OpenAI: 0 = do not train on this turn) is kept in
feedback_meta `{"weight": 0}`. Consecutive user or assistant turns are merged.

Quarantined (one item per line, never dropped): invalid_utf8, broken_json, wrong_type (line is not
an object, messages not a list, content not text), missing_field (no messages), unknown_role,
broken_tool_call, orphan_reply (a tool turn answering a call id no earlier assistant turn made),
empty_conversation.

Options: `task_type` (default "chat"), `provenance` (default "real"; "synthetic" for generated data),
`id_field` (default "id").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources import _shared

KIND = "messages_jsonl"
OPTIONS = ("task_type", "provenance", "id_field")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per non-blank line, in file order."""
    opts = _shared.check_options(source_name, options, OPTIONS)
    path = _shared.require_path(path)
    if path.is_dir():
        raise _shared.SourceError(f"{path}: not a {KIND} file: it is a folder")
    yield from _shared.map_json_lines(path, KIND, lambda n, obj: record_to_conversation(obj, f"{path.name}:{n}", opts, source_name))


def record_to_conversation(obj: Any, fallback_id: str, opts: dict, source_name: str) -> dict:
    """One JSONL record as a Conversation; raises Unfit with the quarantine reason."""
    if not isinstance(obj, dict):
        raise _shared.Unfit("wrong_type", f"a line must be a JSON object, got {type(obj).__name__}")
    if "messages" in obj:
        turns = obj["messages"]
    elif "prompt" in obj and "completion" in obj:
        turns = obj["prompt"] + obj["completion"] if isinstance(obj["prompt"], list) and isinstance(
            obj["completion"], list) else None
    else:
        raise _shared.Unfit("missing_field", "no `messages` (nor `prompt` + `completion`)")
    if not isinstance(turns, list):
        raise _shared.Unfit("wrong_type", "`messages` must be a list")
    messages = _shared.openai_messages(turns)
    if not any(m["role"] != "system" for m in messages):
        raise _shared.Unfit("empty_conversation", "no user, assistant or tool turn")
    try:
        context = _shared.tools_context(obj.get("tools"))
    except ValueError as e:
        raise _shared.Unfit("wrong_type", f"`tools`: {e}") from None
    source_id = obj.get(opts.get("id_field", "id"))
    return _shared.conversation(
        source_name, str(source_id) if source_id is not None else fallback_id, messages,
        task_type=opts.get("task_type", "chat"), provenance=opts.get("provenance", "real"), context=context,
        status="ok")
