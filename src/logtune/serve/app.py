"""The FastAPI application: seed 003's endpoints, the logging proxy, jobs, retention and metrics over one store.

Endpoints (scope in brackets; `/docs` and `/openapi.json` describe every body):
  GET  /health                      liveness (no key)          GET /ready  the store answers, schema current
  POST /api/log               [write] one LLM call              POST /api/feedback  [write] thumbs/note/rewrite
  GET  /api/logs              [read]  ?limit&task_type&since     GET /api/logs/stats [read] totals + monitor
  POST /api/dryrun            [read]  one output, auto-rules     POST /api/simulate  [read] many outputs
  POST /api/dataset/prepare   [admin] data stages with filters   GET /api/dataset/list [read]
  POST /api/workflow/start    [admin] dvc repro / exp run job    GET /api/workflow/status/{id}, /api/workflow/list [read]
  POST /api/retention         [admin] ?dryRun=true               GET /metrics [read] Prometheus text
  POST /v1/chat/completions   [write] logging proxy
  GET  /review                [read]  the review page (?n&seed&date; a browser passes its key as ?key=)
  POST /api/review/marks      [write] the page's marks -> reviews/<date>.jsonl (`serve.review`)
POST bodies take an `Idempotency-Key` header: a retry with the same key and body gets the first answer
(header `Idempotent-Replayed: true`) and logs nothing twice; the same key with another body is a 409.
A 200 from /api/log or /api/feedback means committed (group commit, `serve.writer.GroupCommitWriter`).
The server's own log lines carry method, route, status, time and key id: never a body, a query string
or a header value. Not for the pipeline's logic: that stays in the stages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from logtune.dryrun import replay as _dryrun
from logtune.release.monitor import MonitorParams, load_baseline
from logtune.params import load_params
from logtune.rules import load_rules
from logtune.serve import logs as _logs
from logtune.serve import proxy as _proxy
from logtune.serve import retention as _retention
from logtune.serve.auth import ApiKey, KeyRing, RateLimiter
from logtune.serve.config import ServeParams
from logtune.serve.jobs import JobRunner, dataset_command, workflow_command
from logtune.serve.models import (DatasetPrepare, DryrunRequest, FeedbackRequest, LogRequest, ReviewMarks, SimulateRequest,
                                  WorkflowStart)
from logtune.serve.review import NoData, ReviewQueue, StaleMarks
from logtune.serve.stats import Counters, prometheus_text, store_monitor
from logtune.serve.writer import GroupCommitWriter
from logtune.reviews import ReviewError
from logtune.store import Conflict, Store, StoreError, redact_url

log = logging.getLogger("logtune.serve")
STATS_WINDOW_H = 24        # /api/logs/stats and /metrics judge the last 24 h unless `since` says otherwise
METRICS_CACHE_S = 15.0     # a scrape every few seconds must not re-read the store each time


class Service:
    """Everything one running service holds: params, store, writer, keys, limits, counters, jobs."""

    def __init__(self, params: ServeParams, store_url: str, params_path: str | Path | None = None):
        self.params = params
        self.store = Store(store_url)
        self.store.migrate()
        self.writer = GroupCommitWriter(self.store, max_batch=params.group_commit_max,
                                        sqlite_synchronous=params.sqlite_synchronous)
        self.keys = KeyRing(self.store)
        self.limiter = RateLimiter(params.rate_limit_per_s, params.rate_limit_burst)
        self.counters = Counters()
        repo = Path(params.workflow.repo)
        rules_path = params.rules if params.rules is None or Path(params.rules).is_absolute() else repo / params.rules
        self.rules = load_rules(rules_path if rules_path is None or Path(rules_path).is_file() else None)
        pp = Path(params_path) if params_path else repo / "params.yaml"
        self.monitor_params = load_params(pp, "monitor", MonitorParams) if pp.is_file() and _has(pp, "monitor") else MonitorParams()
        self.baseline = load_baseline(repo / "release" / "manifest.json")
        self.jobs = JobRunner(self.store, params.workflow, on_success=self._hold_training_set)
        self.review = ReviewQueue(repo)
        self.started = time.monotonic()
        self._metrics_cache: tuple[float, dict[str, Any]] | None = None

    def _hold_training_set(self, job: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """After a run that trained, the calls its training set came from are held against retention."""
        wf = (_logs.loads(job["config"]) or {}).get("config") or {}
        trained = bool(wf.get("enableFineTuning")) or bool({"sft", "preference"} & set(wf.get("targets") or []))
        train = Path(self.params.workflow.repo) / "data" / "train"
        if not trained or not train.is_dir():
            return {}
        from logtune.sources.export import source_entries
        names = [e["name"] for e in source_entries(Path(self.params.workflow.repo) / "params.yaml")
                 if e.get("kind") == "serve_store"]
        held = _retention.hold_training_set(self.store, train, names, dataset="data/train", ref=job["id"])
        return {"heldForTraining": held}

    async def write(self, fn: Callable) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def done(result, error):
            loop.call_soon_threadsafe(_resolve, fut, result, error)
        self.writer.submit(fn, done)
        return await fut

    def start(self) -> None:
        self.writer.start()
        self.jobs.start()

    def stop(self) -> None:
        self.jobs.stop()
        self.writer.stop()
        self.store.close()


def _has(path: Path, section: str) -> bool:
    from logtune.params import read_params
    return section in read_params(path)


def _resolve(fut: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


# ------------------------------------------------------------------------------------------------ guard

class Guard:
    """Pure ASGI middleware: body size cap (413), request counters, the body-free access log, and fast paths.

    A fast path is an ASGI handler for one (method, path) that answers without FastAPI's routing and
    dependency machinery: `POST /api/log`, the hot path, runs the same `authenticate`, validation and
    `commit_write` as its FastAPI route (which stays for /docs) at about half the CPU per call.
    """

    def __init__(self, app, service: Service, fast: dict | None = None):
        self.app, self.service = app, service
        self.limit = service.params.max_body_bytes
        self.fast = fast or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = [0]
        route = None
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and not length.isdigit():
            status[0] = await _reply(send, 400, {"detail": "bad Content-Length"}, {"connection": "close"})
        elif length is not None and int(length) > self.limit:
            status[0] = await _reply(send, 413, {"detail": f"request body over {self.limit} bytes (serve.max_body_bytes)"},
                                     {"connection": "close"})
        else:
            seen = [0]

            async def limited():
                message = await receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > self.limit:
                        raise HTTPException(413, f"request body over {self.limit} bytes (serve.max_body_bytes)")
                return message

            handler = self.fast.get((scope["method"], scope["path"]))
            if handler is not None:
                status[0], route = await handler(scope, limited, send), scope["path"]
            else:
                async def sending(message):
                    if message["type"] == "http.response.start":
                        status[0] = message["status"]
                    await send(message)
                await self.app(scope, limited, sending)
        route = route or getattr(scope.get("route"), "path", "unmatched")
        self.service.counters.request(route, status[0])
        if self.service.params.access_log:
            key = scope.get("state", {}).get("key_id", "-")
            log.info("%s %s %d %.1fms key=%s", scope["method"], route, status[0], (time.perf_counter() - start) * 1000, key)


async def _reply(send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    """A JSON response straight on the ASGI channel; returns the status."""
    import json
    raw = json.dumps(body, separators=(",", ":")).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *extra]})
    await send({"type": "http.response.body", "body": raw})
    return status


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def authenticate(service: Service, headers, scope_name: str, state: dict) -> ApiKey:
    """The request's API key if it is valid, has the scope and is within its rate; else HTTPException 401/403/429."""
    auth = headers.get("authorization", "")
    presented = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-api-key")
    key = service.keys.verify(presented)
    if key is None:
        raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
    state["key_id"] = key.id
    if not key.allows(scope_name):
        raise HTTPException(403, f"this key lacks the '{scope_name}' scope")
    ok, wait = service.limiter.allow(key.id)
    if not ok:
        raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": f"{max(wait, 0.001):.3f}"})
    return key


