"""Source adapter for LLM gateway logs: one request/response document per line, as OpenAI-compatible
gateways (LiteLLM, Helicone, Portkey, an in-house proxy) log chat-completion calls.

Format: JSONL (`.jsonl` or `.jsonl.gz`), streamed line by line:

    {"id": "req-1", "timestamp": "2025-03-01T10:00:00Z", "workload": "ticket_summary", "client_id": "web",
     "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise #12"}],
                 "tools": [...]},
     "response": {"id": "chatcmpl-9", "model": "gpt-4o-mini-2024-07-18",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 9, "completion_tokens": 2}},
     "latency_ms": 812, "cost": 0.00012, "confidence": 0.9, "approval": "approved",
     "feedback": {"rating": "thumbsDown", "note": "too short", "rewrite": "..."}}

Mapping: one line -> one Conversation = request.messages + the response's first choice message.
source_id = the line's `id` (else response.id, else `<file name>:<line>`); task_type = the workload or
route id (first present of `workload`, `workload_id`, `route`, `route_id`, `task`; option `task_type`
when the log has none, default "chat"); model_version = response.model, else request.model;
created_at = timestamp; latency_ms from `latency_ms`/`duration_ms` (or `latency_s`, converted);
cost from `cost`/`cost_usd`; confidence/approval (seed 003's logged calls) as logged; `feedback`
(rating +1/-1, up/down, thumbsUp/thumbsDown, true/false; note; rewrite) lands on the reply. Other
choices (n > 1) are kept as alternatives in the reply's feedback_meta; finish_reason and usage too
(`{"finish_reason": ..., "usage": ...}`). request.tools become CONTEXT `{"tools": [...]}`. A logged
`error` (or a missing response) gives status "error" and the error text: kept, so curate can
reject it with its reason. The client id is dropped deliberately: it identifies a customer, not the
example, and the contract has no column for it.

Quarantined per line: invalid_utf8, broken_json, wrong_type, missing_field (no request.messages),
unknown_role, broken_tool_call, orphan_reply, unknown_rating.

Options: `task_type` (fallback when the log names no workload), `provenance` (default "real").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from logtune.sources import SourceError, Unfit
from logtune.sources.chat import openai_messages, text_of, tools_context
from logtune.sources.items import check_options, conversation, json_text, note, unmapped
from logtune.sources.jsonl import map_json_lines, require_path
from logtune.sources.ratings import parse_rating

KIND = "openai_chat_log"
OPTIONS = ("task_type", "provenance")
# line fields mapped (client ids are left out on purpose: they identify a customer, not the example)
TOP_FIELDS = ("id", "request_id", "timestamp", "request", "response", "latency_ms", "duration_ms", "latency_s", "cost",
              "cost_usd", "confidence", "approval", "approval_status", "feedback", "error", "client_id")
TASK_FIELDS = ("workload", "workload_id", "route", "route_id", "task")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per non-blank line, in file order."""
    opts = check_options(source_name, options, OPTIONS)
    path = require_path(path)
    if path.is_dir():
        raise SourceError(f"{path}: not a {KIND} file: it is a folder")
    yield from map_json_lines(path, KIND, lambda n, obj: log_to_conversation(obj, f"{path.name}:{n}", opts, source_name))


def _rating(value: Any) -> int | None:
    return parse_rating(value)


def _number(value: Any, name: str = "value") -> float | None:
    """A logged number, None when absent; Unfit("wrong_type") for anything else (`"fast"` is no latency)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise Unfit("wrong_type", f"{name} is {value!r}, not a number")


def _approval(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Unfit("wrong_type", f"approval is {value!r}, not text")


def log_to_conversation(obj: Any, fallback_id: str, opts: dict, source_name: str) -> dict:
    """One logged call as a Conversation; raises Unfit with the quarantine reason."""
    if not isinstance(obj, dict):
        raise Unfit("wrong_type", f"a line must be a JSON object, got {type(obj).__name__}")
    request, response = obj.get("request"), obj.get("response")
    if not isinstance(request, dict) or "messages" not in request:
        raise Unfit("missing_field", "no request.messages")
    if not isinstance(request["messages"], list) or (response is not None and not isinstance(response, dict)):
        raise Unfit("wrong_type", "request.messages must be a list and response an object")
    turns = list(request["messages"])
    choices = (response or {}).get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise Unfit("wrong_type", "response.choices must be a list of objects")
    choices = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0)
    if choices:
        turns.append(choices[0].get("message") or {})
    messages = openai_messages(turns)

    error = obj.get("error") or (response or {}).get("error")
    error_text = None if not error else (error if isinstance(error, str) else json_text(error))
    if choices:
        reply = messages[-1]
        meta = {k: v for k, v in (("finish_reason", choices[0].get("finish_reason")),
                                  ("usage", (response or {}).get("usage"))) if v is not None}
        alternatives = [text_of((c.get("message") or {}).get("content")) for c in choices[1:]]
        if alternatives:
            meta["alternatives"] = [{"index": c.get("index"), "content": t} for c, t in zip(choices[1:], alternatives)]
        feedback = obj.get("feedback")
        if isinstance(feedback, dict):
            reply["rating"] = _rating(feedback.get("rating"))
            reply["feedback_note"] = feedback.get("note") or feedback.get("comment")
            reply["rewrite"] = feedback.get("rewrite") or feedback.get("correction")
        elif feedback is not None:
            reply["rating"] = _rating(feedback)
        reply["feedback_meta"] = json_text(meta) if meta else None
    task_type = next((obj[f] for f in TASK_FIELDS if isinstance(obj.get(f), str) and obj[f]), None)
    latency = _number(obj.get("latency_ms", obj.get("duration_ms")), "latency_ms")
    if latency is None and _number(obj.get("latency_s"), "latency_s") is not None:
        latency = _number(obj["latency_s"]) * 1000.0
    try:
        context = tools_context(request.get("tools"))
    except ValueError as e:
        raise Unfit("wrong_type", f"request.tools: {e}") from None
    source_id = obj.get("id") or obj.get("request_id") or (response or {}).get("id") or fallback_id
    approval = obj.get("approval", obj.get("approval_status"))
    dropped = unmapped(obj, TOP_FIELDS + TASK_FIELDS)
    return note(conversation(
        source_name, str(source_id), messages,
        task_type=task_type or opts.get("task_type", "chat"),
        model_version=(response or {}).get("model") or request.get("model"),
        context=context, created_at=obj.get("timestamp"),
        status="error" if error_text or not choices else "ok",
        error=error_text or (None if choices else "no response logged"),
        confidence=_number(obj.get("confidence"), "confidence"), approval=_approval(approval),
        latency_ms=latency, cost=_number(obj.get("cost", obj.get("cost_usd")), "cost"),
        provenance=opts.get("provenance", "real")), dropped)
