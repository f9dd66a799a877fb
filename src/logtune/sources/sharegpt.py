"""Source adapter for ShareGPT-style JSON (ShareGPT dumps, Glaive/LLaMA-Factory tool-call data).

Format: a record has `conversations`, a list of `{"from": ..., "value": ...}` turns, optional `id`,
optional `system` and `tools` (a JSON string, LLaMA-Factory style):

    {"id": "a1", "system": "Be brief.", "tools": "[{\\"name\\": \\"weather\\", \\"parameters\\": {}}]",
     "conversations": [{"from": "human", "value": "Weather in Oslo?"},
                       {"from": "function_call", "value": "{\\"name\\": \\"weather\\", \\"arguments\\": {}}"},
                       {"from": "observation", "value": "4C"}, {"from": "gpt", "value": "It is 4C."}]}

The path is one file or a folder (its `*.json`, `*.jsonl`, `*.jsonl.gz` files, sorted by name). A
`.json` file is ONE JSON document (a list of records, or one record) and is parsed whole; `.jsonl`
files are streamed line by line.

Mapping: one record -> one Conversation. Roles: human/user -> user, gpt/assistant/chatgpt/bard/bing/
model -> assistant, system -> system (leading ones become the system_prompt, after `system`),
function_call -> an assistant turn with canonical tool_calls (merged into a preceding gpt turn),
observation/function/tool -> a tool turn. source_id = the record's `id`, else `<file name>#<index>`
(`<file name>:<line>` for JSONL); message ids are the turn index. `tools` become CONTEXT
`{"tools": [...]}`. Fields other than these (e.g. per-turn sentiment or lexical analysis some dumps
add) are not mapped, and counted (see below). A record starting with a gpt turn (ShareGPT splits long chats into chunks) is kept
as it is: whether a reply without its question is trainable is for build to decide.

Feedback (LLaMA-Factory's own forms): a preference record (`conversations` + `chosen` / `rejected`,
each a `{"from": "gpt", "value": ...}` turn or text) ends with the chosen reply as an assistant turn whose
feedback_meta holds `{"rejected": ...}` (build makes the DPO pair from it); a KTO record's `kto_tag`
(true/false) is the last assistant turn's rating (+1/-1). Record or turn fields not mapped here (images,
per-turn analysis fields) are counted in the export metrics' `dropped_fields`, never dropped silently.

Quarantined per record: wrong_type (record not an object, turns not a list, value not text),
missing_field (no conversations / from / value), unknown_role, broken_tool_call, empty_conversation;
in a folder, a whole file that is not UTF-8 JSON is one quarantine (`file x.json`: invalid_utf8,
broken_json); a single-file path that is not JSON raises SourceError (a ValueError) naming it.

Options: `task_type` (default "chat"), `provenance` (default "real"; "synthetic" for generated sets
such as Glaive).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import SourceError, Unfit
from logtune.sources.chat import map_role, merge_same_role, tool_calls_json, tool_link_json, tools_context
from logtune.sources.items import (check_options, conversation, message, note, quarantine, RECORD_PREFIX_CHARS,
                                   UnknownRole)
from logtune.sources.json_document import load_json_document, load_json_records
from logtune.sources.jsonl import iter_json_lines, require_path

KIND = "sharegpt"
OPTIONS = ("task_type", "provenance")
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
         "bard": "assistant", "bing": "assistant", "model": "assistant", "system": "system",
         "function_call": "assistant", "observation": "tool", "function": "tool", "tool": "tool"}
SUFFIXES = (".json", ".jsonl", ".jsonl.gz")
# Record fields this adapter maps; any other is counted in the export metrics as dropped (e.g. images).
RECORD_FIELDS = ("id", "conversations", "system", "tools", "chosen", "rejected", "kto_tag")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per record, files in name order, records in file order."""
    opts = check_options(source_name, options, OPTIONS)
    path = require_path(path)
    if path.is_file():
        yield from _read_file(path, opts, source_name, in_folder=False)
        return
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
    for file in files:
        yield from _read_file(file, opts, source_name, in_folder=True)


def _read_file(path: Path, opts: dict, source_name: str, in_folder: bool) -> Iterator[dict]:
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        try:
            for item in iter_json_lines(path, KIND):
                if isinstance(item, dict):  # a quarantine item; good lines come as (line_no, value)
                    yield {**item, "location": f"file {path.name} {item['location']}"}
                else:
                    n, obj = item
                    yield _one(obj, f"{path.name}:{n}", f"file {path.name} line {n}", opts, source_name)
        except SourceError as e:
            if not in_folder:
                raise
            # One file of a folder that is not JSONL at all: quarantined like a broken .json file there.
            yield quarantine("broken_json", str(e), f"file {path.name}",
                                     path.read_bytes()[:RECORD_PREFIX_CHARS])
        return
    try:
        if path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):   # one record per file
            records = enumerate([load_json_document(path, KIND)])
        else:   # an array: records before and after a damaged stretch are still read
            records = load_json_records(path, KIND)
        for item in records:
            if isinstance(item, dict):
                yield {**item, "location": f"file {path.name} {item['location']}"}
                continue
            i, record = item
            yield _one(record, f"{path.name}#{i}", f"file {path.name} record {i}", opts, source_name)
    except ValueError as e:
        if not in_folder:
            raise
        reason = "invalid_utf8" if "not UTF-8" in str(e) else "broken_json"
        yield quarantine(reason, str(e), f"file {path.name}", path.read_bytes()[:RECORD_PREFIX_CHARS])


