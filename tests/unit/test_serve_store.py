"""The service's store on SQLite and PostgreSQL: migrations, group commit, idempotency, the serve_store source
(conversion, feedback, quarantine, the incremental watermark), retention and training-set holds.

Every test runs on SQLite, and again on a throwaway PostgreSQL server when one can be started here
(skipped with the reason otherwise)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from logtune.ids import conversation_id
from logtune.serve import logs, retention
from logtune.serve.config import RetentionParams
from logtune.serve.models import FeedbackRequest, LogRequest
from logtune.serve.writer import GroupCommitWriter
from logtune.sources import serve_store
from logtune.sources.export import SourceParams, ExportParams, export_source
from logtune.store import MIGRATIONS, SCHEMA_VERSION, Conflict, Store, StoreError
from tests.unit.pg_server import PostgresServer


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path, postgres):
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    if postgres.url is None:
        pytest.skip(postgres.skip_reason)
    return postgres.fresh_database(f"t_{abs(hash(request.node.name)) % 10**9}")


@pytest.fixture
def store(store_url):
    s = Store(store_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def writer(store):
    w = GroupCommitWriter(store)
    w.start()
    yield w
    w.stop()


def _log(writer, **fields) -> str:
    body = LogRequest(**{"taskType": "game", "llmPrompt": "Chat: !dice", "aceyOutput": {"speech": "Rolled a 4!"},
                         **fields})
    row = logs.log_row(body, "k1")
    writer.call(lambda c: logs.insert_call(c, row))
    return row["id"]


def _feedback(writer, log_id, **fields):
    return writer.call(logs.feedback_op(FeedbackRequest(logId=log_id, **fields), "k1"))


# ------------------------------------------------------------------------------------------- migrations

def test_migrate_records_each_version_and_is_idempotent(store):
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert store.migrate() == SCHEMA_VERSION   # again: nothing to do, no error
    rows = store.query("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert rows[0][1] == "_migration_1"


def test_a_store_from_a_newer_logtune_is_refused(store):
    store.transaction(lambda c: c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                          (SCHEMA_VERSION + 1, "future", "2030-01-01")))
    with pytest.raises(StoreError, match="upgrade logtune"):
        store.migrate()


# ------------------------------------------------------------------------------------------- writes

def test_group_commit_under_concurrency_keeps_every_write(store, writer):
    ids: list[str] = []
    lock = threading.Lock()

    def client(n):
        for i in range(25):
            cid = _log(writer, llmPrompt=f"client {n} call {i}")
            with lock:
                ids.append(cid)
    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(ids) == 200 == len(set(ids))
    assert store.query("SELECT COUNT(*) FROM calls")[0][0] == 200
    assert store.max_change() == 200
    assert writer.commits <= writer.writes == 200


def test_a_failing_write_fails_alone_in_its_group(store, writer):
    first = _log(writer, id="dup-1")
    assert first == "dup-1"
    with pytest.raises(Conflict, match="already logged"):
        _log(writer, id="dup-1")
    _log(writer, id="after-dup")
    assert {r[0] for r in store.query("SELECT id FROM calls")} == {"dup-1", "after-dup"}
    assert store.query("SELECT COUNT(*) FROM changes")[0][0] == 2   # the failed insert left no change behind


def test_feedback_for_an_unknown_call_is_not_found_and_not_stored(store, writer):
    with pytest.raises(logs.NotFound):
        _feedback(writer, "no-such-call", thumbs="down")
    assert store.query("SELECT COUNT(*) FROM feedback")[0][0] == 0


def test_idempotency_replays_the_first_answer_and_rejects_another_body(store, writer):
    row = logs.log_row(LogRequest(taskType="game", llmPrompt="p", aceyOutput={"speech": "s"}), "k1")
    first = writer.call(logs.idempotent(logs.log_op(row), "k1", "retry-1", "hash-a"))
    again = writer.call(logs.idempotent(logs.log_op(dict(row, id="other-id")), "k1", "retry-1", "hash-a"))
    assert first[2] is False and again[2] is True and again[1] == first[1]
    with pytest.raises(Conflict, match="different request body"):
        writer.call(logs.idempotent(logs.log_op(dict(row, id="third")), "k1", "retry-1", "hash-b"))
    other_key = writer.call(logs.idempotent(logs.log_op(dict(row, id="fourth")), "k2", "retry-1", "hash-a"))
    assert other_key[2] is False    # keys are per API key
    assert store.query("SELECT COUNT(*) FROM calls")[0][0] == 2


# ------------------------------------------------------------------------------------------- export

def _read(stamp_path, cache, name="serve"):
    return list(serve_store.read(stamp_path, {"cache": str(cache) if cache else None}, name))


def test_calls_with_feedback_become_conversations(store, writer, tmp_path):
    a = _log(writer, confidence=0.82, status="approved", responseTime=840, cost=0.0004, model="acey-7b",
             promptVersion="v3", systemPrompt="You are Acey.", sessionId="s1",
             aceyOutput={"speech": "Rolled a 4!", "intents": [{"type": "game_action", "confidence": 0.9}]})
    _feedback(writer, a, thumbs="down", note="too short")
    _feedback(writer, a, rewrite="You rolled a 4: nice!")
    b = _log(writer, error="timeout", aceyOutput={"speech": None, "intents": [{"type": "noop"}]})
    path = tmp_path / "store.json"
    serve_store.write_stamp(store, path)
    items = list(serve_store.read(path, {"url": store.url, "cache": None}, "serve"))
    assert [i["source_id"] for i in items] == [a, b]
    conv = items[0]
    assert conv["id"] == conversation_id("serve", a)
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
    reply = conv["messages"][1]
    assert reply["content"] == "Rolled a 4!" and json.loads(reply["tool_calls"])[0]["type"] == "game_action"
    assert (reply["rating"], reply["feedback_note"], reply["rewrite"]) == (-1, "too short", "You rolled a 4: nice!")
    meta = json.loads(reply["feedback_meta"])
    assert meta["prompt_version_label"] == "v3" and len(meta["feedback"]) == 2
    assert (conv["confidence"], conv["approval"], conv["latency_ms"], conv["cost"]) == (0.82, "approved", 840.0, 0.0004)
    assert conv["model_version"] == "acey-7b" and conv["system_prompt"] == "You are Acey." and conv["prompt_version"]
    assert items[1]["status"] == "error" and items[1]["error"] == "timeout"


def test_feedback_on_a_non_assistant_turn_is_quarantined_with_its_reason(store, writer, tmp_path):
    a = _log(writer)
    _feedback(writer, a, messageIndex=0, thumbs="up")     # message 0 is the user's prompt
    serve_store.write_stamp(store, tmp_path / "s.json")
    items = list(serve_store.read(tmp_path / "s.json", {"url": store.url, "cache": None}, "serve"))
    assert items[0]["quarantine"] and items[0]["reason"] == "feedback_target"
    assert a in items[0]["location"]


def test_reexport_reads_only_changes_after_the_watermark(store, writer, tmp_path, monkeypatch):
    ids = [_log(writer, llmPrompt=f"call {i}") for i in range(30)]
    stamp, cache = tmp_path / "s.json", tmp_path / "cache"
    serve_store.write_stamp(store, stamp)
    asked: list[int] = []
    real = Store.calls_by_id
    monkeypatch.setattr(Store, "calls_by_id", lambda self, chunk: asked.append(len(chunk)) or real(self, chunk))
    first = list(serve_store.read(stamp, {"url": store.url, "cache": str(cache)}, "serve"))
    assert len(first) == 30 and sum(asked) == 30
    asked.clear()
    new = _log(writer, llmPrompt="a new call")
    _feedback(writer, ids[3], thumbs="up")
    late = _log(writer, llmPrompt="after the stamp")
    store.transaction(lambda c: c.execute("DELETE FROM changes WHERE call_id = ?", (late,)))  # keep it past the stamp
    serve_store.write_stamp(store, stamp)
    second = list(serve_store.read(stamp, {"url": store.url, "cache": str(cache)}, "serve"))
    assert sum(asked) == 2                       # only the new call and the one with new feedback were read
    assert [c["source_id"] for c in second] == [*ids, new]
    assert second[3]["messages"][1]["rating"] == 1
    full = list(serve_store.read(stamp, {"url": store.url, "cache": None}, "serve"))
    assert full == second                        # incremental == full read


def test_export_stage_accounts_for_every_call(store, writer, tmp_path):
    for i in range(12):
        _log(writer, llmPrompt=f"call {i}")
    _feedback(writer, _log(writer), messageIndex=0, thumbs="up")   # quarantined
    serve_store.write_stamp(store, tmp_path / "s.json")
    source = SourceParams(name="serve", kind="serve_store", path=str(tmp_path / "s.json"),
                          options={"url": store.url, "cache": str(tmp_path / "cache")})
    ledger = export_source(source, tmp_path / "out", ExportParams())
    assert (ledger["read"], ledger["exported"], ledger["quarantined"]) == (13, 12, 1)
    assert ledger["quarantined_by_reason"] == {"feedback_target": 1}


def test_a_stamp_without_a_watermark_is_a_source_error(tmp_path):
    (tmp_path / "s.json").write_text('{"url": "x.db"}')
    with pytest.raises(serve_store.SourceError, match="watermark"):
        list(serve_store.read(tmp_path / "s.json", {}, "serve"))


# ------------------------------------------------------------------------------------------- retention

def _age(store, call_id, days):
    t = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    store.transaction(lambda c: c.execute("UPDATE calls SET received_at = ? WHERE id = ?", (t, call_id)))


def test_retention_deletes_old_calls_per_task_type_and_holds_referenced_ones(store, writer, tmp_path):
    old_game, old_web, new_game, held = (_log(writer, taskType=t) for t in ("game", "website", "game", "game"))
    for cid in (old_game, old_web, held):
        _age(store, cid, 40)
    _feedback(writer, old_game, thumbs="down")
    store.transaction(lambda c: c.execute("INSERT INTO training_refs (call_id, dataset, ref, created_at) "
                                          "VALUES (?, 'data/train', 'job-1', 'now')", (held,)))
    p = RetentionParams(days=90, by_task_type={"game": 30})
    plan = retention.plan(store, p)
    game = next(r for r in plan["rules"] if r["task_type"] == "game")
    assert (game["due"], game["held"], game["delete"]) == (2, 1, 1)
    assert plan["delete"] == 1                   # the 40-day-old website call is under its 90 days
    before = store.max_change()
    report = retention.apply(store, p)
    assert report["deleted"] == 1 and report["deleted_referenced"] == 0
    assert {r[0] for r in store.query("SELECT id FROM calls")} == {old_web, new_game, held}
    assert store.query("SELECT COUNT(*) FROM feedback")[0][0] == 0
    assert store.changed_calls(before, store.max_change()) == [(old_game, "delete")]
    forced = retention.apply(store, p, include_held=True)
    assert forced["deleted"] == 1 and forced["deleted_referenced"] == 1   # said, not silent


def test_hold_training_set_finds_the_calls_a_training_file_came_from(store, writer, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    a, b = _log(writer), _log(writer)
    (tmp_path / "train").mkdir()
    pq.write_table(pa.table({"conversation_id": [conversation_id("serve", a), "0123456789abcdef"]}),
                   tmp_path / "train" / "sft.parquet")
    assert retention.hold_training_set(store, tmp_path / "train", ["serve"], "data/train") == 1
    assert store.query("SELECT call_id FROM training_refs")[0][0] == a
    assert b not in {r[0] for r in store.query("SELECT call_id FROM training_refs")}


def test_the_service_runs_on_this_store(store_url, tmp_path):
    """The same endpoints over HTTP on each engine: log, feedback, read back, readiness."""
    from tests.unit.serve_server import running
    with running(tmp_path, url=store_url) as s:
        w = s.client("write")
        resp = w.post("/api/log", json={"taskType": "game", "llmPrompt": "p", "aceyOutput": {"speech": "s"}},
                      headers={"Idempotency-Key": "k"})
        again = w.post("/api/log", json={"taskType": "game", "llmPrompt": "p", "aceyOutput": {"speech": "s"}},
                       headers={"Idempotency-Key": "k"})
        assert resp.status_code == again.status_code == 200 and again.json() == resp.json()
        assert w.post("/api/feedback", json={"logId": resp.json()["id"], "thumbs": "up"}).status_code == 200
        logs_ = s.client("read").get("/api/logs").json()["logs"]
        assert [x["id"] for x in logs_] == [resp.json()["id"]] and logs_[0]["feedback"][0]["thumbs"] == "up"
        assert s.client(None).get("/ready").json()["store"] == ("postgres" if "postgresql" in store_url else "sqlite")
