"""Export by session-id shards in worker processes (issue 19): the same bytes and ledger as one pass, and a
ledger per shard that adds up to the total."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logtune import records
from logtune.engine import RuntimeParams
from logtune.io import read_jsonl
from logtune.params import ParamsError
from logtune.sources import assistant_sqlite, is_quarantine, sql
from logtune.sources import export as export_mod
from logtune.sources.export import (ConversationWriter, ExportParams, SourceParams, conversation_table,
                                   conversation_validator, export_source, table_conforms)
from logtune.sources.items import ConversationBatch

SUPPORT = (Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "support_small.sql").read_text(encoding="utf-8")
NO_PK = SUPPORT.replace("id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, user_ref",
                        "id INTEGER, created_at TEXT NOT NULL, user_ref")


def make_db(path: Path, script: str, bad_text_in: int | None = None) -> Path:
    con = sqlite3.connect(path)
    con.executescript(script)
    if bad_text_in is not None:   # text that is not UTF-8: SQLite's decoding stops, the reader reads again checking
        con.execute("UPDATE support_message SET content = CAST(? AS TEXT) WHERE id = ?", (b"owner: \xff Sato", bad_text_in))
        con.commit()
    con.close()
    return path


# Why each database: the fixture (every reason of a session, an orphan); one session id on two rows, the
# copies falling on a shard boundary when cut by one or two sessions (quarantined together, not merged);
# text that is not UTF-8 in the 2nd session (a shard re-reads itself checking text); no rows at all; two
# turns of session 2 at one instant (ambiguous_order, tie broken by role then id); times without a zone
# (read value by value, as UTC); a +02:00 offset and a fraction (one Arrow cast: still between messages 3
# and 5); an epoch time on message 7 (its session leaves the column path).
DATABASES = {
    "fixture": (SUPPORT, None),
    "tied_times": (SUPPORT + "UPDATE support_message SET created_at = '2025-01-06T10:00:05Z' WHERE id IN (4, 5);", None),
    "naive_times": (SUPPORT + "UPDATE support_message SET created_at = replace(created_at, 'Z', '');", None),
    "offset_times": (SUPPORT + "UPDATE support_message SET created_at = '2025-01-06T12:00:07.5+02:00' WHERE id = 4;", None),
    "epoch_time": (SUPPORT + "UPDATE support_message SET created_at = 1736154005 WHERE id = 7;", None),
    "duplicate_id": (NO_PK + "INSERT INTO support_session VALUES (2, '2025-02-01T00:00:00Z', 'o', 'ok', NULL, "
                             "'Another prompt', 'm9', NULL);", None),
    "invalid_utf8": (SUPPORT, 6),
    "empty": (SUPPORT.split("INSERT INTO")[0], None),
}


def _export(db: Path, out: Path, shard_sessions: int, workers: int) -> dict:
    source = SourceParams(name="s", kind="assistant_sqlite", path=str(db))
    return export_source(source, out, ExportParams(max_message_chars=200, shard_sessions=shard_sessions),
                         runtime=RuntimeParams(workers=workers))


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_shards_write_the_bytes_and_ledger_of_one_pass(name, tmp_path, monkeypatch):
    script, bad = DATABASES[name]
    db = make_db(tmp_path / "log.db", script, bad)
    sharded = {(n, w): _export(db, tmp_path / f"out-{n}-{w}", n, w) for n, w in ((1, 1), (2, 2), (1000, 1))}
    monkeypatch.setattr(export_mod, "_shard_ranges", lambda source, params: None)   # the one-pass path
    one_pass = _export(db, tmp_path / "out-one", 1000, 1)
    assert "shards" not in one_pass
    ledgers = {key: m.pop("shards") for key, m in sharded.items()}
    for (n, w), m in sharded.items():
        shards = ledgers[(n, w)]
        assert m == one_pass, (n, w)
        for f in ("s.parquet", "s.quarantine.jsonl"):
            assert (tmp_path / f"out-{n}-{w}" / f).read_bytes() == (tmp_path / "out-one" / f).read_bytes(), (f, n, w)
        # each shard's ledger balances and the shards add up to the total
        for entry in shards.values():
            assert entry["read"] == entry["exported"] + entry["quarantined"] == entry["exported"] + sum(
                entry["quarantined_by_reason"].values())
        for key in ("read", "exported", "quarantined", "messages_exported"):
            assert sum(e[key] for e in shards.values()) == m[key]
    if name == "fixture":   # 6 sessions cut one by one: shards of ids (None, 1], (1, 2], ..., (5, None]
        cut = ledgers[(1, 1)]
        assert [e["session_ids"] for k, e in cut.items() if k != "tail"] == [
            [None, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, None]]
        assert cut["00003"]["quarantined_by_reason"] == {"message_too_long": 1}
        assert cut["tail"]["quarantined_by_reason"] == {"orphan_message": 1}


def test_copies_of_one_session_id_stay_in_one_shard(tmp_path):
    db = make_db(tmp_path / "dup.db", DATABASES["duplicate_id"][0])
    ranges = assistant_sqlite.shard_ranges(db, {}, 2)   # ids 1, 2, 2, 3, 4, 5, 6: every 2nd row is id 2, 3, 5
    assert ranges == [(None, 2), (2, 3), (3, 5), (5, None)]
    m = _export(db, tmp_path / "out", 2, 1)
    assert m["shards"]["00000"]["quarantined_by_reason"] == {"duplicate_id": 2}
    dup = [q for q in read_jsonl(tmp_path / "out" / "s.quarantine.jsonl") if q["reason"] == "duplicate_id"]
    assert [q["record"]["session"]["model_version"] for q in dup] == ["m1", "m9"]


def test_sources_that_cannot_be_cut_by_id_are_read_in_one_pass(tmp_path):
    text_ids = make_db(tmp_path / "t.db", NO_PK.replace("id INTEGER, created_at", "id TEXT, created_at")
                       + "INSERT INTO support_session VALUES ('a', '2025-02-01T00:00:00Z', 'o', 'ok', NULL, NULL, NULL, NULL);")
    assert sql.shard_ranges(text_ids, {"preset": "assistant_sqlite"}, 2) is None
    m = export_source(SourceParams(name="s", kind="assistant_sqlite", path=str(text_ids)), tmp_path / "out",
                      ExportParams(max_message_chars=200), runtime=RuntimeParams(workers=2))
    assert "shards" not in m and m["read"] == m["exported"] + m["quarantined"]
    rated = make_db(tmp_path / "r.db", SUPPORT + "CREATE TABLE votes (message_id INTEGER, rating INTEGER);")
    options = {"preset": "assistant_sqlite", "ratings": {"table": "votes", "columns": {"message_id": "message_id",
                                                                                         "rating": "rating"}}}
    assert sql.shard_ranges(rated, options, 2) is None   # a rating may join a session in any shard


def test_write_table_flushes_after_the_same_rows_as_write(tmp_path):
    rows = [i for i in assistant_sqlite.read(make_db(tmp_path / "log.db", SUPPORT), {}, "s") if not is_quarantine(i)]
    rows = rows * 7   # 35 conversations of 0-4 messages
    with ConversationWriter(tmp_path / "a.parquet", batch_size=4, max_messages=5) as by_row:
        for row in rows:
            by_row.write(row)
    with ConversationWriter(tmp_path / "b.parquet", batch_size=4, max_messages=5) as by_table:
        for start in (0, 3, 4, 17, 30):   # tables cut anywhere, as workers' shards are
            by_table.write_table(conversation_table(rows[start:{0: 3, 3: 4, 4: 17, 17: 30, 30: 35}[start]]))
    assert by_row.count == by_table.count == 35
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.num_row_groups > 5
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.read_schema(tmp_path / "b.parquet") == records.CONVERSATION


def test_shard_sessions_must_be_a_positive_integer():
    with pytest.raises(ParamsError, match="export.shard_sessions"):
        ExportParams(shard_sessions=0)


def test_plain_sessions_come_as_column_batches_with_the_dicts_values(tmp_path):
    db = make_db(tmp_path / "log.db", SUPPORT)
    items = list(assistant_sqlite.read_shard(db, {}, "s", None, None, max_message_chars=200, columnar=True))
    batches = [i for i in items if isinstance(i, ConversationBatch)]
    # sessions 1-3 in one batch, 4 and 5 quarantined by the general path in their place, then 6
    assert [[*b.table.column("source_id").to_pylist()] if isinstance(b, ConversationBatch) else b["reason"]
            for b in items] == [["1", "2", "3"], "message_too_long", "invalid_feedback", ["6"]]
    dicts = [i for i in sql.read(db, {"preset": "assistant_sqlite"}, "s", max_message_chars=200)
             if not is_quarantine(i)]
    assert pa.concat_tables([b.table for b in batches]).equals(conversation_table(dicts))
    assert [m["id"] for m in batches[0].table.column("messages")[1].as_py()] == ["3", "4", "5", "6"]  # by time
    assert all(table_conforms(b.table, conversation_validator().schema) for b in batches)


def test_table_conforms_finds_what_the_schema_forbids(tmp_path):
    rows = [i for i in assistant_sqlite.read(make_db(tmp_path / "log.db", SUPPORT), {}, "s") if not is_quarantine(i)]
    schema = conversation_validator().schema
    assert table_conforms(conversation_table(rows), schema)
    broken = [
        {**rows[0], "id": "NOT-A-HASH"},                                               # pattern
        {**rows[0], "source": ""},                                                     # minLength
        {**rows[0], "provenance": "invented"},                                         # enum
        {**rows[0], "confidence": 1.5},                                                # maximum
        {**rows[0], "task_type": None},                                                # a required string, null
        {**rows[0], "messages": [{**rows[0]["messages"][0], "rating": 2}]},            # enum inside the messages
        {**rows[0], "messages": [{**rows[0]["messages"][0], "role": "robot"}]},
    ]
    for row in broken:
        assert conversation_validator().iter_errors(row), row
        assert not table_conforms(conversation_table(rows[1:] + [row]), schema), row
    assert not table_conforms(conversation_table(rows), {**schema, "if": {}})   # a keyword it does not check


def test_a_batch_that_does_not_conform_sends_the_shard_through_as_dicts(tmp_path, monkeypatch):
    db = make_db(tmp_path / "log.db", SUPPORT)
    expected = _export(db, tmp_path / "one", 1000, 1)
    seen = []
    monkeypatch.setattr(export_mod, "table_conforms", lambda table, schema: seen.append(table.num_rows) and False)
    assert _export(db, tmp_path / "two", 1000, 1) == expected and seen == [3]
    for f in ("s.parquet", "s.quarantine.jsonl"):
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes()


def test_a_corrupt_database_is_one_error_naming_the_path_from_a_worker(tmp_path):
    from logtune.sources import SourceError

    db = make_db(tmp_path / "big.db", SUPPORT + "".join(
        f"INSERT INTO support_message VALUES ({1000 + i}, 2, 'user', '{'x' * 300}', '2025-01-06T10:05:00Z', NULL, NULL, "
        "NULL);\n" for i in range(200)))
    data = bytearray(db.read_bytes())
    data[5 * 4096:5 * 4096 + 64] = b"\xa5" * 64      # a corrupt b-tree page header in the middle of the file
    db.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"big\.db: .*(malformed|corrupt|not a database)"):
        _export(db, tmp_path / "out", 2, 2)
    assert not (tmp_path / "out" / "s.parquet").exists()   # nothing half-written is left behind
