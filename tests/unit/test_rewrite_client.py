"""The Anthropic provider through the real SDK over httpx2.MockTransport: retries, failures, batches, resume.

`FakeAnthropic` is a tiny Messages + Message Batches API (also used by tests/stages/test_rewrite.py).
No network; every wait goes through an injected sleep, so retry-after is asserted, not slept.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Callable

import anthropic
import httpx2
import pytest

from logtune.params import from_dict
from logtune.llm.cache import ResponseCache, cache_key
from logtune.llm.client import AnthropicProvider, FatalApiError, retry_after_s
from logtune.rewrite.params import RewriteParams
from logtune.llm.providers import MissingApiKey, Request, api_key, complete

KEY = "sk-ant-api03-PLANTED-test-key-0123456789abcdef"


def default_answer(body: dict[str, Any]) -> str:
    """A good answer per task, told apart by the template's system prompt."""
    system, user = body.get("system", ""), body["messages"][0]["content"]
    if system.startswith("You rewrite extractive answers"):
        return "The capital of France is Paris, on the Seine river."
    if system.startswith("You write polite refusals"):
        return "I couldn't find anything about your boss in the provided context."
    if system.startswith("You revise assistant replies"):
        return "PRJ-1042 is in progress."
    if system.startswith("You multiply"):
        n = re.search(r"Write variation (\d+)", user).group(1)
        host = f"web-{int(n) % 2 + 1}"
        return json.dumps({"user": f"check disk space on {host}, take {n}",
                           "wrong": json.dumps({"action": "ssh", "args": {"host": host, "cmd": "df -h"}}),
                           "fixed": json.dumps({"tool": "ssh", "args": {"cmd": "df -h", "host": host}})})
    return f"answer to: {user[:40]}"


def message(text: str, tin: int = 20, tout: int = 8) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": tin, "output_tokens": tout}}


def batch_obj(batch_id: str, ended: bool, n: int) -> dict[str, Any]:
    return {"id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0, "errored": 0,
                               "canceled": 0, "expired": 0},
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if ended else None, "archived_at": None, "cancel_initiated_at": None,
            "results_url": f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results" if ended else None}


class Crash(BaseException):
    """A process dying mid-run (not an Exception: nothing may catch it)."""


class FakeAnthropic:
    """Messages + Message Batches over MockTransport. `script`: handlers tried first, one per request
    (return None to fall through). Counts requests per user prompt and every HTTP call."""

    def __init__(self, answer: Callable[[dict], str] = default_answer, script: list | None = None,
                 batch_error: Callable[[dict], bool] = lambda body: False, polls_before_end: int = 1):
        self.answer, self.script = answer, list(script or [])
        self.batch_error, self.polls_before_end = batch_error, polls_before_end
        self.asked: Counter = Counter()          # user prompt -> message requests (sync, or inside a batch)
        self.calls: list[tuple[str, str]] = []
        self.keys_seen: set[str] = set()
        self.batches: dict[str, dict[str, Any]] = {}

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handle))

    def client(self, key: str = KEY) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key=key, max_retries=0, http_client=self.http_client())

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.calls.append((request.method, request.url.path))
        auth = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        self.keys_seen.add(auth)
        if self.script:
            response = self.script.pop(0)(request)
            if response is not None:
                return response
        path = request.url.path
        if request.method == "POST" and path == "/v1/messages":
            body = json.loads(request.content)
            self.asked[body["messages"][0]["content"]] += 1
            return httpx2.Response(200, json=message(self.answer(body)))
        if request.method == "POST" and path == "/v1/messages/batches":
            items = json.loads(request.content)["requests"]
            batch_id = f"msgbatch_{len(self.batches) + 1:03d}"
            self.batches[batch_id] = {"items": items, "polls": 0}
            for item in items:
                self.asked[item["params"]["messages"][0]["content"]] += 1
            return httpx2.Response(200, json=batch_obj(batch_id, False, len(items)))
        m = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
        if m and request.method == "GET":
            batch = self.batches[m.group(1)]
            if m.group(2):
                lines = []
                for item in batch["items"]:
                    if self.batch_error(item["params"]):
                        result = {"type": "errored", "error": {"type": "error",
                                                               "error": {"type": "api_error", "message": "boom"}}}
                    else:
                        result = {"type": "succeeded", "message": message(self.answer(item["params"]))}
                    lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
                return httpx2.Response(200, content=("\n".join(lines) + "\n").encode())
            batch["polls"] += 1
            ended = batch["polls"] > self.polls_before_end
            return httpx2.Response(200, json=batch_obj(m.group(1), ended, len(batch["items"])))
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": path}})


