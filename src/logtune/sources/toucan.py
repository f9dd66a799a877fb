"""Source kind `toucan`: Toucan-style MCP tool-agent trajectories (seed 002's existing tool-use data).

Format (Agent-Ark/Toucan-1.5M's columns, all text; a JSONL export of its Parquet, or the Parquet itself):
    {"uuid": "...", "subset_name": "single-turn-original", "question": "...",
     "messages": "[{\"role\": \"system\", ...}, {\"role\": \"user\", ...},
                   {\"role\": \"assistant\", \"content\": \"\", \"function_call\": {\"name\": \"srv-get_weather\",
                    \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}},
                   {\"role\": \"function\", \"name\": \"srv-get_weather\", \"content\": \"...\"}, ...]",
     "available_tools": "[{\"name\": ..., \"description\": ..., \"parameters\": {...}}]",
     "target_tools": "srv-get_weather", "question_quality_assessment": "{...}",
     "response_quality_assessment": "{...}", "metadata": "{...}"}
`messages` and `available_tools` may also be JSON values rather than JSON text.

Mapping: one conversation per trajectory, turns through the OpenAI/Qwen-Agent turn reader
(`openai_messages`: `function_call` or `tool_calls` -> canonical tool calls, `function`/`tool`
role -> tool results; a leading system turn becomes the system prompt); available_tools -> CONTEXT
{"tools": [...]} (what the model could call); the last assistant turn's feedback_meta keeps
{"toucan": {subset, target_tools, question_quality, response_quality}} (the assessments parsed when
they are JSON). source_id = uuid (else "<file>:<line>"); task_type option (default "agent");
provenance option, default "synthetic" (Toucan is generated data: the real-share gate must know).
`metadata` is not mapped (counted in dropped fields).
Quarantined: invalid_utf8, broken_json, wrong_type, missing_field (messages), broken_messages (messages
text that is no JSON list), broken_tools, unknown_role, broken_tool_call, orphan_reply, no_reply (no
assistant turn), duplicate_id.

Options: `task_type` (default "agent"), `provenance` (default "synthetic").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit
from logtune.sources.chat import openai_messages, tools_context
from logtune.sources.items import check_options, conversation, json_text, note, quarantine, spelled_fields, unmapped
from logtune.sources.jsonl import map_json_lines

KIND = "toucan"
SPELLINGS = {"id": ("uuid", "id"), "messages": ("messages",), "tools": ("available_tools", "tools"),
             "subset": ("subset_name", "subset"), "target_tools": ("target_tools",),
             "question_quality": ("question_quality_assessment",),
             "response_quality": ("response_quality_assessment",), "question": ("question",)}
TYPES = {"id": (str, int), "messages": (str, list), "tools": (str, list), "subset": str, "target_tools": (str, list),
         "question_quality": (str, dict), "response_quality": (str, dict), "question": str}


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """One conversation or quarantine item per trajectory, in file order."""
    opts = check_options(source_name, options, {"task_type", "provenance"})
    name, seen = Path(path).name, set()
    if Path(path).suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = (row for batch in pq.ParquetFile(path).iter_batches(batch_size=256) for row in batch.to_pylist())
        for n, row in enumerate(rows, 1):
            try:
                yield _trajectory(row, f"row {n}", f"{name}:{n}", opts, source_name, seen)
            except Unfit as e:
                yield quarantine(e.reason, str(e), f"row {n}", row)
        return
    yield from map_json_lines(path, KIND, lambda line_no, row: _trajectory(
        row, f"line {line_no}", f"{name}:{line_no}", opts, source_name, seen))


def _json(value: Any, reason: str, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as e:
        raise Unfit(reason, f"{what} is no JSON: {e}") from None


def _trajectory(row: Any, where: str, fallback_id: str, opts: dict[str, Any], source_name: str,
                seen: set[str]) -> dict[str, Any]:
    t = spelled_fields(row, SPELLINGS, {"messages": (str, list)}, TYPES, where)
    if t.get("quarantine"):
        return t
    source_id = str(t["id"]) if t["id"] is not None else fallback_id
    if source_id in seen:
        return quarantine("duplicate_id", f"uuid {source_id!r} came earlier", where, row)
    seen.add(source_id)
    turns = _json(t["messages"], "broken_messages", "messages")
    if not isinstance(turns, list):
        raise Unfit("broken_messages", f"messages must be a list, got {type(turns).__name__}")
    try:
        context = tools_context(t["tools"])
    except ValueError as e:
        raise Unfit("broken_tools", f"available_tools: {e}") from None
    messages = openai_messages(turns)
    replies = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not replies:
        raise Unfit("no_reply", "the trajectory has no assistant turn")
    meta = {"subset": t["subset"], "target_tools": t["target_tools"],
            "question_quality": _assessment(t["question_quality"]), "response_quality": _assessment(t["response_quality"])}
    meta = {k: v for k, v in meta.items() if v is not None}
    if meta:
        last = messages[replies[-1]]
        old = json.loads(last["feedback_meta"]) if last["feedback_meta"] else {}
        last["feedback_meta"] = json_text({**old, "toucan": meta})
    spelled = {n for names in SPELLINGS.values() for n in names}
    return note(conversation(source_name, source_id, messages, task_type=opts.get("task_type", "agent"),
                             context=context, provenance=opts.get("provenance", "synthetic")),
                unmapped(row, spelled))


def _assessment(value: Any) -> Any:
    """A quality assessment as Toucan writes it (JSON text) parsed; text that is no JSON kept as text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
