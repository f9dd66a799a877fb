"""Export of one source: Parquet + quarantine file, schema check, a ledger that balances."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from logtune.sources.export import (ExportParams, SourceParams, conversation_validator, export_source, load_source,
                            schema_problem)
from logtune.io import read_jsonl, read_rows
from logtune.params import ParamsError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "support_small.sql"


def fixture_db(tmp_path: Path) -> Path:
    path = tmp_path / "support.db"
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return path


def test_export_writes_rows_and_quarantine_and_balances(tmp_path):
    source = SourceParams(name="support", kind="assistant_sqlite", path=str(fixture_db(tmp_path)))
    metrics = export_source(source, tmp_path / "out", ExportParams(max_message_chars=200))
    assert metrics == {"source": "support", "read": 7, "exported": 4, "quarantined": 3, "messages_exported": 7,
                       "quarantined_by_reason": {"invalid_feedback": 1, "message_too_long": 1, "orphan_message": 1},
                       # the per-shard ledger: one shard of sessions (6 < export.shard_sessions), then the orphans
                       "shards": {"00000": {"session_ids": [None, None], "read": 6, "exported": 4, "quarantined": 2,
                                            "quarantined_by_reason": {"invalid_feedback": 1, "message_too_long": 1},
                                            "messages_exported": 7},
                                  "tail": {"what": "orphan messages", "read": 1, "exported": 0, "quarantined": 1,
                                           "quarantined_by_reason": {"orphan_message": 1}, "messages_exported": 0}}}
    rows = read_rows(tmp_path / "out" / "support.parquet")
    assert [r["source_id"] for r in rows] == ["1", "2", "3", "6"]
    quarantined = read_jsonl(tmp_path / "out" / "support.quarantine.jsonl")
    assert [q["reason"] for q in quarantined] == ["message_too_long", "invalid_feedback", "orphan_message"]
    assert all(q["source"] == "support" and q["location"].startswith("table support_message row id") for q in quarantined)


def test_quarantine_file_is_written_even_when_empty(tmp_path):
    source = SourceParams(name="support", kind="assistant_sqlite", path=str(fixture_db(tmp_path)))
    metrics = export_source(source, tmp_path / "out", ExportParams(max_message_chars=100_000))
    assert metrics["quarantined_by_reason"] == {"invalid_feedback": 1, "orphan_message": 1}
    assert (tmp_path / "out" / "support.quarantine.jsonl").exists()


def test_schema_problem_names_the_field():
    conv = {"id": "0123456789abcdef", "source": "s", "source_id": "1", "task_type": "support", "provenance": "real",
            "messages": [{"id": "1", "role": "assistant", "content": "hi", "rating": 2}]}
    assert schema_problem(conversation_validator(), conv) == "messages/0/rating: 2 is not one of [1, -1, None]"


def test_schema_accepts_an_adapter_row():
    conv = {"id": "0123456789abcdef", "source": "s", "source_id": "1", "task_type": "support", "provenance": "real",
            "system_prompt": None, "prompt_version": None, "context": None, "status": "ok", "approval": None,
            "messages": [{"id": "1", "role": "user", "content": "hi", "rating": None, "rewrite": None}]}
    assert schema_problem(conversation_validator(), conv) is None


def test_load_source_by_name_and_unknown_name(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("sources:\n  - {name: support, kind: assistant_sqlite, path: data/raw/assistant.db}\n")
    assert load_source(params, "support") == SourceParams("support", "assistant_sqlite", "data/raw/assistant.db", {})
    with pytest.raises(ParamsError, match="no source named 'chat' in 'sources' \\(have: support\\)"):
        load_source(params, "chat")


def test_load_source_rejects_unknown_key(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("sources:\n  support: {kind: assistant_sqlite, path: x.db, pth: y}\n")
    with pytest.raises(ParamsError, match="sources.support': unknown key 'pth'"):
        load_source(params, "support")


def test_a_row_failing_the_schema_is_quarantined_as_schema(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from logtune import sources
    good = {"id": "0123456789abcdef", "source": "fake", "source_id": "1", "task_type": "support",
            "provenance": "real", "messages": []}
    bad = {**good, "source_id": "2", "provenance": "invented"}
    monkeypatch.setitem(sources.KINDS, "fake", SimpleNamespace(read=lambda path, options, source_name: iter([good, bad])))
    metrics = export_source(SourceParams("fake", "fake", "unused"), tmp_path, ExportParams())
    assert (metrics["read"], metrics["exported"], metrics["quarantined_by_reason"]) == (2, 1, {"schema": 1})
    (entry,) = read_jsonl(tmp_path / "fake.quarantine.jsonl")
    assert entry["detail"].startswith("provenance: 'invented' is not one of") and entry["record"]["source_id"] == "2"


def test_export_applies_the_length_limit_for_adapters_that_do_not(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from logtune import sources
    conv = {"id": "0123456789abcdef", "source": "fake", "source_id": "7", "task_type": "support", "provenance": "real",
            "messages": [{"id": "m1", "role": "user", "content": "x" * 30}]}
    monkeypatch.setitem(sources.KINDS, "fake", SimpleNamespace(read=lambda path, options, source_name: iter([conv])))
    metrics = export_source(SourceParams("fake", "fake", "in.jsonl"), tmp_path, ExportParams(max_message_chars=20))
    assert metrics["quarantined_by_reason"] == {"message_too_long": 1}
    (entry,) = read_jsonl(tmp_path / "fake.quarantine.jsonl")
    assert entry["location"] == "fake in.jsonl id 7 message m1" and entry["quarantine"] is True


def test_every_registered_kind_imports_and_has_read():
    import inspect

    from logtune import sources
    for kind in sources.KINDS:
        params = list(inspect.signature(sources.get_adapter(kind).read).parameters)
        assert params[:3] == ["path", "options", "source_name"], kind


def test_conversation_writer_writes_the_same_bytes_as_row_writer(tmp_path):
    from logtune import records
    from logtune.sources.export import ConversationWriter
    from logtune.io import RowWriter
    from logtune.sources import assistant_sqlite, is_quarantine

    rows = [i for i in assistant_sqlite.read(fixture_db(tmp_path), {}, "support") if not is_quarantine(i)]
    with RowWriter(tmp_path / "a.parquet", records.CONVERSATION, batch_size=2) as plain:
        for row in rows:
            plain.write(row)
    # flushed by rows (2) before the message limit: the same batches, so the same row groups
    with ConversationWriter(tmp_path / "b.parquet", batch_size=2, max_messages=1000) as fast:
        for row in rows:
            fast.write(row)
    assert fast.count == plain.count == len(rows) == 5
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_sources_keyed_by_name_load_like_the_list_form(tmp_path):
    from logtune.sources.export import load_source, source_entries

    params = tmp_path / "params.yaml"
    params.write_text("sources:\n  support: {kind: assistant_sqlite, path: a.db}\n  chats: {kind: sharegpt, path: c.json}\n")
    assert [e["name"] for e in source_entries(params)] == ["support", "chats"]
    source = load_source(params, "chats")
    assert (source.name, source.kind, source.path) == ("chats", "sharegpt", "c.json")
