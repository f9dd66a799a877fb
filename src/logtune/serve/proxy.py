"""The logging proxy: `POST /v1/chat/completions` forwarded to an OpenAI-compatible upstream (vLLM, Ollama, ...).

The assistant changes only its base URL (and uses a logtune write key as its API key). The request body
goes upstream as received; the upstream's status, content type and body come back unchanged, byte for
byte, streamed chunk by chunk when the upstream streams (SSE). The call is logged once, after the last
byte: request, response (for a stream, rebuilt from its `data:` chunks: content, tool calls, finish
reason, usage), latency to the last byte, model, status, and the task id from the task header.
An upstream that cannot be reached is a 502 to the client, logged as an error call.
Not a general HTTP proxy: only chat completions.
"""

from __future__ import annotations

import json
from typing import Any

SSE_DATA = b"data:"


def _merge_tool_call(calls: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    index = delta.get("index", len(calls))
    call = calls.setdefault(index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
    if delta.get("id"):
        call["id"] = delta["id"]
    fn = delta.get("function") or {}
    if fn.get("name"):
        call["function"]["name"] += fn["name"]
    if fn.get("arguments"):
        call["function"]["arguments"] += fn["arguments"]


def response_from_sse(raw: bytes) -> dict[str, Any] | None:
    """A chat.completion object rebuilt from a streamed body's `data:` events (None when there are none)."""
    choices: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    seen = False
    for line in raw.split(b"\n"):
        line = line.strip()
        if not line.startswith(SSE_DATA):
            continue
        data = line[len(SSE_DATA):].strip()
        if data == b"[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        seen = True
        for key in ("id", "model", "created", "usage", "system_fingerprint"):
            if event.get(key) is not None:
                out[key] = event[key]
        for ch in event.get("choices") or []:
            if not isinstance(ch, dict):
                continue
            state = choices.setdefault(ch.get("index", 0), {"content": [], "role": "assistant", "calls": {},
                                                            "finish_reason": None})
            delta = ch.get("delta") or {}
            if delta.get("role"):
                state["role"] = delta["role"]
            if isinstance(delta.get("content"), str):
                state["content"].append(delta["content"])
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    _merge_tool_call(state["calls"], call)
            if ch.get("finish_reason"):
                state["finish_reason"] = ch["finish_reason"]
    if not seen:
        return None
    out["object"] = "chat.completion"
    out["choices"] = []
    for index, state in sorted(choices.items()):
        message: dict[str, Any] = {"role": state["role"], "content": "".join(state["content"])}
        if state["calls"]:
            message["tool_calls"] = [c for _, c in sorted(state["calls"].items())]
        out["choices"].append({"index": index, "message": message, "finish_reason": state["finish_reason"]})
    return out


def parse_response(raw: bytes, content_type: str, streamed: bool) -> dict[str, Any] | None:
    """The upstream's answer as an object for the log (JSON body, or SSE rebuilt), None when unreadable."""
    if streamed or "text/event-stream" in content_type:
        return response_from_sse(raw)
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def upstream_error(status: int, response: dict[str, Any] | None) -> str | None:
    """The error text of a failed upstream call (its `error.message` when it sent one)."""
    if status < 400:
        return None
    err = (response or {}).get("error")
    if isinstance(err, dict) and err.get("message"):
        return f"upstream {status}: {err['message']}"
    return f"upstream {status}"