def status(code: int, headers: dict[str, str] | None = None):
    body = {"type": "error", "error": {"type": "rate_limit_error" if code == 429 else "api_error", "message": "x"}}
    return lambda request: httpx2.Response(code, json=body, headers=headers or {})


def timeout(request):
    raise httpx2.ReadTimeout("slow", request=request)


def params(**over) -> RewriteParams:
    base = {"provider": "anthropic", "max_retries": 3, "concurrency": 2, "batch_threshold": 100, "poll_interval_s": 5}
    return from_dict(RewriteParams, {**base, **over}, "rewrite")


def requests(n: int) -> list[Request]:
    return [Request(cache_key("anthropic", "claude-haiku-4-5", "v1", "sys", f"question {i}", {}), "refusal", "v1",
                    "sys", f"question {i}") for i in range(n)]


def provider(fake: FakeAnthropic, waits: list[float], **over) -> AnthropicProvider:
    return AnthropicProvider(params(**over), client=fake.client(), sleep=waits.append, log=lambda s: None,
                             jitter=lambda: 1.0)


def test_success_is_cached_as_it_arrives(tmp_path):
    fake, waits = FakeAnthropic(), []
    cache = ResponseCache(tmp_path)
    out = complete(provider(fake, waits), requests(3), cache)
    assert all(r.text and not r.error and r.input_tokens == 20 and r.output_tokens == 8 for r in out.values())
    assert len(list((tmp_path / "responses").glob("*/*.json"))) == 3
    assert fake.keys_seen == {KEY} and waits == []


def test_429_then_success_waits_what_retry_after_says(tmp_path):
    fake, waits = FakeAnthropic(script=[status(429, {"retry-after": "7"})]), []
    p = provider(fake, waits)
    out = complete(p, requests(1), ResponseCache(tmp_path))
    assert [r.text for r in out.values()] == ["answer to: question 0"]
    assert waits == [7.0] and p.retries == 1


def test_retry_after_ms_and_http_date():
    assert retry_after_s(httpx2.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_s(httpx2.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}),
                         now=lambda: 1445412480.0) == 10.0
    assert retry_after_s(httpx2.Headers({})) is None


def test_500s_until_retries_run_out_is_an_uncached_error_with_backoff(tmp_path):
    fake, waits = FakeAnthropic(script=[status(500)] * 10), []
    cache = ResponseCache(tmp_path)
    out = complete(provider(fake, waits, max_retries=3), requests(1), cache)
    (result,) = out.values()
    assert result.error == "server_error" and result.text is None
    assert waits == [1.0, 2.0, 4.0]                   # exponential backoff without retry-after
    assert len(fake.calls) == 4 and len(cache.entries) == 0   # not cached: the next run asks again


def test_timeouts_are_retried_then_succeed(tmp_path):
    fake, waits = FakeAnthropic(script=[timeout, timeout]), []
    out = complete(provider(fake, waits), requests(1), ResponseCache(tmp_path))
    assert [r.error for r in out.values()] == [None] and len(waits) == 2


def test_timeouts_until_retries_run_out(tmp_path):
    fake, waits = FakeAnthropic(script=[timeout] * 5), []
    out = complete(provider(fake, waits, max_retries=1), requests(1), ResponseCache(tmp_path))
    assert [r.error for r in out.values()] == ["timeout"]


@pytest.mark.parametrize("bad", [lambda r: httpx2.Response(200, text="<html>proxy error</html>"),
                                 lambda r: httpx2.Response(200, json={"unexpected": True}),
                                 lambda r: httpx2.Response(200, json={**message("x"), "content": [{"type": "image"}]})])
def test_malformed_response_is_an_error_not_a_crash(tmp_path, bad):
    fake, waits = FakeAnthropic(script=[bad]), []
    cache = ResponseCache(tmp_path)
    out = complete(provider(fake, waits), requests(1), cache)
    assert [r.error for r in out.values()] == ["malformed_response"] and not cache.entries


