"""A fake OpenAI-compatible model server on 127.0.0.1 for the proxy tests and the benchmark.

POST /v1/chat/completions answers "Hello from <model>" (model "fail" -> a 500 with an OpenAI error body):
as JSON, or with `"stream": true` as SSE chunks (role, two content pieces, a tool call in two parts,
finish_reason, usage, `[DONE]`), each chunk flushed separately so streaming is real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading

import uvicorn

from tests.unit.serve_server import free_port, wait_ready


def sse_events(model: str) -> list[bytes]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model}
    deltas = [{"role": "assistant"}, {"content": "Hello "}, {"content": f"from {model}"},
              {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "roll", "arguments": '{"si'}}]},
              {"tool_calls": [{"index": 0, "function": {"arguments": 'des": 6}'}}]}]
    events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}})
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    req = json.loads(body)
    model = req.get("model", "m")
    if model == "fail":
        raw = json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}).encode()
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": raw})
        return
    if req.get("stream"):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        for event in sse_events(model):
            await send({"type": "http.response.body", "body": event, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b""})
        return
    raw = json.dumps({"id": "chatcmpl-2", "object": "chat.completion", "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Hello from {model}"},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 5, "completion_tokens": 3}}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": raw})


@contextlib.contextmanager
def upstream():
    """The fake upstream on 127.0.0.1:<free port>; yields its base URL (ending in /v1)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