def validation_payload(errors: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """400 for malformed JSON, else 422 whose `field` names the first bad field (no input values echoed)."""
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    if any(e["type"] == "json_invalid" for e in errors):
        return 400, {"detail": "malformed JSON body", "errors": errors, "field": None}
    loc = errors[0]["loc"] if errors else []
    field = ".".join(str(x) for x in (loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc))
    return 422, {"detail": errors, "field": field or None}


async def commit_write(service: Service, op, key: ApiKey, idem: str | None, body_json: str,
                       kind: str | None) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """Run a write through group commit with its idempotency key: (status, body, headers) once committed."""
    if idem is not None and not (0 < len(idem) <= 200):
        raise HTTPException(422, "Idempotency-Key must be 1-200 characters")
    try:
        status, response, replayed = await service.write(
            _logs.idempotent(op, key.id, idem, _logs.request_hash(body_json.encode())))
    except Conflict as e:
        raise HTTPException(409, str(e)) from None
    except _logs.NotFound as e:
        raise HTTPException(404, str(e)) from None
    except StoreError as e:
        raise HTTPException(503, f"store unavailable: {e}") from None
    if kind and not replayed:
        service.counters.log(kind)
    return status, response, {"Idempotent-Replayed": "true"} if replayed else None


def fast_log(service: Service):
    """The ASGI fast path of POST /api/log (see Guard)."""
    from pydantic import ValidationError
    from starlette.datastructures import Headers

    async def handle(scope, receive, send) -> int:
        headers = Headers(scope=scope)
        try:
            key = authenticate(service, headers, "write", scope.setdefault("state", {}))
            raw = await _read_body(receive)
            try:
                body = LogRequest.model_validate_json(raw)
            except ValidationError as e:
                return await _reply(send, *validation_payload(
                    [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_input=False)]))
            result = await commit_write(service, _logs.log_op(_logs.log_row(body, key.id)), key,
                                        headers.get("idempotency-key"), body.model_dump_json(), "log")
            return await _reply(send, *result)
        except HTTPException as e:
            return await _reply(send, e.status_code, {"detail": e.detail}, e.headers)
    return handle