def test_400_is_not_retried_and_401_stops_everything(tmp_path):
    fake, waits = FakeAnthropic(script=[status(400)]), []
    out = complete(provider(fake, waits), requests(1), ResponseCache(tmp_path))
    assert [r.error for r in out.values()] == ["http_400"] and waits == []
    fake = FakeAnthropic(script=[status(401)])
    with pytest.raises(FatalApiError):
        complete(provider(fake, []), requests(1), ResponseCache(tmp_path / "b"))


def test_crash_mid_run_then_resume_re_requests_nothing_paid_for(tmp_path):
    answered = []

    def crash_after_three(request):
        if len(answered) == 3:
            raise Crash()
        answered.append(1)
        return None

    fake, waits = FakeAnthropic(script=[crash_after_three] * 4), []
    todo = requests(6)
    with pytest.raises(Crash):
        complete(provider(fake, waits, concurrency=1), todo, ResponseCache(tmp_path))
    paid = dict(fake.asked)                            # answered before the crash (a worker may finish one more)
    assert 3 <= sum(paid.values()) < 6
    assert len(list((tmp_path / "responses").glob("*/*.json"))) == sum(paid.values())   # all on disk
    resumed = FakeAnthropic()
    out = complete(provider(resumed, []), todo, ResponseCache(tmp_path))
    assert all(r.text for r in out.values())
    assert not set(paid) & set(resumed.asked)          # nothing asked twice across the two runs
    assert sum(paid.values()) + sum(resumed.asked.values()) == 6
    assert sum(1 for r in out.values() if r.cached) == sum(paid.values())


def test_a_response_killed_mid_write_is_asked_again(tmp_path):
    fake = FakeAnthropic()
    complete(provider(fake, []), requests(2), ResponseCache(tmp_path))
    second = sorted((tmp_path / "responses").glob("*/*.json"))[1]
    # the process died while writing: only the temporary file exists, never a torn response file
    second.rename(second.with_name(f".{second.name}.123.456.tmp"))
    again = FakeAnthropic()
    complete(provider(again, []), requests(2), ResponseCache(tmp_path))
    assert sum(again.asked.values()) == 1


def test_big_jobs_go_through_batches_and_failed_items_are_errors(tmp_path):
    fake, waits = FakeAnthropic(batch_error=lambda body: body["messages"][0]["content"].endswith("3")), []
    p = provider(fake, waits, batch_threshold=4)
    cache = ResponseCache(tmp_path)
    out = complete(p, requests(6), cache)
    assert ("POST", "/v1/messages") not in fake.calls and p.batches_submitted == 1
    assert sorted(r.error or "ok" for r in out.values()) == ["batch_errored"] + ["ok"] * 5
    assert {r.via for r in out.values() if not r.error} == {"batch"}
    assert waits == [5]                                # one poll found it in progress, waited poll_interval_s
    assert len(cache.entries) == 5 and cache.open_batches() == []


def test_crash_while_polling_resumes_the_saved_batch_instead_of_resubmitting(tmp_path):
    fake = FakeAnthropic(polls_before_end=10)
    polls = []

    def die_on_second_poll(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            raise Crash()

    p = AnthropicProvider(params(batch_threshold=2), client=fake.client(), sleep=die_on_second_poll,
                          log=lambda s: None)
    with pytest.raises(Crash):
        complete(p, requests(4), ResponseCache(tmp_path))
    cache = ResponseCache(tmp_path)
    assert cache.open_batches() == ["msgbatch_001"]
    fake.polls_before_end = 0                          # the batch has ended meanwhile
    creates_before = fake.calls.count(("POST", "/v1/messages/batches"))
    p2 = AnthropicProvider(params(batch_threshold=2), client=fake.client(), sleep=lambda s: None, log=lambda s: None)
    out = complete(p2, requests(4), cache)
    assert fake.calls.count(("POST", "/v1/messages/batches")) == creates_before == 1
    assert p2.batches_resumed == 1 and all(r.cached and r.text for r in out.values())
    assert max(fake.asked.values()) == 1 and cache.open_batches() == []


def test_api_key_comes_from_the_environment_only():
    assert api_key({"ANTHROPIC_API_KEY": " k "}) == "k"
    with pytest.raises(MissingApiKey, match="ANTHROPIC_API_KEY"):
        api_key({})