def _one(record: Any, fallback_id: str, location: str, opts: dict, source_name: str) -> dict:
    try:
        return record_to_conversation(record, fallback_id, opts, source_name)
    except Unfit as e:
        return quarantine(e.reason, str(e), location, record)


def record_to_conversation(record: Any, fallback_id: str, opts: dict, source_name: str) -> dict:
    """One ShareGPT record as a Conversation; raises Unfit with the quarantine reason."""
    if not isinstance(record, dict):
        raise Unfit("wrong_type", f"a record must be an object, got {type(record).__name__}")
    turns = record.get("conversations")
    if turns is None:
        raise Unfit("missing_field", "no `conversations`")
    if not isinstance(turns, list):
        raise Unfit("wrong_type", f"`conversations` is {type(turns).__name__}, not a list")
    messages, last_call = [], None
    dropped = [k for k in record if k not in RECORD_FIELDS]
    dropped += [f"conversations[].{k}" for t in turns if isinstance(t, dict) for k in t if k not in ("from", "value")]
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise Unfit("missing_field", f"turn {i} has no `from`/`value`")
        if not isinstance(turn["value"], str):
            raise Unfit("wrong_type", f"turn {i}: value is {type(turn['value']).__name__}, not text")
        try:
            role = map_role(turn["from"], ROLES)
        except UnknownRole as e:
            raise Unfit("unknown_role", f"turn {i}: {e}") from None
        if str(turn["from"]).lower() == "function_call":
            try:
                calls = tool_calls_json(turn["value"])
            except ValueError as e:
                raise Unfit("broken_tool_call", f"turn {i}: {e}") from None
            messages.append(message(role, "", id=i, tool_calls=calls))
            last_call = json.loads(calls)[-1]["function"]["name"] if calls else None
        elif role == "tool":  # ShareGPT has no call ids: an observation answers the call before it
            link = tool_link_json(None, last_call)
            messages.append(message(role, turn["value"], id=i, tool_calls=link))
        else:
            messages.append(message(role, turn["value"], id=i))
    if "chosen" in record or "rejected" in record:
        messages.append(_preference_reply(record, len(turns)))
    messages = merge_same_role(messages)
    if not any(m["role"] != "system" for m in messages):
        raise Unfit("empty_conversation", "no turns besides the system prompt")
    if "kto_tag" in record:
        if not isinstance(record["kto_tag"], bool):
            raise Unfit("wrong_type", f"`kto_tag` is {type(record['kto_tag']).__name__}, not true/false")
        last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
        if last is None:
            raise Unfit("missing_field", "`kto_tag` labels a reply, but no assistant turn is there")
        last["rating"] = 1 if record["kto_tag"] else -1
    try:
        context = tools_context(record.get("tools"))
    except ValueError as e:
        raise Unfit("wrong_type", f"`tools`: {e}") from None
    system = record.get("system")
    source_id = record.get("id")
    return note(conversation(
        source_name, str(source_id) if source_id is not None else fallback_id, messages,
        system_prompt=system if isinstance(system, str) and system.strip() else None, context=context,
        task_type=opts.get("task_type", "chat"), provenance=opts.get("provenance", "real"), status="ok"), dropped)


def _preference_reply(record: dict, index: int) -> dict:
    """LLaMA-Factory's preference form: the chosen reply as the final assistant turn, the rejected one in its
    feedback_meta (`{"rejected": ...}`, as hh_rlhf writes it, so build makes the DPO pair)."""
    texts = {}
    for side in ("chosen", "rejected"):
        value = record.get(side)
        if value is None:
            raise Unfit("missing_field", f"`{side}` is missing beside `{'rejected' if side == 'chosen' else 'chosen'}`")
        if isinstance(value, dict):
            if value.get("from") is not None and ROLES.get(str(value["from"]).lower()) != "assistant":
                raise Unfit("wrong_type", f"`{side}` is not an assistant turn (from {value.get('from')!r})")
            value = value.get("value")
        if not isinstance(value, str):
            raise Unfit("wrong_type", f"`{side}` is {type(value).__name__}, not a turn or text")
        texts[side] = value
    return message("assistant", texts["chosen"], id=index, feedback_meta={"rejected": texts["rejected"]})