# ------------------------------------------------------------------------------------------------ app

def create_app(service: Service, fast_paths: bool = True) -> FastAPI:
    """The application; `fast_paths=False` serves POST /api/log through its FastAPI route (tests compare both)."""
    p = service.params

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        task = asyncio.create_task(_retention_loop(service))
        log.info("logtune serve: store %s (schema v%s)", redact_url(service.store.url), service.store.schema_version())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.to_thread(service.stop)

    app = FastAPI(title="logtune collection service", version="1",
                  description="Seed 003's logging API, an OpenAI-compatible logging proxy, and the loop's jobs.",
                  lifespan=lifespan,
                  # FastAPI's built-in OpenTelemetry records validation failures with their messages (which
                  # can quote a body) and costs ~0.1 ms a request: off. Put tracing in front if you want it.
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})
    if p.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(p.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"])
    app.add_middleware(Guard, service=service, fast={("POST", "/api/log"): fast_log(service)} if fast_paths else {})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        status, payload = validation_payload(exc.errors())
        return JSONResponse(payload, status_code=status)

    def scope(name: str):
        async def check(request: Request) -> ApiKey:
            return authenticate(service, request.headers, name, request.scope.setdefault("state", {}))
        return Depends(check)

    async def run_write(op, key: ApiKey, request: Request, body_json: str, kind: str | None):
        status, response, headers = await commit_write(service, op, key, request.headers.get("idempotency-key"),
                                                       body_json, kind)
        return JSONResponse(response, status_code=status, headers=headers)

    # -------------------------------------------------------------------------------- health
    @app.get("/health")
    async def health():
        return {"status": "ok", "uptime_s": round(time.monotonic() - service.started, 1)}

    @app.get("/ready")
    def ready():
        try:
            state = service.store.ready()
        except Exception as e:  # noqa: BLE001 - any store failure means not ready
            return JSONResponse({"ready": False, "error": type(e).__name__}, status_code=503)
        return JSONResponse({"ready": state["ok"], **state}, status_code=200 if state["ok"] else 503)

    # -------------------------------------------------------------------------------- logging
    @app.post("/api/log")
    async def log_call(body: LogRequest, request: Request, key: ApiKey = scope("write")):
        """Log one LLM call (seed 003). Served by Guard's fast path with the same checks; this route is its
        declaration for /docs (and what runs if the fast path is taken out)."""
        row = _logs.log_row(body, key.id)
        return await run_write(_logs.log_op(row), key, request, body.model_dump_json(), "log")

    @app.post("/api/feedback")
    async def feedback(body: FeedbackRequest, request: Request, key: ApiKey = scope("write")):
        return await run_write(_logs.feedback_op(body, key.id), key, request, body.model_dump_json(), "feedback")

    @app.get("/api/logs")
    def list_logs(limit: int = Query(50, ge=1, le=1000), task_type: str | None = Query(None, max_length=64),
                  since: str | None = Query(None, max_length=64), key: ApiKey = scope("read")):
        where, args = [], []
        if task_type:
            where.append("task_type = ?")
            args.append(task_type)
        if since:
            where.append("received_at >= ?")
            args.append(since)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = service.store.query_dicts(f"SELECT * FROM calls {clause} ORDER BY seq DESC LIMIT {int(limit)}", args)
        feedback = service.store.feedback_for([r["id"] for r in rows])
        for r in rows:
            r["feedback"] = feedback.get(r["id"], [])
        return {"logs": [_logs.public_call(r) for r in rows], "count": len(rows)}

    @app.get("/api/logs/stats")
    def stats(since: str | None = Query(None, max_length=64), key: ApiKey = scope("read")):
        since = since or _hours_ago(STATS_WINDOW_H)
        q = service.store.query
        total = q("SELECT COUNT(*) FROM calls")[0][0]
        by_task = dict(q("SELECT task_type, COUNT(*) FROM calls GROUP BY task_type ORDER BY task_type"))
        by_model = dict(q("SELECT COALESCE(model, 'unknown'), COUNT(*) FROM calls GROUP BY COALESCE(model, 'unknown')"))
        thumbs = dict(q("SELECT thumbs, COUNT(*) FROM feedback WHERE thumbs IS NOT NULL GROUP BY thumbs"))
        notes = q("SELECT COUNT(*) FROM feedback WHERE note IS NOT NULL")[0][0]
        rewrites = q("SELECT COUNT(*) FROM feedback WHERE rewrite IS NOT NULL")[0][0]
        report = store_monitor(service.store, service.monitor_params, service.rules, service.baseline, since=since)
        return {"total": total, "byTaskType": by_task, "byModel": by_model,
                "feedback": {"up": thumbs.get("up", 0), "down": thumbs.get("down", 0), "notes": notes, "rewrites": rewrites},
                "monitor": report}

    # -------------------------------------------------------------------------------- auto-rules
    @app.post("/api/dryrun")
    def dryrun(body: DryrunRequest, key: ApiKey = scope("read")):
        result = _dryrun.score_output(body.model_dump(exclude_none=True), service.rules)
        return {**result, "action": "send" if result["decision"] == "keep" else "suppress"}

    @app.post("/api/simulate")
    def simulate(body: SimulateRequest, key: ApiKey = scope("read")):
        results, by_rule = [], {}
        for i, item in enumerate(body.logs):
            try:
                one = _dryrun.score_output(item, service.rules) if body.config.autoRules else \
                    {"decision": "keep", "rule": None, "reason": None}
            except _dryrun.DryrunError as e:
                raise RequestValidationError([{"loc": ("body", "logs", i), "msg": str(e), "type": "value_error"}]) from None
            results.append({"index": i, **one})
            if one["decision"] == "reject":
                by_rule[one["reason"]] = by_rule.get(one["reason"], 0) + 1
        rejected = sum(r["decision"] == "reject" for r in results)
        return {"dryRun": body.config.dryRun, "total": len(results), "kept": len(results) - rejected, "rejected": rejected,
                "rejectionRate": rejected / len(results) if results else None, "byRule": by_rule, "results": results}

    # -------------------------------------------------------------------------------- jobs
    @app.post("/api/workflow/start")
    def workflow_start(body: WorkflowStart, key: ApiKey = scope("admin")):
        try:
            command = workflow_command(body.config, p.workflow)
        except ValueError as e:
            raise RequestValidationError([{"loc": ("body", "config", "mode"), "msg": str(e), "type": "value_error"}]) from None
        job = service.jobs.submit("workflow", body.model_dump(), command)
        return {"success": True, "workflowId": job["id"], "status": job["status"]}

    @app.get("/api/workflow/status/{workflow_id}")
    def workflow_status(workflow_id: str, key: ApiKey = scope("read")):
        job = service.jobs.get(workflow_id)
        if job is None:
            raise HTTPException(404, "no such workflow")
        return job

    @app.get("/api/workflow/list")
    def workflow_list(key: ApiKey = scope("read")):
        return {"workflows": service.jobs.list()}

    @app.post("/api/dataset/prepare")
    def dataset_prepare(body: DatasetPrepare, key: ApiKey = scope("admin")):
        job = service.jobs.submit("dataset", body.model_dump(), dataset_command(body))
        return {"success": True, "jobId": job["id"], "status": job["status"]}

    @app.get("/api/dataset/list")
    def dataset_list(key: ApiKey = scope("read")):
        return {"datasets": [{"id": j["id"], "status": j["status"], "filters": j["config"], "createdAt": j["createdAt"],
                              "finishedAt": j["finishedAt"], "ledgers": j["result"]} for j in service.jobs.list("dataset")]}

    # -------------------------------------------------------------------------------- review queue
    @app.get("/review", response_class=HTMLResponse)
    def review_page(request: Request, n: int = Query(100, ge=1, le=2000), seed: int = Query(0),
                    date: str | None = Query(None, pattern=r"^\d{4}-\d{2}-\d{2}$"),
                    key: str | None = Query(None, max_length=200)):
        # a browser cannot send a header when it opens a page: the key may come as ?key= (the access log never
        # writes a query string, and the page takes it out of the address bar before it posts with it)
        headers = {"authorization": f"Bearer {key}"} if key is not None else request.headers
        authenticate(service, headers, "read", request.scope.setdefault("state", {}))
        try:
            return HTMLResponse(service.review.page(n, seed, date), headers={"Cache-Control": "no-store"})
        except NoData as e:
            raise HTTPException(404, str(e)) from None

    @app.post("/api/review/marks")
    def review_marks(body: ReviewMarks, key: ApiKey = scope("write")):
        try:
            return service.review.save(body.date, [m.model_dump() for m in body.marks])
        except StaleMarks as e:
            raise HTTPException(409, str(e)) from None
        except (ReviewError, ValueError) as e:
            raise HTTPException(422, str(e)) from None

    # -------------------------------------------------------------------------------- retention, metrics
    @app.post("/api/retention")
    def retention(dryRun: bool = Query(True), includeHeld: bool = Query(False), key: ApiKey = scope("admin")):
        if dryRun:
            return _retention.plan(service.store, p.retention)
        return _retention.apply(service.store, p.retention, include_held=includeHeld)

    @app.get("/metrics")
    def metrics(key: ApiKey = scope("read")):
        now = time.monotonic()
        cached = service._metrics_cache
        if cached is None or now - cached[0] > METRICS_CACHE_S:
            report = store_monitor(service.store, service.monitor_params, service.rules, service.baseline,
                                   since=_hours_ago(STATS_WINDOW_H))
            service._metrics_cache = cached = (now, report)
        text = prometheus_text(service.counters, cached[1],
                               {"commits": service.writer.commits, "writes": service.writer.writes})
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    # -------------------------------------------------------------------------------- proxy
    _client: dict[str, Any] = {}
    _pending: set[asyncio.Task] = set()     # proxy log writes in flight (held so they are not collected)

    def client():
        if "c" not in _client:
            import httpx2
            _client["c"] = httpx2.AsyncClient(timeout=p.proxy.timeout_s, limits=httpx2.Limits(max_connections=256,
                                                                                           max_keepalive_connections=64))
        return _client["c"]

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request, key: ApiKey = scope("write")):
        if not p.proxy.upstream:
            raise HTTPException(404, "the proxy is off: set serve.proxy.upstream")
        raw = await request.body()
        try:
            import json
            payload = json.loads(raw)
        except ValueError:
            raise HTTPException(400, "malformed JSON body") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
            return JSONResponse({"detail": [{"loc": ["body", "messages"], "msg": "a list of messages is required",
                                             "type": "missing"}], "field": "messages"}, status_code=422)
        task = request.headers.get(p.proxy.task_header) or p.proxy.default_task_type
        if len(task) > 64:
            raise HTTPException(422, f"{p.proxy.task_header} over 64 characters")
        headers = {"content-type": "application/json", "accept": request.headers.get("accept", "*/*")}
        if p.proxy.api_key_env and os.environ.get(p.proxy.api_key_env):
            headers["authorization"] = f"Bearer {os.environ[p.proxy.api_key_env]}"
        url = p.proxy.upstream.rstrip("/") + "/chat/completions"
        meta = dict(task_type=task, key_id=key.id, session_id=request.headers.get("x-logtune-session"),
                    prompt_version=request.headers.get("x-logtune-prompt-version"))
        start = time.perf_counter()
        http = client()
        try:
            upstream = await http.send(http.build_request("POST", url, content=raw, headers=headers), stream=True)
        except Exception as e:  # noqa: BLE001 - any transport failure is the upstream's: 502, logged as an error call
            row = _logs.proxy_row(payload, None, latency_ms=(time.perf_counter() - start) * 1000, status_code=502,
                                  error=f"upstream unreachable: {type(e).__name__}", **meta)
            await _log_proxy(service, row)
            raise HTTPException(502, f"upstream unreachable: {type(e).__name__}") from None
        content_type = upstream.headers.get("content-type", "application/json")
        streamed = bool(payload.get("stream")) or "text/event-stream" in content_type
        chunks: list[bytes] = []

        async def finish():
            await upstream.aclose()
            body = b"".join(chunks)
            response = _proxy.parse_response(body, content_type, streamed)
            row = _logs.proxy_row(payload, response, latency_ms=(time.perf_counter() - start) * 1000,
                                  status_code=upstream.status_code, error=_proxy.upstream_error(upstream.status_code, response),
                                  **meta)
            await _log_proxy(service, row)

        passthrough = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "cache-control")}
        if streamed:
            async def relay():
                try:
                    async for chunk in upstream.aiter_raw():
                        chunks.append(chunk)
                        yield chunk
                finally:
                    # logged in its own task: the stream's end is not held back by the commit (an fsync),
                    # and a client that disconnects mid-stream still gets its partial call logged
                    task = asyncio.create_task(finish())
                    _pending.add(task)
                    task.add_done_callback(_pending.discard)
            return StreamingResponse(relay(), status_code=upstream.status_code, headers=passthrough)
        async for chunk in upstream.aiter_raw():
            chunks.append(chunk)
        return Response(b"".join(chunks), status_code=upstream.status_code, headers=passthrough,
                        background=BackgroundTask(finish))

    return app


