"""The Anthropic provider (shared by rewrite and the judge): bounded concurrency, retries that honour retry-after, Message Batches for big jobs.

Built on the real `anthropic` SDK with its own retries off (`max_retries=0`): logtune retries itself so
that the wait is injectable (tests assert it), every retry is counted in metrics, and the policy is
one place: 429, 408/409, 5xx (529 overloaded included), timeouts and dropped connections are retried up to
`max_retries` times, waiting what `retry-after-ms` / `retry-after` (seconds or an HTTP date) says, else
exponential backoff (1, 2, 4 ... s, at most 60 s, jittered). Other 4xx are not retried. A 401/403 stops
the stage at once (every further request would fail the same way). A request that still fails, and a
malformed response (a body that is not a Message with text), becomes a `Result` with an error: the
pipeline rejects that item with reason `api_<kind>` and, as it is not cached, the next run asks again.

Jobs above `batch_threshold` requests go through the Message Batches API (half price): submit, record
the batch id in the cache folder at once, poll every `poll_interval_s`, stream the results into the
cache. A run that crashes after submitting resumes by polling the saved id (`resume`), never by
submitting again. Items of a batch that errored, expired or were canceled come back as errors.
The API key is given to the SDK and nowhere else: not logged, not cached, not in any message here.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable

from logtune.llm.cache import ResponseCache
from logtune.llm.providers import LLMSettings, Request, Result, api_key, cache_entry, section_of

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 60.0
BATCH_CHUNK = 10_000          # requests per batch (the API allows 100,000 / 256 MB; smaller ones finish sooner)


class ApiFailure(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class FatalApiError(RuntimeError):
    """Authentication or permission refused: stop the stage, nothing else can succeed."""


def make_client(params: LLMSettings, http_client: Any = None):
    import anthropic

    kwargs: dict[str, Any] = {"api_key": api_key(section=section_of(params)), "max_retries": 0, "timeout": params.timeout_s}
    if http_client is not None:
        kwargs["http_client"] = http_client
    return anthropic.Anthropic(**kwargs)


def retry_after_s(headers: Any, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms, then retry-after as seconds or an HTTP date."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            if name == "retry-after":
                parsed = email.utils.parsedate_tz(value)
                if parsed is not None:
                    return max(0.0, email.utils.mktime_tz(parsed) - now())
    return None


def classify(error: BaseException) -> tuple[str, bool, Any]:
    """(failure kind, retryable, response headers) of an exception the SDK raised."""
    import anthropic

    if isinstance(error, anthropic.APITimeoutError):
        return "timeout", True, None
    if isinstance(error, anthropic.APIConnectionError):
        return "connection", True, None
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        if status in (401, 403):
            raise FatalApiError(f"the Anthropic API refused the key (HTTP {status}); "
                                "check $ANTHROPIC_API_KEY") from None
        kind = "rate_limited" if status == 429 else "server_error" if status >= 500 else f"http_{status}"
        return kind, status in RETRY_STATUSES, error.response.headers
    return "client_error", False, None


def message_text(message: Any) -> tuple[str, int, int, str | None]:
    """(text, input tokens, output tokens, stop reason) of a Message; ApiFailure when it is not one."""
    content = getattr(message, "content", None)
    usage = getattr(message, "usage", None)
    if not isinstance(content, list) or usage is None:
        raise ApiFailure("malformed_response", f"not a Message: {str(message)[:80]!r}")
    texts = [getattr(b, "text", None) for b in content if getattr(b, "type", None) == "text"]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ApiFailure("malformed_response", "no text block in the message")
    return ("".join(texts).strip(), int(getattr(usage, "input_tokens", 0) or 0),
            int(getattr(usage, "output_tokens", 0) or 0), getattr(message, "stop_reason", None))


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, params: LLMSettings, client: Any = None, sleep: Callable[[float], None] | None = None,
                 log: Callable[[str], None] = print, jitter: Callable[[], float] | None = None):
        self.params, self.log = params, log
        self.model = params.model
        self.label = section_of(params)   # log lines start with the stage using the client (rewrite, judge, ...)
        self.client = client if client is not None else make_client(params)
        self.sleep = sleep or time.sleep
        self.jitter = jitter or (lambda: 1 - 0.25 * random.random())
        self.retries = 0              # retries made this run (metrics)
        self.requests_sent = 0        # HTTP message requests sent this run, retries included
        self.batches_submitted = 0
        self.batches_resumed = 0
        self._lock = threading.Lock()

    # -- one request ---------------------------------------------------------------------------------
    def body(self, r: Request) -> dict[str, Any]:
        # No temperature: the Messages API of anthropic 2.x takes none (rewrite.temperature is the local model's).
        return {"model": self.params.model, "max_tokens": self.params.max_tokens, "system": r.system,
                "messages": [{"role": "user", "content": r.user}]}

    def with_retries(self, call: Callable[[], Any], what: str) -> Any:
        for attempt in range(self.params.max_retries + 1):
            try:
                return call()
            except Exception as e:  # noqa: BLE001 (classified below; anything unknown is re-raised)
                import anthropic

                if not isinstance(e, anthropic.APIError):
                    raise
                kind, retryable, headers = classify(e)
                if not retryable or attempt == self.params.max_retries:
                    raise ApiFailure(kind, f"{what}: {type(e).__name__} after {attempt + 1} attempt(s)") from None
                wait = retry_after_s(headers)
                if wait is None:
                    wait = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** attempt) * self.jitter()
                with self._lock:
                    self.retries += 1
                self.log(f"{self.label}: {what}: {kind}, retry {attempt + 1}/{self.params.max_retries} in {wait:.1f}s")
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, r: Request) -> Any:
        with self._lock:
            self.requests_sent += 1
        return self.client.messages.create(**self.body(r))

    def one(self, r: Request, cache: ResponseCache) -> Result:
        try:
            message = self.with_retries(lambda: self._send(r), f"request {r.key[:12]}")
            text, tin, tout, stop = message_text(message)
        except ApiFailure as e:
            return Result(error=e.kind, detail=e.detail)
        result = Result(text, input_tokens=tin, output_tokens=tout, via="sync")
        cache.put(cache_entry(self.name, self.model, r, result, stop))    # paid for: on disk before anything else
        return result

    # -- many requests -------------------------------------------------------------------------------
    def fetch(self, requests: list[Request], cache: ResponseCache) -> dict[str, Result]:
        if len(requests) > self.params.batch_threshold:
            return self.fetch_batched(requests, cache)
        out: dict[str, Result] = {}
        pool = ThreadPoolExecutor(max_workers=self.params.concurrency)
        try:
            futures = {pool.submit(self.one, r, cache): r.key for r in requests}
            for i, future in enumerate(as_completed(futures), 1):
                out[futures[future]] = future.result()
                if i % 50 == 0 or i == len(futures):
                    failed = sum(1 for v in out.values() if v.error)
                    self.log(f"{self.label}: {i}/{len(futures)} responses ({failed} failed, {self.retries} retries)")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return out

    def fetch_batched(self, requests: list[Request], cache: ResponseCache) -> dict[str, Result]:
        out: dict[str, Result] = {}
        by_key = {r.key: r for r in requests}
        for start in range(0, len(requests), BATCH_CHUNK):
            chunk = requests[start:start + BATCH_CHUNK]
            items = [{"custom_id": r.key, "params": self.body(r)} for r in chunk]
            batch = self.with_retries(lambda: self.client.messages.batches.create(requests=items), "batch submit")
            cache.batch_submitted(batch.id, [r.key for r in chunk])     # before polling: a crash resumes this id
            self.batches_submitted += 1
            self.log(f"{self.label}: submitted batch {batch.id} ({len(chunk)} requests)")
            out.update(self.collect(batch.id, cache, by_key))
        for r in requests:
            out.setdefault(r.key, Result(error="batch_missing", detail="no result line for this request"))
        return out

    def resume(self, cache: ResponseCache, by_key: dict[str, Request] | None = None) -> None:
        """Collect every batch a previous run submitted and did not collect (their responses are paid for)."""
        for batch_id in cache.open_batches():
            self.log(f"{self.label}: resuming batch {batch_id} from an earlier run")
            self.batches_resumed += 1
            self.collect(batch_id, cache, by_key or {})

    def collect(self, batch_id: str, cache: ResponseCache, by_key: dict[str, Request]) -> dict[str, Result]:
        batches = self.client.messages.batches
        while True:
            batch = self.with_retries(lambda: batches.retrieve(batch_id), f"batch {batch_id} poll")
            if batch.processing_status == "ended":
                break
            self.sleep(self.params.poll_interval_s)
        out: dict[str, Result] = {}
        counts = {"succeeded": 0, "errored": 0, "expired": 0, "canceled": 0, "malformed": 0}
        for line in self.with_retries(lambda: list(batches.results(batch_id)), f"batch {batch_id} results"):
            key, result = line.custom_id, line.result
            kind = getattr(result, "type", None)
            if kind == "succeeded":
                try:
                    text, tin, tout, stop = message_text(result.message)
                except ApiFailure as e:
                    counts["malformed"] += 1
                    out[key] = Result(error=e.kind, detail=e.detail, via="batch")
                    continue
                counts["succeeded"] += 1
                res = Result(text, input_tokens=tin, output_tokens=tout, via="batch")
                request = by_key.get(key) or Request(key, "unknown", "unknown", "", "")
                cache.put(cache_entry(self.name, self.model, request, res, stop))
                out[key] = res
            else:
                counts[kind if kind in counts else "errored"] += 1
                out[key] = Result(error=f"batch_{kind}", detail=f"batch {batch_id}", via="batch")
        cache.batch_collected(batch_id, counts)
        self.log(f"{self.label}: batch {batch_id} collected: {counts}")
        return out
