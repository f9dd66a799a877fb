"""The logging proxy against a fake streaming upstream on 127.0.0.1: the answer comes back byte for byte
(SSE included) and the call is logged once, with the response rebuilt, the task id from the header,
latency, model and status; a failing or unreachable upstream is logged as an error call."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx2
import pytest

from logtune.serve.config import ProxyParams, ServeParams
from logtune.sources.serve_store import to_item
from tests.unit.fake_upstream import sse_events, upstream
from tests.unit.serve_server import free_port, running

REQUEST = {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}


def _calls(s, n, timeout=10.0):
    """The proxied calls once `n` are logged (the log is written after the last byte is sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = s.service.store.query_dicts("SELECT * FROM calls WHERE kind = 'proxy' ORDER BY seq")
        if len(rows) >= n:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"{n} proxy calls not logged within {timeout} s")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    with upstream() as base:
        params = replace(ServeParams(), proxy=ProxyParams(upstream=base))
        with running(tmp_path_factory.mktemp("proxy"), params) as s:
            yield s, base


def test_streamed_answer_is_passed_through_unchanged_and_logged_once(proxied):
    s, base = proxied
    before = len(s.service.store.query("SELECT id FROM calls WHERE kind = 'proxy'"))
    body = {**REQUEST, "stream": True}
    direct = httpx2.post(f"{base}/chat/completions", json=body).content
    with s.client("write").stream("POST", "/v1/chat/completions", json=body,
                                  headers={"X-Logtune-Task": "ticket_summary"}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        chunks = list(resp.iter_raw())
    assert b"".join(chunks) == direct == b"".join(sse_events("tiny"))
    assert len(chunks) > 1                                    # it streamed, not one buffered blob
    row = _calls(s, before + 1)[-1]
    assert row["task_type"] == "ticket_summary" and row["model"] == "tiny" and row["status_code"] == 200
    assert row["latency_ms"] > 0 and row["error"] is None
    response = json.loads(row["response"])
    message = response["choices"][0]["message"]
    assert message["content"] == "Hello from tiny"
    assert message["tool_calls"][0]["function"] == {"name": "roll", "arguments": '{"sides": 6}'}
    assert response["usage"] == {"prompt_tokens": 5, "completion_tokens": 7}
    conv = to_item({**row, "feedback": []}, "serve")            # exports as a conversation
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"] and conv["system_prompt"] == "Be brief."
    assert conv["messages"][1]["content"] == "Hello from tiny"


def test_plain_answer_passes_through_and_feedback_reaches_the_proxied_call(proxied):
    s, base = proxied
    before = len(s.service.store.query("SELECT id FROM calls WHERE kind = 'proxy'"))
    resp = s.client("write").post("/v1/chat/completions", json=REQUEST)
    assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "Hello from tiny"
    assert resp.content == httpx2.post(f"{base}/chat/completions", json=REQUEST).content
    row = _calls(s, before + 1)[-1]
    assert row["task_type"] == "chat"                          # no header: proxy.default_task_type
    fb = s.client("write").post("/api/feedback", json={"logId": row["id"], "thumbs": "up"})
    assert fb.status_code == 200


def test_upstream_error_is_returned_and_logged_as_an_error_call(proxied):
    s, _ = proxied
    before = len(s.service.store.query("SELECT id FROM calls WHERE kind = 'proxy'"))
    resp = s.client("write").post("/v1/chat/completions", json={**REQUEST, "model": "fail"})
    assert resp.status_code == 500 and resp.json()["error"]["message"] == "model overloaded"
    row = _calls(s, before + 1)[-1]
    assert row["status_code"] == 500 and row["error"] == "upstream 500: model overloaded"
    assert to_item({**row, "feedback": []}, "serve")["status"] == "error"


def test_proxy_needs_a_write_key_and_messages(proxied):
    s, _ = proxied
    assert s.client(None).post("/v1/chat/completions", json=REQUEST).status_code == 401
    assert s.client("read").post("/v1/chat/completions", json=REQUEST).status_code == 403
    bad = s.client("write").post("/v1/chat/completions", json={"model": "tiny"})
    assert bad.status_code == 422 and bad.json()["field"] == "messages"


def test_unreachable_upstream_is_502_and_logged(tmp_path):
    params = replace(ServeParams(), proxy=ProxyParams(upstream=f"http://127.0.0.1:{free_port()}/v1", timeout_s=5))
    with running(tmp_path, params) as s:
        resp = s.client("write").post("/v1/chat/completions", json=REQUEST)
        assert resp.status_code == 502
        row = _calls(s, 1)[-1]
        assert row["status_code"] == 502 and row["error"].startswith("upstream unreachable")