async def _log_proxy(service: Service, row: dict[str, Any]) -> None:
    def op(cur):
        _logs.insert_call(cur, row)
    try:
        await service.write(op)
        service.counters.log("proxy")
    except Exception as e:  # noqa: BLE001 - the client already has its answer; the loss is counted and logged
        service.counters.log("proxy_log_failed")
        log.error("proxy call not logged: %s", type(e).__name__)


def _hours_ago(hours: float) -> str:
    t = datetime.now(timezone.utc) - timedelta(hours=hours)
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def _retention_loop(service: Service) -> None:
    r = service.params.retention
    if r.interval_s <= 0 or (r.days is None and not r.by_task_type):
        return
    while True:
        await asyncio.sleep(r.interval_s)
        try:
            report = await asyncio.to_thread(_retention.apply, service.store, r)
            log.info("retention: deleted %d calls, %d held by a training set", report["deleted"], report["held"])
        except Exception as e:  # noqa: BLE001 - a failed pass is retried at the next interval
            log.error("retention pass failed: %s", e)


def run(service: Service, host: str, port: int) -> None:
    """Serve on uvicorn (uvloop and httptools when installed), with uvicorn's access log off (see Guard)."""
    import uvicorn
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uvicorn.run(create_app(service), host=host, port=port, access_log=False, loop=loop, log_level="info",
                timeout_graceful_shutdown=10)
