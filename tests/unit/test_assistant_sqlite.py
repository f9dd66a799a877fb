"""The assistant_sqlite adapter: exact mapping of a hand-written DB, ordering, quarantine, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from logtune.ids import conversation_id, prompt_version
from logtune.sources import SourceError, assistant_sqlite, get_adapter, is_quarantine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "support_small.sql"


def make_db(path: Path, sql: str | None = None) -> Path:
    con = sqlite3.connect(path)
    con.executescript(sql if sql is not None else FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return path


def read_all(path: Path, options=None, max_chars=200):
    return list(assistant_sqlite.read(path, options, "support", max_message_chars=max_chars))


def test_registry_knows_assistant_sqlite():
    assert get_adapter("assistant_sqlite") is assistant_sqlite
    with pytest.raises(SourceError, match="unknown source kind 'csv'"):
        get_adapter("csv")


def test_maps_the_happy_path_session_exactly(tmp_path):
    items = read_all(make_db(tmp_path / "a.db"))
    assert items[0] == {
        "id": conversation_id("support", "1"), "source": "support", "source_id": "1", "task_type": "support",
        "system_prompt": "You are the iSPEC support assistant.",
        "prompt_version": prompt_version("You are the iSPEC support assistant."), "model_version": "m1",
        "context": '{"records":[{"id":"PRJ-1042","title":"Kinase screen","owner":"Dana Ruiz","status":"in progress","due":"2025-03-14"}]}',
        "messages": [
            {"id": "1", "role": "user", "content": "What's the status of PRJ-1042?", "created_at": "2025-01-06T09:00:05Z",
             "tool_calls": None, "rating": None, "feedback_note": None, "rewrite": None, "feedback_meta": None},
            {"id": "2", "role": "assistant", "content": "PRJ-1042 (Kinase screen) is currently in progress, per the record.",
             "created_at": "2025-01-06T09:00:09Z", "tool_calls": None, "rating": 1, "feedback_note": "Thanks!",
             "rewrite": None, "feedback_meta": '{"tags": ["helpful"]}'},
        ],
        "status": "ok", "error": None, "confidence": None, "approval": None, "latency_ms": None, "cost": None,
        "created_at": "2025-01-06T09:00:00Z", "provenance": "real",
    }


def test_orders_messages_by_created_at_and_extracts_rewrite(tmp_path):
    session2 = read_all(make_db(tmp_path / "a.db"))[1]
    assert [m["id"] for m in session2["messages"]] == ["3", "4", "5", "6"]
    assert session2["messages"][1]["rating"] == -1
    assert session2["messages"][1]["rewrite"] == "SMP-20931 (Liver lysate batch 3) is currently queued, per the record."


def test_broken_and_empty_sessions_are_exported_as_they_are(tmp_path):
    items = {i.get("source_id"): i for i in read_all(make_db(tmp_path / "a.db")) if not is_quarantine(i)}
    assert sorted(items) == ["1", "2", "3", "6"]
    assert (items["3"]["status"], items["3"]["error"], items["3"]["context"]) == ("error", "model server returned 503", None)
    assert items["6"]["messages"] == [] and items["6"]["prompt_version"] is None


def test_bad_rows_are_quarantined_with_reason_and_row_id(tmp_path):
    bad = [i for i in read_all(make_db(tmp_path / "a.db")) if is_quarantine(i)]
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("message_too_long", "table support_message row id 8"),
        ("invalid_feedback", "table support_message row id 11"),
        ("orphan_message", "table support_message row id 99"),
    ]
    assert bad[0]["record"]["session"]["id"] == 4 and len(bad[0]["record"]["messages"]) == 2


def test_no_limit_keeps_long_messages(tmp_path):
    items = read_all(make_db(tmp_path / "a.db"), max_chars=None)
    assert "4" in {i.get("source_id") for i in items}


def test_not_a_database_is_an_error_naming_the_path(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is a text file, not SQLite\n" * 20)
    with pytest.raises(SourceError, match=r"notes\.db: not an SQLite database"):
        read_all(path)


def test_missing_file_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(SourceError, match=r"absent\.db: source database not found"):
        read_all(tmp_path / "absent.db")


def test_missing_table_is_an_error_naming_it(tmp_path):
    path = make_db(tmp_path / "a.db", "CREATE TABLE support_session (id INTEGER PRIMARY KEY, created_at TEXT, status TEXT,"
                                      " error TEXT, system_prompt TEXT, model_version TEXT, state_json TEXT);")
    with pytest.raises(SourceError, match=r"a\.db: table 'support_message' not found"):
        read_all(path)


def test_missing_column_is_an_error_naming_table_and_column(tmp_path):
    path = make_db(tmp_path / "a.db", FIXTURE.read_text().replace("state_json TEXT", "state TEXT"))
    with pytest.raises(SourceError, match=r"table 'support_session' has no column 'state_json'"):
        read_all(path)


def test_options_map_other_table_and_column_names(tmp_path):
    path = make_db(tmp_path / "a.db", """
        CREATE TABLE chats (chat_id INTEGER PRIMARY KEY, started TEXT, state TEXT, ctx TEXT);
        CREATE TABLE turns (turn_id INTEGER PRIMARY KEY, chat INTEGER, speaker TEXT, body TEXT, ts TEXT, thumbs INTEGER);
        INSERT INTO chats VALUES (7, '2025-02-01T00:00:00Z', 'ok', '{"records":[]}');
        INSERT INTO turns VALUES (1, 7, 'user', 'hi', '2025-02-01T00:00:01Z', NULL),
                                 (2, 7, 'assistant', 'hello', '2025-02-01T00:00:02Z', -1);""")
    options = {"session_table": "chats", "message_table": "turns", "task_type": "helpdesk",
               "session_columns": {"id": "chat_id", "created_at": "started", "status": "state", "error": None,
                                   "system_prompt": None, "model_version": None, "context": "ctx"},
               "message_columns": {"id": "turn_id", "session_id": "chat", "role": "speaker", "content": "body",
                                   "created_at": "ts", "feedback": "thumbs", "feedback_note": None, "feedback_meta": None}}
    (conv,) = read_all(path, options)
    assert (conv["source_id"], conv["task_type"], conv["context"], conv["system_prompt"]) == ("7", "helpdesk", '{"records":[]}', None)
    assert [(m["role"], m["content"], m["rating"]) for m in conv["messages"]] == [("user", "hi", None), ("assistant", "hello", -1)]


def test_unknown_option_key_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="unknown option 'sesion_table'"):
        read_all(make_db(tmp_path / "a.db"), {"sesion_table": "x"})


def test_blob_values_are_decoded_as_text_and_invalid_utf8_is_flagged_not_replaced(tmp_path):
    # SQLite stores whatever it is given: a UTF-8 BLOB in a text column comes out as text; a BLOB or TEXT
    # that is not UTF-8 quarantines its session (issue #15: never passed on as U+FFFD, never a crash).
    path = make_db(tmp_path / "a.db", FIXTURE.read_text(encoding="utf-8") + """
        INSERT INTO support_session VALUES (7, '2025-01-07T09:00:00Z', 'u', 'ok', NULL, NULL, NULL, X'7B7D');
        INSERT INTO support_message VALUES (20, 7, 'user', X'68C3A9', '2025-01-07T09:00:01Z', NULL, NULL, NULL);
        INSERT INTO support_session VALUES (8, '2025-01-07T09:00:00Z', 'u', 'ok', NULL, NULL, NULL, NULL);
        INSERT INTO support_message VALUES (21, 8, 'user', X'68C3A9FF', '2025-01-07T09:00:01Z', NULL, NULL, NULL);
        INSERT INTO support_session VALUES (9, '2025-01-07T09:00:00Z', 'u', 'ok', NULL, NULL, NULL, NULL);
        INSERT INTO support_message VALUES (22, 9, 'user', CAST(X'68C3A9FF' AS TEXT), '2025-01-07T09:00:01Z', NULL, NULL, NULL);""")
    items = read_all(path)
    (conv,) = [i for i in items if i.get("source_id") == "7"]
    assert conv["context"] == "{}" and conv["messages"][0]["content"] == "h\u00e9"
    bad = [(q["reason"], q["location"]) for q in items if is_quarantine(q) and q["reason"] == "invalid_utf8"]
    assert bad == [("invalid_utf8", "table support_message row id 21"), ("invalid_utf8", "table support_message row id 22")]


def test_a_session_without_messages_between_others_keeps_sessions_and_messages_aligned(tmp_path):
    path = make_db(tmp_path / "a.db", FIXTURE.read_text(encoding="utf-8") + """
        INSERT INTO support_session VALUES (8, '2025-01-08T09:00:00Z', 'u', 'ok', NULL, 'P8', NULL, NULL);
        INSERT INTO support_session VALUES (9, '2025-01-09T09:00:00Z', 'u', 'ok', NULL, 'P9', NULL, NULL);
        INSERT INTO support_message VALUES (30, 9, 'user', 'hi nine', '2025-01-09T09:00:01Z', NULL, NULL, NULL);""")
    convs = {i["source_id"]: i for i in read_all(path) if not is_quarantine(i)}
    assert (convs["8"]["system_prompt"], convs["8"]["messages"]) == ("P8", [])
    assert convs["9"]["system_prompt"] == "P9" and [m["content"] for m in convs["9"]["messages"]] == ["hi nine"]
