"""Source adapter for logged LLM calls (seed 003: every call POSTed to /api/log, stored as JSONL).

Format, one logged call per line (camelCase as the seed's API sends it; snake_case accepted too):
    {"id": "log-17", "taskType": "game", "llmPrompt": "Chat: !dice", "aceyOutput": {"speech": "Rolled a 4!",
     "intents": [{"type": "game_action", "confidence": 0.9, "action": "roll"}]}, "confidence": 0.82,
     "status": "approved", "responseTime": 840, "cost": 0.0004, "timestamp": "2025-01-05T20:11:02Z",
     "autoRules": ["trim_caps"], "context": {...}}

Mapping: one conversation per line. user = llmPrompt; assistant = aceyOutput.speech with
tool_calls = aceyOutput.intents as JSON text (None when the list is empty), feedback_meta
{"auto_rules": ...} when auto-rules were applied; task_type = taskType (option `task_type`, default
"general", when absent); confidence; approval = status lower-cased (approved | rejected |
pending; another value fails export's schema check, so it is quarantined there);
latency_ms = responseTime (ms); cost; created_at = timestamp (ISO text kept as is, epoch
milliseconds converted to ISO-8601 UTC); context (object -> JSON text); error -> status "error"
(else "ok"). source_id = id, or "<file name>:<line number>" when the call has no id. provenance "real".
Field spellings accepted (first present wins):
    id | logId | log_id;  taskType | task_type;  llmPrompt | llm_prompt | prompt;
    aceyOutput | acey_output | output;  status | approvalStatus | approval_status | approval;
    responseTime | response_time | responseTimeMs | response_time_ms | latencyMs | latency_ms;
    timestamp | createdAt | created_at;  autoRules | auto_rules | autoRulesApplied | auto_rules_applied;
    feedback | userFeedback | user_feedback | thumbs | rating;  model | modelVersion | model_version;
    systemPrompt | system_prompt;  confidence; cost; context; error.
Feedback (issue #18: a thumbs given to a logged call reaches build like every other rating): a scalar
thumbs value (1/-1, "up"/"down", "thumbsUp"/"thumbs_down", true/false) becomes the reply's `rating`; an
object {rating | thumbs | value, note | comment, rewrite | correction} gives rating, feedback_note and
rewrite. Build then routes them as it does every source's: +1 -> SFT + KTO true, -1 -> KTO false, a
rewrite -> DPO pair (rewrite over the logged speech). A value that is no thumbs -> quarantined
`unknown_rating` (never guessed).
No other field is invented; unknown fields are ignored. Quarantined lines: invalid_utf8, broken_json,
wrong_type, unknown_rating, missing_field (no prompt, or an output with neither speech nor intents).

Options: `task_type` (the task type when a call has none, default "general"), `provenance` (default "real").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit
from logtune.sources.items import (check_fields, check_options, conversation, first_key, json_text, message, note,
                                   quarantine, unmapped)
from logtune.sources.jsonl import map_json_lines
from logtune.sources.ratings import parse_rating
from logtune.sources.timestamps import to_iso

KIND = "event_log"
SPELLINGS = {
    "id": ("id", "logId", "log_id"),
    "task_type": ("taskType", "task_type"),
    "prompt": ("llmPrompt", "llm_prompt", "prompt"),
    "output": ("aceyOutput", "acey_output", "output"),
    "approval": ("status", "approvalStatus", "approval_status", "approval"),
    "latency_ms": ("responseTime", "response_time", "responseTimeMs", "response_time_ms", "latencyMs", "latency_ms"),
    "created_at": ("timestamp", "createdAt", "created_at"),
    "auto_rules": ("autoRules", "auto_rules", "autoRulesApplied", "auto_rules_applied"),
    "confidence": ("confidence",),
    "cost": ("cost",),
    "context": ("context",),
    "error": ("error",),
    "feedback": ("feedback", "userFeedback", "user_feedback", "thumbs", "rating"),
    "model_version": ("model", "modelVersion", "model_version"),
    "system_prompt": ("systemPrompt", "system_prompt"),
}
FEEDBACK = {"rating": ("rating", "thumbs", "value"), "note": ("note", "comment"), "rewrite": ("rewrite", "correction")}
NUMBER = (int, float)
TYPES = {"id": (str, int), "task_type": str, "prompt": str, "output": dict, "approval": str, "latency_ms": NUMBER,
         "created_at": (str, int, float), "confidence": NUMBER, "cost": NUMBER, "context": (dict, list),
         "error": (str, dict), "model_version": str, "system_prompt": str}


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict[str, Any]]:
    """Yield one conversation or quarantine item per non-blank line, in file order."""
    opts = check_options(source_name, options, {"task_type", "provenance"})
    name = Path(path).name
    yield from map_json_lines(path, KIND, lambda line_no, row: _call(row, line_no, name, opts, source_name))


def _call(row: Any, line_no: int, name: str, opts: dict[str, Any], source_name: str) -> dict[str, Any]:
    where = f"line {line_no}"
    if not isinstance(row, dict):
        return quarantine("wrong_type", f"expected a JSON object, got {type(row).__name__}", where, row)
    call = {field: first_key(row, *names) for field, names in SPELLINGS.items()}
    problem = check_fields(call, {"prompt": str, "output": dict}, TYPES)
    if problem is None:
        problem = check_fields(call["output"], {}, {"speech": str, "intents": list})
    if problem is None and call["output"].get("speech") is None and not call["output"].get("intents"):
        problem = ("missing_field", "the output has neither speech nor intents")
    if problem:
        return quarantine(*problem, where, row)
    output = call["output"]
    meta = {"auto_rules": call["auto_rules"]} if call["auto_rules"] not in (None, False, []) else None
    rating, feedback_note, rewrite = _feedback(call["feedback"])
    messages = [message("user", call["prompt"]),
                message("assistant", output.get("speech"), tool_calls=output.get("intents") or None,
                        rating=rating, feedback_note=feedback_note, rewrite=rewrite, feedback_meta=meta)]
    error = call["error"]
    spelled = {name for names in SPELLINGS.values() for name in names}
    return note(conversation(
        source_name, str(call["id"]) if call["id"] is not None else f"{name}:{line_no}", messages,
        task_type=call["task_type"] or opts.get("task_type", "general"),
        model_version=call["model_version"], system_prompt=call["system_prompt"],
        context=call["context"], confidence=call["confidence"],
        approval=call["approval"].lower() if call["approval"] else None,
        latency_ms=call["latency_ms"], cost=call["cost"], created_at=_iso(call["created_at"]),
        status="error" if error else "ok", error=error if error is None or isinstance(error, str) else json_text(error),
        provenance=opts.get("provenance", "real"),
    ), unmapped(row, spelled))


def _feedback(value: Any) -> tuple[int | None, str | None, str | None]:
    """(rating, note, rewrite) of a call's feedback: a thumbs value alone, or an object holding one."""
    if not isinstance(value, dict):
        return parse_rating(value), None, None
    fields = {key: first_key(value, *names) for key, names in FEEDBACK.items()}
    for key in ("note", "rewrite"):
        if fields[key] is not None and not isinstance(fields[key], str):
            raise Unfit("wrong_type", f"feedback {key} must be text, got {type(fields[key]).__name__}")
    return parse_rating(fields["rating"]), fields["note"], fields["rewrite"]


def _iso(value: Any) -> str | None:
    """ISO text as logged; a JavaScript Date.now() number (epoch ms) as ISO-8601 UTC; Unfit("wrong_type")
    for text that is no time ("yesterday"), never kept as it is."""
    return to_iso(value, "auto" if isinstance(value, str) else "epoch_ms")
