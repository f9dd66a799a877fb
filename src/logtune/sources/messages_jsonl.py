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
parts keeps its text parts. Assistant `tool_calls` become the canonical tool-call JSON (see `logtune.sources.chat`);
a tool turn's `tool_call_id`/`name` is kept in its tool_calls column. `tools` become the CONTEXT
`{"tools": [...]}`. An assistant `weight` (OpenAI: 0 = do not train on this turn) is kept in
feedback_meta `{"weight": 0}`. Consecutive user or assistant turns are merged.

Feedback: a KTO `label` (true/false; LLaMA-Factory's and TRL's unpaired form) is the last assistant
turn's rating (+1/-1); TRL's preference form (`prompt` + `chosen` + `rejected`, lists of turns) ends
with the chosen turns, the rejected reply's text in the last assistant turn's feedback_meta
`{"rejected": ...}`. A file that is one JSON array (LLaMA-Factory's `kto_en_demo.json`) is read as
records. Record or turn fields not mapped here are counted in the export metrics' `dropped_fields`.

Quarantined (one item per line, never dropped): invalid_utf8, broken_json, wrong_type (line is not
an object, messages not a list, content not text), missing_field (no messages), unknown_role,
broken_tool_call, orphan_reply (a tool turn answering a call id no earlier assistant turn made),
empty_conversation.

Options: `task_type` (default "chat"), `provenance` (default "real"; "synthetic" for generated data),
`id_field` (default "id").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import SourceError, Unfit
from logtune.sources.chat import openai_messages, text_of, tools_context
from logtune.sources.items import check_options, conversation, json_text, note, quarantine
from logtune.sources.json_document import load_json_records
from logtune.sources.jsonl import map_json_lines, open_maybe_gzip, require_path

KIND = "messages_jsonl"
OPTIONS = ("task_type", "provenance", "id_field")
# turn fields the mapping reads; any other is counted as a dropped field in the export metrics
TURN_FIELDS = ("role", "content", "tool_calls", "function_call", "tool_call_id", "name", "weight")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per non-blank line, in file order."""
    opts = check_options(source_name, options, OPTIONS)
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {KIND} file: it is a folder")
    to_item = lambda n, obj: record_to_conversation(obj, f"{path.name}:{n}", opts, source_name)  # noqa: E731
    with open_maybe_gzip(path) as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        yield from map_json_lines(path, KIND, to_item)
        return
    # One JSON array of records (LLaMA-Factory ships its KTO demo so): read as such, damage recovered around.
    for item in load_json_records(path, KIND):
        if isinstance(item, dict):
            yield item
            continue
        i, obj = item
        try:
            yield record_to_conversation(obj, f"{path.name}#{i}", opts, source_name)
        except Unfit as e:
            yield quarantine(e.reason, str(e), f"record {i}", obj)


def record_to_conversation(obj: Any, fallback_id: str, opts: dict, source_name: str) -> dict:
    """One JSONL record as a Conversation; raises Unfit with the quarantine reason."""
    if not isinstance(obj, dict):
        raise Unfit("wrong_type", f"a line must be a JSON object, got {type(obj).__name__}")
    rejected = None
    if "messages" in obj:
        turns = obj["messages"]
    elif "prompt" in obj and "completion" in obj:
        turns = obj["prompt"] + obj["completion"] if isinstance(obj["prompt"], list) and isinstance(
            obj["completion"], list) else None
    elif "chosen" in obj and "rejected" in obj:    # TRL's conversational preference form
        prompt, chosen, rejected = obj.get("prompt") or [], obj["chosen"], obj["rejected"]
        if not all(isinstance(x, list) for x in (prompt, chosen, rejected)):
            raise Unfit("wrong_type", "`prompt`, `chosen` and `rejected` must be lists of turns")
        turns = prompt + chosen
        rejected = text_of((rejected[-1] if rejected and isinstance(rejected[-1], dict) else {}).get("content"))
        if rejected is None:
            raise Unfit("wrong_type", "the rejected reply has no text")
    else:
        raise Unfit("missing_field", "no `messages` (nor `prompt` + `completion`, nor `chosen` + `rejected`)")
    if not isinstance(turns, list):
        raise Unfit("wrong_type", "`messages` must be a list")
    messages = openai_messages(turns)
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if rejected is not None:
        if last is None:
            raise Unfit("missing_field", "`chosen` holds no assistant turn")
        last["feedback_meta"] = json_text({**json.loads(last["feedback_meta"] or "{}"), "rejected": rejected})
    if "label" in obj:   # KTO (LLaMA-Factory, TRL): the label rates the final reply
        if not isinstance(obj["label"], bool):
            raise Unfit("wrong_type", f"`label` is {type(obj['label']).__name__}, not true/false")
        if last is None:
            raise Unfit("missing_field", "`label` rates a reply, but no assistant turn is there")
        last["rating"] = 1 if obj["label"] else -1
    if not any(m["role"] != "system" for m in messages):
        raise Unfit("empty_conversation", "no user, assistant or tool turn")
    try:
        context = tools_context(obj.get("tools"))
    except ValueError as e:
        raise Unfit("wrong_type", f"`tools`: {e}") from None
    source_id = obj.get(opts.get("id_field", "id"))
    known = {opts.get("id_field", "id"), "messages", "prompt", "completion", "chosen", "rejected", "label", "tools"}
    dropped = [k for k in obj if k not in known]
    dropped += [f"messages[].{k}" for t in turns if isinstance(t, dict) for k in t if k not in TURN_FIELDS]
    return note(conversation(
        source_name, str(source_id) if source_id is not None else fallback_id, messages,
        task_type=opts.get("task_type", "chat"), provenance=opts.get("provenance", "real"), context=context,
        status="ok"), dropped)
