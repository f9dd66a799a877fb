"""logtune.io's atomic write and logtune.rejects' rejected row: the one copy of each that every stage uses."""

import json

import pytest

from logtune import records
from logtune.io import atomic_open, atomic_path, read_rows, write_rows
from logtune.rejects import Reject, rejected_row


def test_atomic_open_moves_the_file_in_place_on_success(tmp_path):
    target = tmp_path / "sub" / "out.jsonl"
    with atomic_open(target) as f:
        f.write("one\n")
        assert not target.exists() and (tmp_path / "sub" / "out.jsonl.tmp").exists()
    assert target.read_text() == "one\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.db"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="source broke"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("source broke")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.db"]


def test_a_temp_left_by_a_killed_run_is_replaced(tmp_path):
    (tmp_path / "out.txt.tmp").write_text("stale half file")
    with atomic_open(tmp_path / "out.txt") as f:
        f.write("new")
    assert (tmp_path / "out.txt").read_text() == "new"
    assert not (tmp_path / "out.txt.tmp").exists()


def test_a_shared_store_writes_through_a_temp_of_its_own_and_leaves_none(tmp_path):
    """llm.cache's response store: two writers of one folder must not share `<name>.tmp`."""
    import os
    import threading

    target = tmp_path / "ab" / "abc.json"
    other_writer = tmp_path / "ab" / "abc.json.tmp"   # what an unshared writer would be using right now
    with atomic_open(target, shared=True, durable=True) as f:
        other_writer.write_text("someone else's half file")
        f.write("{}\n")
        own = tmp_path / "ab" / f".abc.json.{os.getpid()}.{threading.get_ident()}.tmp"
        assert own.exists() and not target.exists()
    assert target.read_text() == "{}\n" and other_writer.read_text() == "someone else's half file"
    assert sorted(p.name for p in target.parent.iterdir()) == ["abc.json", "abc.json.tmp"]
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "ab" / "abd.json", shared=True) as f:
            raise ValueError("the response was not JSON")
    assert sorted(p.name for p in target.parent.iterdir()) == ["abc.json", "abc.json.tmp"]


def test_rejected_row_fits_the_rejected_schema_and_keeps_the_record(tmp_path):
    record = {"b": 1, "a": "Café", "when": tmp_path}   # a non-JSON value (a Path) is kept as its text
    row = rejected_row("r1", "build", Reject("schema", "sft: /messages: too short"), record)
    assert row["id"] == "r1" and row["stage"] == "build"
    assert row["reason"] == "schema" and row["detail"] == "sft: /messages: too short"
    assert row["record"].startswith('{"a": "Café", "b": 1')   # key-sorted, not ASCII-escaped
    assert json.loads(row["record"])["when"] == str(tmp_path)
    write_rows(tmp_path / "rejected.parquet", [row], records.REJECTED)
    assert read_rows(tmp_path / "rejected.parquet") == [row]
