"""The service's endpoints through a real uvicorn server on 127.0.0.1 (seed 003's shapes), and bad input:
malformed JSON, wrong types, huge bodies, unknown fields, missing auth, wrong scope, replayed idempotency
keys, rate limits, CORS; each answered with the right status and nothing stored wrongly."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from logtune.serve.config import ServeParams
from tests.unit.serve_server import running

CALL = {"taskType": "game", "llmPrompt": "Chat: !dice", "aceyOutput": {"speech": "Rolled a 4!", "intents": []},
        "confidence": 0.82, "status": "approved", "responseTime": 840, "cost": 0.0004, "model": "acey-7b",
        "promptVersion": "v3", "sessionId": "s-1"}


@pytest.fixture(scope="module", params=[True, False], ids=["fast-path", "fastapi-route"])
def srv(request, tmp_path_factory):
    """Every endpoint test runs twice: POST /api/log on its ASGI fast path and on its FastAPI route."""
    with running(tmp_path_factory.mktemp("serve"), fast_paths=request.param) as s:
        yield s


def _count(srv) -> int:
    return srv.service.store.query("SELECT COUNT(*) FROM calls")[0][0]


def test_log_feedback_and_read_back_in_seed_003_shapes(srv):
    w, r = srv.client("write"), srv.client("read")
    resp = w.post("/api/log", json=CALL)
    assert resp.status_code == 200 and resp.json()["success"] is True
    log_id = resp.json()["id"]
    fb = w.post("/api/feedback", json={"logId": log_id, "thumbs": "down", "note": "wrong number",
                                       "rewrite": "You rolled a 4."})
    assert fb.status_code == 200 and fb.json()["logId"] == log_id
    logs = r.get("/api/logs", params={"limit": 5, "task_type": "game"}).json()
    mine = next(x for x in logs["logs"] if x["id"] == log_id)
    assert mine["aceyOutput"]["speech"] == "Rolled a 4!" and mine["responseTime"] == 840
    assert mine["feedback"][0]["thumbs"] == "down" and mine["feedback"][0]["rewrite"] == "You rolled a 4."
    assert r.get("/api/logs", params={"task_type": "no-such-type"}).json()["count"] == 0


def test_stats_split_by_model_and_prompt_version_with_alerts(srv):
    w = srv.client("write")
    for i in range(4):
        w.post("/api/log", json={**CALL, "model": "acey-8b", "promptVersion": "v4", "responseTime": 3000 + i})
    stats = srv.client("read").get("/api/logs/stats").json()
    assert stats["total"] == _count(srv) and stats["byTaskType"]["game"] >= 4
    groups = {(g["model"], g["prompt_version"]): g for g in stats["monitor"]["by_model_prompt"]}
    slow = groups[("acey-8b", "v4")]
    assert slow["n_calls"] == 4 and slow["p95_latency_ms"] == 3003
    assert any(a.startswith("model=acey-8b prompt_version=v4: p95_latency_ms") for a in stats["monitor"]["alerts"])


def test_dryrun_and_simulate_use_the_auto_rules(srv):
    r = srv.client("read")
    out = r.post("/api/dryrun", json={"aceyOutput": {"speech": "Test", "intents": [{"type": "memory_proposal",
                                                                                      "confidence": 0.3}]}}).json()
    assert (out["decision"], out["rule"], out["action"]) == ("reject", "unsure_intent", "suppress")
    sim = r.post("/api/simulate", json={"logs": [{"aceyOutput": {"speech": "Sure, rolling."}},
                                                 {"speech": "As an AI language model I cannot"}],
                                        "config": {"dryRun": True, "autoRules": True}}).json()
    assert (sim["total"], sim["kept"], sim["rejected"]) == (2, 1, 1)
    assert sim["byRule"] == {"auto_rule:filler_reply": 1}
    bad = r.post("/api/simulate", json={"logs": [{"aceyOutput": {"speech": "ok"}}, {"nothing": 1}]})
    assert bad.status_code == 422 and bad.json()["field"] == "logs.1"


def test_health_ready_openapi_and_metrics(srv):
    anon = srv.client(None)
    assert anon.get("/health").json()["status"] == "ok"
    assert anon.get("/ready").json()["ready"] is True
    paths = anon.get("/openapi.json").json()["paths"]
    assert {"/api/log", "/api/feedback", "/api/logs", "/api/logs/stats", "/api/dryrun", "/api/simulate",
            "/api/dataset/prepare", "/api/dataset/list", "/api/workflow/start", "/api/workflow/status/{workflow_id}",
            "/api/workflow/list", "/v1/chat/completions", "/metrics"} <= set(paths)
    srv.client("write").post("/api/log", json=CALL)
    text = srv.client("read").get("/metrics").text
    assert 'logtune_serve_requests_total{route="/api/log",status="200"}' in text
    assert "logtune_serve_commits_total" in text and 'logtune_monitor_n_calls{model="acey-7b",prompt_version="v3"}' in text


@pytest.mark.parametrize("body, status, field", [
    (b'{"taskType": "game", "llmPrompt": ', 400, None),                                   # malformed JSON
    (b'[1, 2]', 422, None),                                                               # not an object
    (b'{"taskType": "game", "llmPrompt": 5, "aceyOutput": {}}', 422, "llmPrompt"),        # wrong type
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "confidence": "0.9"}', 422, "confidence"),
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "confidence": true}', 422, "confidence"),
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "confidence": 1.5}', 422, "confidence"),
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "secret": 1}', 422, "secret"),   # unknown field
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {"speech": "s", "x": 1}}', 422, "aceyOutput.x"),
    (b'{"llmPrompt": "p", "aceyOutput": {}}', 422, "taskType"),                          # missing field
    (b'{"taskType": "a b; rm -rf", "llmPrompt": "p", "aceyOutput": {}}', 422, "taskType"),
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "status": "maybe"}', 422, "status"),
    (b'{"taskType": "game", "llmPrompt": "p", "aceyOutput": {}, "model": "' + b"m" * 300 + b'"}', 422, "model"),
])
def test_bad_log_bodies_are_refused_naming_the_field_and_store_nothing(srv, body, status, field):
    before = _count(srv)
    resp = srv.client("write").post("/api/log", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    if field is not None:
        assert resp.json()["field"] == field
    assert _count(srv) == before


def test_a_huge_body_is_413_and_an_over_long_field_422(srv):
    before = _count(srv)
    w = srv.client("write")
    huge = w.post("/api/log", json={**CALL, "llmPrompt": "x" * 2_000_000})
    assert huge.status_code == 413
    long_field = w.post("/api/log", json={**CALL, "llmPrompt": "x" * 100_001})
    assert long_field.status_code == 422 and long_field.json()["field"] == "llmPrompt"
    assert _count(srv) == before


def test_feedback_validation(srv):
    w = srv.client("write")
    assert w.post("/api/feedback", json={"logId": "nope", "thumbs": "down"}).status_code == 404
    empty = w.post("/api/feedback", json={"logId": "nope"})
    assert empty.status_code == 422
    assert w.post("/api/feedback", json={"logId": "x", "thumbs": "sideways"}).json()["field"] == "thumbs"
    assert srv.service.store.query("SELECT COUNT(*) FROM feedback WHERE call_id = 'nope'")[0][0] == 0


def test_missing_or_wrong_auth_and_wrong_scope(srv):
    before = _count(srv)
    anon = srv.client(None)
    assert anon.post("/api/log", json=CALL).status_code == 401
    assert anon.post("/api/log", content=b"{broken").status_code == 401          # auth before parsing
    assert anon.get("/api/logs", headers={"Authorization": "Bearer lt_0000_nope"}).status_code == 401
    forged = srv.keys["write"][:-4] + "AAAA"
    assert anon.post("/api/log", json=CALL, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert srv.client("read").post("/api/log", json=CALL).status_code == 403      # read key cannot write
    assert srv.client("write").get("/api/logs").status_code == 403               # write key cannot read
    assert srv.client("write").post("/api/workflow/start", json={}).status_code == 403
    assert srv.client("read").post("/api/retention").status_code == 403
    assert srv.client("admin").get("/api/logs").status_code == 200               # admin implies read
    assert anon.post("/api/log", json=CALL, headers={"X-API-Key": srv.keys["write"]}).status_code == 200
    assert _count(srv) == before + 1


def test_replayed_idempotency_key_logs_once(srv):
    w = srv.client("write")
    before = _count(srv)
    first = w.post("/api/log", json=CALL, headers={"Idempotency-Key": "retry-42"})
    again = w.post("/api/log", json=CALL, headers={"Idempotency-Key": "retry-42"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = w.post("/api/log", json={**CALL, "llmPrompt": "other"}, headers={"Idempotency-Key": "retry-42"})
    assert other.status_code == 409
    assert _count(srv) == before + 1


def test_rate_limit_per_key_and_cors_closed_by_default(tmp_path, srv):
    assert "access-control-allow-origin" not in srv.client("read").get(
        "/health", headers={"Origin": "https://evil.example"}).headers
    params = replace(ServeParams(), rate_limit_per_s=1.0, rate_limit_burst=3, cors_origins=["https://dash.example"])
    with running(tmp_path, params) as s:
        w = s.client("write")
        codes = [w.post("/api/log", json=CALL).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        assert s.client("read").get("/api/logs").status_code == 200              # another key, its own bucket
        assert _count(s) == 3
        ok = s.client("read").get("/health", headers={"Origin": "https://dash.example"})
        assert ok.headers["access-control-allow-origin"] == "https://dash.example"
        assert "access-control-allow-origin" not in s.client("read").get(
            "/health", headers={"Origin": "https://evil.example"}).headers


def test_server_logs_carry_no_body_query_or_key(tmp_path, caplog):
    params = replace(ServeParams(), access_log=True)
    secret = "SSN 078-05-1120 of jane@example.com"
    with caplog.at_level(logging.DEBUG):
        with running(tmp_path, params) as s:
            w = s.client("write")
            w.post("/api/log", json={**CALL, "llmPrompt": secret})
            w.post("/api/log", json={**CALL, "llmPrompt": 5, "note": secret})
            s.client("read").get("/api/logs", params={"task_type": secret})
    # the server's loggers only (the test's own HTTP client logs its URLs, query included)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("logtune", "uvicorn", "fastapi")))
    assert "/api/log" in text                       # the access log did run
    assert "078-05-1120" not in text and "jane@example.com" not in text
    assert s.keys["write"].split("_")[-1] not in text
