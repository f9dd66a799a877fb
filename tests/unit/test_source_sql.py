"""The `sql` source kind: Open WebUI's schema as a preset, any mapping or SELECT, parent-id branches, epoch
times, ratings from their own table, and bad databases (issue #14 and the assistant_sqlite part of #15)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from logtune.sources.export import ExportParams, SourceParams, export_source
from logtune.io import read_jsonl
from logtune.sources import SourceError, assistant_sqlite, get_adapter, sql
from tests.unit.source_contract import assert_contract, notes, split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def make_db(path: Path, script: str) -> Path:
    con = sqlite3.connect(path)
    con.executescript(script)
    con.close()
    return path


def webui(tmp_path: Path) -> Path:
    return make_db(tmp_path / "webui.db", (FIXTURES / "sql" / "open_webui.sql").read_text(encoding="utf-8"))


def test_open_webui_preset_walks_the_active_branch_and_joins_every_rating(tmp_path):
    items = list(sql.read(webui(tmp_path), {"preset": "open_webui"}, "webui"))
    warned, dropped = notes(items, "_warnings"), notes(items)
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    branch = {c["source_id"]: c for c in convs}["c-branch"]
    assert [m["id"] for m in branch["messages"]] == ["q1", "a2", "q2", "a3"]   # by parent id, not time or file order
    assert branch["created_at"] == "2025-05-22T11:56:13Z" and branch["messages"][0]["created_at"] == "2025-05-22T11:56:13Z"
    assert branch["system_prompt"] == "Είσαι ο βοηθός υποστήριξης." and branch["model_version"] == "support-bot:latest"
    a2, a3 = branch["messages"][1], branch["messages"][3]
    (alt,) = json.loads(a2["feedback_meta"])["alternatives"]
    assert alt == {"id": "a1", "role": "assistant", "content": "Δεν γνωρίζω.", "rating": -1, "feedback_note": "Δεν βοήθησε"}
    assert (a3["rating"], a3["feedback_note"]) == (1, "Σωστό")
    assert json.loads(a3["feedback_meta"])["feedback"]["meta"]["details"] == {"rating": 9}
    annot = {c["source_id"]: c for c in convs}["c-annot"]
    assert [(m["role"], m["rating"], m["feedback_note"]) for m in annot["messages"]] == [
        ("user", None, None), ("assistant", 1, "quick")]
    assert sorted((q["reason"], q["location"]) for q in bad) == [
        ("broken_tree", "table chat row id c-loop message x2"),
        ("orphan_feedback", "table feedback row id f-3"),
        ("unknown_rating", "table feedback row id f-4")]
    assert (warned, dropped) == ({}, {"messages_json[].sources": 1})
    assert json.loads(annot["messages"][1]["feedback_meta"]) == {"rating": 1, "comment": "quick"}


def test_open_webui_export_ledger_balances_and_every_rating_is_accounted(tmp_path):
    source = SourceParams(name="webui", kind="sql", path=str(webui(tmp_path)), options={"preset": "open_webui"})
    m = export_source(source, tmp_path / "out", ExportParams())
    assert (m["read"], m["exported"], m["quarantined"]) == (5, 2, 3)
    ratings = 4   # rows in the feedback table: two on exported turns, two quarantined with their reason
    on_turns = [1 for q in read_jsonl(tmp_path / "out" / "webui.quarantine.jsonl") if q["location"].startswith("table feedback")]
    assert len(on_turns) + 2 == ratings


def test_without_parent_ids_turns_follow_time_with_a_stable_tie_break_and_a_warning(tmp_path):
    db = make_db(tmp_path / "d.db", """
        CREATE TABLE chats (chat_id TEXT, started INTEGER, ctx TEXT);
        CREATE TABLE turns (turn_id TEXT, chat TEXT, speaker TEXT, body TEXT, ts INTEGER);
        CREATE TABLE votes (vote_id INTEGER, turn TEXT, thumbs TEXT, comment TEXT, at INTEGER);
        INSERT INTO chats VALUES ('k1', 1747914973000, NULL), ('k2', 1747914973000, NULL);
        -- uuid-like ids in the wrong order and one shared millisecond: the user turn still comes first
        INSERT INTO turns VALUES ('f0', 'k1', 'assistant', 'Hello, how can I help?', 1747914973500),
                                 ('0a', 'k1', 'user', 'Hi', 1747914973500),
                                 ('9c', 'k1', 'user', 'Print an invoice?', 1747914980000),
                                 ('11', 'k1', 'assistant', 'File > Print.', 1747914981000),
                                 ('z1', 'k2', 'user', 'Q', 1747914990000), ('z2', 'k2', 'assistant', 'A', 1747914991000);
        INSERT INTO votes VALUES (1, '11', 'thumbs_down', 'too short', 1747914999000), (2, '11', 'thumbs_up', NULL, 1747915999000),
                                 (3, 'z2', 'up', NULL, 1747914995000);""")
    options = {"sessions": {"table": "chats", "columns": {"id": "chat_id", "created_at": "started", "context": "ctx"}},
               "messages": {"table": "turns", "columns": {"id": "turn_id", "session_id": "chat", "role": "speaker",
                                                          "content": "body", "created_at": "ts"}},
               "ratings": {"table": "votes", "columns": {"id": "vote_id", "message_id": "turn", "rating": "thumbs",
                                                         "note": "comment", "created_at": "at"}},
               "timestamps": "epoch_ms"}
    items = list(get_adapter("sql").read(db, options, "desk"))
    assert notes(items, "_warnings") == {"ambiguous_order": 1}   # k1 only
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    k1, k2 = convs
    assert [m["id"] for m in k1["messages"]] == ["0a", "f0", "9c", "11"] and bad == []
    last = k1["messages"][-1]
    assert (last["rating"], last["feedback_note"]) == (1, "too short")  # the latest vote wins, the note is kept
    assert [r["rating"] for r in json.loads(last["feedback_meta"])["ratings"]] == [-1, 1]
    assert k2["messages"][-1]["rating"] == 1 and k1["created_at"] == "2025-05-22T11:56:13Z"


def test_parent_ids_in_a_table_a_flagged_current_leaf_and_the_latest_leaf(tmp_path):
    db = make_db(tmp_path / "t.db", """
        CREATE TABLE s (id INTEGER);
        CREATE TABLE m (id INTEGER, sid INTEGER, parent INTEGER, role TEXT, body TEXT, at TEXT, active INTEGER);
        INSERT INTO s VALUES (1), (2);
        INSERT INTO m VALUES (1, 1, NULL, 'user', 'q', '2025-01-01T00:00:00Z', 0),
                             (2, 1, 1, 'assistant', 'first', '2025-01-01T00:00:01Z', 1),
                             (3, 1, 1, 'assistant', 'second', '2025-01-01T00:00:09Z', 0),
                             (4, 2, NULL, 'user', 'q', '2025-01-01T00:00:00Z', 0),
                             (5, 2, 4, 'assistant', 'old', '2025-01-01T00:00:01Z', 0),
                             (6, 2, 4, 'assistant', 'new', '2025-01-01T00:00:09Z', 0),
                             (7, 2, 5, 'user', 'deeper on the old branch', '2025-01-01T00:00:03Z', 0);""")
    options = {"sessions": {"table": "s", "columns": {"id": "id"}},
               "messages": {"table": "m", "columns": {"id": "id", "session_id": "sid", "role": "role", "content": "body",
                                                      "created_at": "at", "parent_id": "parent", "current": "active"}}}
    items = list(sql.read(db, options, "t"))
    assert notes(items, "_warnings") == {"off_branch_messages": 1}   # message 7: below an alternative, counted
    one, two = split(items)[0]
    assert [m["content"] for m in one["messages"]] == ["q", "first"]     # the flagged leaf, though older
    assert [m["content"] for m in two["messages"]] == ["q", "new"]       # else the latest leaf
    assert json.loads(two["messages"][1]["feedback_meta"])["alternatives"][0]["content"] == "old"


def test_a_select_per_relation_and_a_sqlalchemy_url(tmp_path):
    db = make_db(tmp_path / "q.db", """
        CREATE TABLE log (sid TEXT, n INTEGER, who TEXT, txt TEXT, t REAL, deleted INTEGER);
        INSERT INTO log VALUES ('s1', 1, 'user', 'hi', 1747914973.25, 0), ('s1', 2, 'assistant', 'yo', 1747914974, 0),
                               ('s1', 3, 'assistant', 'removed', 1747914975, 1);""")
    options = {"sessions": {"query": "SELECT DISTINCT sid AS id, MIN(t) AS created_at FROM log GROUP BY sid"},
               "messages": {"query": "SELECT sid || ':' || n AS id, sid AS session_id, who AS role, txt AS content, "
                                     "t AS created_at FROM log WHERE deleted = 0"}}
    (conv,) = sql.read(db, options, "q")
    assert [m["content"] for m in conv["messages"]] == ["hi", "yo"] and conv["created_at"] == "2025-05-22T11:56:13.250000Z"
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed: database URLs cannot be read")
    (by_url,) = sql.read(tmp_path / "ignored", {**options, "url": f"sqlite:///{db}"}, "q")
    assert by_url == conv


def test_postgresql_url_without_its_driver_is_one_clear_line(tmp_path):
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
    try:
        import psycopg2  # noqa: F401
        pytest.skip("psycopg2 is installed: no PostgreSQL server here to test against")
    except ImportError:
        pass
    with pytest.raises(SourceError, match=r"postgresql://bot:\*\*\*@db/logs: cannot open the database"):
        list(sql.read("x", {"preset": "open_webui", "url": "postgresql://bot:s3cret@db/logs"}, "w"))


def test_mapping_mistakes_are_errors_naming_what_is_wrong(tmp_path):
    db = webui(tmp_path)
    with pytest.raises(SourceError, match="unknown preset 'openwebui'"):
        list(sql.read(db, {"preset": "openwebui"}, "w"))
    with pytest.raises(SourceError, match=r"table 'chat' has no column 'chatz'"):
        list(sql.read(db, {"preset": "open_webui", "sessions": {"table": "chat", "columns": {"messages_json": "chatz.x"}}}, "w"))
    with pytest.raises(SourceError, match="unknown option 'ratingz'"):
        list(sql.read(db, {"preset": "open_webui", "ratingz": {}}, "w"))


# ---------------------------------------------------------------------------------- bad input (#15)

SUPPORT = (FIXTURES / "support_small.sql").read_text(encoding="utf-8")


def test_integer_epoch_timestamps_in_the_support_layout_become_iso(tmp_path):
    db = make_db(tmp_path / "e.db", SUPPORT + """
        INSERT INTO support_session VALUES (7, 1747914973, 'u', 'ok', NULL, NULL, NULL, NULL);
        INSERT INTO support_message VALUES (40, 7, 'assistant', 'answer', 1747914973001, NULL, NULL, NULL),
                                           (41, 7, 'user', 'question', 1747914973000, NULL, NULL, NULL);""")
    (conv,) = [c for c in assistant_sqlite.read(db, {}, "s") if c.get("source_id") == "7"]
    assert conv["created_at"] == "2025-05-22T11:56:13Z"
    assert [(m["id"], m["created_at"]) for m in conv["messages"]] == [
        ("41", "2025-05-22T11:56:13Z"), ("40", "2025-05-22T11:56:13.001000Z")]


def test_a_timestamp_that_is_none_quarantines_its_session(tmp_path):
    db = make_db(tmp_path / "y.db", SUPPORT + """
        INSERT INTO support_session VALUES (7, 'yesterday', 'u', 'ok', NULL, NULL, NULL, NULL);""")
    (q,) = [i for i in assistant_sqlite.read(db, {}, "s") if i.get("quarantine") and i["reason"] == "wrong_type"]
    assert q["location"] == "table support_session row id 7" and "'yesterday'" in q["detail"]


def test_a_duplicated_session_id_is_quarantined_not_merged(tmp_path):
    db = make_db(tmp_path / "dup.db", SUPPORT.replace("id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, user_ref",
                                                      "id INTEGER, created_at TEXT NOT NULL, user_ref") + """
        INSERT INTO support_session VALUES (1, '2025-02-01T00:00:00Z', 'other', 'ok', NULL, 'Another prompt', 'm9', NULL);""")
    items = list(assistant_sqlite.read(db, {}, "s", max_message_chars=200))
    dup = [i for i in items if i.get("reason") == "duplicate_id"]
    assert [q["record"]["session"]["model_version"] for q in dup] == ["m1", "m9"]
    assert all(q["location"] == "table support_session row id 1" for q in dup)
    assert "1" not in {i.get("source_id") for i in items}
    source = SourceParams(name="s", kind="assistant_sqlite", path=str(db))
    m = export_source(source, tmp_path / "out", ExportParams(max_message_chars=200))
    assert m["read"] == m["exported"] + m["quarantined"] and m["quarantined_by_reason"]["duplicate_id"] == 2


def test_a_corrupt_database_is_one_error_naming_the_path(tmp_path):
    db = make_db(tmp_path / "big.db", SUPPORT + "".join(
        f"INSERT INTO support_message VALUES ({1000 + i}, 2, 'user', '{'x' * 300}', '2025-01-06T10:05:00Z', NULL, NULL, NULL);\n"
        for i in range(200)))
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[5 * page:5 * page + 64] = b"\xa5" * 64      # a corrupt b-tree page header in the middle of the file
    db.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"big\.db: .*(malformed|corrupt|not a database)"):
        list(assistant_sqlite.read(db, {}, "s"))


def test_invalid_utf8_text_is_quarantined_not_a_crash(tmp_path):
    db = make_db(tmp_path / "u.db", SUPPORT)
    con = sqlite3.connect(db)
    con.execute("UPDATE support_message SET content = CAST(? AS TEXT) WHERE id = 6", (b"owner: \xff\xfe Sato",))
    con.commit()
    con.close()
    items = list(assistant_sqlite.read(db, {}, "s", max_message_chars=200))
    (q,) = [i for i in items if i.get("reason") == "invalid_utf8"]
    assert q["location"] == "table support_message row id 6" and "column 'content'" in q["detail"]
    # session 1 came before SQLite met the bad text; the checked re-read does not give it twice
    assert [i["source_id"] for i in items if not i.get("quarantine")] == ["1", "3", "6"]
    assert [i["reason"] for i in items if i.get("quarantine")] == [
        "invalid_utf8", "message_too_long", "invalid_feedback", "orphan_message"]


def test_an_empty_database_is_a_warning_and_an_error_after_it_had_rows(tmp_path):
    db = make_db(tmp_path / "empty.db", SUPPORT.split("INSERT INTO")[0])
    source = SourceParams(name="s", kind="assistant_sqlite", path=str(db))
    m = export_source(source, tmp_path / "out", ExportParams())
    assert (m["read"], m["warnings"]) == (0, {"empty_source": 1})
    from logtune.sources.export import EmptySource
    with pytest.raises(EmptySource, match=r"empty\.db: source 's' exported 0 conversations, but 4 at its last export"):
        export_source(source, tmp_path / "out", ExportParams(), previous={"exported": 4})
    allowed = SourceParams(name="s", kind="assistant_sqlite", path=str(db), allow_empty=True)
    assert export_source(allowed, tmp_path / "out", ExportParams(), previous={"exported": 4})["exported"] == 0
    assert export_source(source, tmp_path / "out", ExportParams(allow_empty=True), previous={"exported": 4})["read"] == 0


def test_a_huge_message_is_quarantined_with_a_bounded_excerpt(tmp_path):
    db = make_db(tmp_path / "huge.db", SUPPORT)
    con = sqlite3.connect(db)
    con.execute("UPDATE support_message SET content = ? WHERE id = 1", ("y" * 50_000_000,))
    con.commit()
    con.close()
    source = SourceParams(name="s", kind="assistant_sqlite", path=str(db))
    export_source(source, tmp_path / "out", ExportParams())
    qfile = tmp_path / "out" / "s.quarantine.jsonl"
    assert qfile.stat().st_size < 100_000
    (q,) = [q for q in read_jsonl(qfile) if q["reason"] == "message_too_long"]
    assert q["location"] == "table support_message row id 1" and q["record"]["chars"] > 50_000_000
