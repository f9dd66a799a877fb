"""`logtune export-jsonl` / `export-feedback-jsonl`: the adapter's mapping as JSONL, feedback lines, errors, progress."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from logtune import cli
from logtune.commandline import Progress
from logtune.sources import assistant_sqlite, is_quarantine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "support_small.sql"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "assistant.db"
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_jsonl_writes_the_adapters_conversations_and_quarantines_the_rest(db, tmp_path, capsys):
    out = tmp_path / "out" / "conversations.jsonl"
    assert cli.main(["export-jsonl", "--db", str(db), "--out", str(out)]) == 0
    expected = [i for i in assistant_sqlite.read(db, {}, "support") if not is_quarantine(i)]
    assert lines(out) == expected and [c["source_id"] for c in expected] == ["1", "2", "3", "4", "6"]
    # session 5 (feedback = 2) and the orphan message 99: quarantined with their reasons, not dropped
    assert sorted(q["reason"] for q in lines(Path(str(out) + ".quarantine.jsonl"))) == [
        "invalid_feedback", "orphan_message"]
    err = capsys.readouterr().err
    assert "wrote 5 conversations" in err and "invalid_feedback 1, orphan_message 1" in err and "\r" not in err


def test_export_feedback_jsonl_writes_one_line_per_rated_reply(db, tmp_path):
    out = tmp_path / "feedback.jsonl"
    assert cli.main(["export-feedback-jsonl", "--db", str(db), "--out", str(out), "--source", "desk"]) == 0
    up, down = lines(out)
    assert (up["message_id"], up["rating"], up["feedback_note"], up["rewrite"]) == ("2", 1, "Thanks!", None)
    assert [m["id"] for m in up["messages"]] == ["1", "2"] and up["feedback_meta"] == '{"tags": ["helpful"]}'
    # message 4 is rated mid-conversation: its prefix stops at it (ordered by created_at), later turns excluded
    assert [m["id"] for m in down["messages"]] == ["3", "4"] and down["rating"] == -1
    assert down["rewrite"] == "SMP-20931 (Liver lysate batch 3) is currently queued, per the record."
    assert down["reply"].startswith("SMP-20931 is running") and down["source"] == "desk"
    assert down["context"].startswith('{"records"') and down["prompt_version"] is not None


def test_options_map_other_table_and_column_names(db, tmp_path):
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE support_message RENAME TO msgs")
    con.execute("ALTER TABLE msgs RENAME COLUMN feedback TO thumbs")
    con.close()
    out = tmp_path / "c.jsonl"
    options = json.dumps({"message_table": "msgs", "message_columns": {"feedback": "thumbs"}})
    assert cli.main(["export-jsonl", "--db", str(db), "--out", str(out), "--options", options]) == 0
    assert lines(out)[0]["messages"][1]["rating"] == 1


@pytest.mark.parametrize("make, needle", [
    (lambda p: None, "source database not found"),
    (lambda p: p.write_bytes(b"not a database at all, just text" * 10), "not an SQLite database"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(), "table 'support_session' not found"),
])
def test_a_bad_db_is_one_line_naming_the_path_and_exit_2(tmp_path, capsys, make, needle):
    bad = tmp_path / "bad.db"
    make(bad)
    out = tmp_path / "x.jsonl"
    assert cli.main(["export-jsonl", "--db", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and needle in err
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []   # no half-written output left behind


def test_bad_options_exit_2(db, tmp_path, capsys):
    assert cli.main(["export-jsonl", "--db", str(db), "--out", str(tmp_path / "x"), "--options", "{nope"]) == 2
    assert cli.main(["export-jsonl", "--db", str(db), "--out", str(tmp_path / "x"), "--options", '{"tabel": 1}']) == 2
    err = capsys.readouterr().err
    assert "--options is not JSON" in err and "unknown option 'tabel'" in err


def test_progress_redraws_on_a_terminal_and_prints_plain_lines_otherwise():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        p = Progress("export-jsonl", "sessions", stream=stream, every_s=0.0)
        p.every_s = 0.0   # report on every advance, so the test need not wait
        p.advance(3)
        p.done("wrote 3")
    assert tty.getvalue().startswith("\rexport-jsonl: 3 sessions") and tty.getvalue().count("\n") == 1
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 2


def test_every_command_is_registered_with_a_help_line():
    names = [c.name for c in cli.COMMANDS]
    assert {"export-jsonl", "export-feedback-jsonl", "trace"} <= set(names)
    assert len(names) == len(set(names))
    assert all(c.run.__doc__ for c in cli.COMMANDS)
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2


def test_export_jsonl_and_the_export_stage_share_one_validation_path(tmp_path, monkeypatch):
    # Issue #14: export-jsonl accepted integer timestamps that the export stage quarantined. Both now go
    # through logtune.sources.export.checked_items: epoch integers become ISO text in both, and whatever the
    # stage's schema check or duplicate-id check quarantines, export-jsonl quarantines the same way.
    from logtune.sources import export
    from logtune.io import read_rows
    path = tmp_path / "epoch.db"
    con = sqlite3.connect(path)
    con.executescript(FIXTURE.read_text(encoding="utf-8").split("INSERT INTO")[0] + """
        INSERT INTO support_session VALUES (1, 1747914973, 'u', 'ok', NULL, NULL, NULL, NULL);
        INSERT INTO support_message VALUES (1, 1, 'user', 'q', 1747914973, NULL, NULL, NULL),
                                           (2, 1, 'assistant', 'a', 1747914974, 1, NULL, NULL);""")
    con.close()
    out = tmp_path / "c.jsonl"
    assert cli.main(["export-jsonl", "--db", str(path), "--out", str(out)]) == 0
    stage = export.export_source(export.SourceParams("support", "assistant_sqlite", str(path)), tmp_path / "x",
                                 export.ExportParams(max_message_chars=None))
    parquet_rows = read_rows(tmp_path / "x" / "support.parquet")
    for row in parquet_rows:   # the Parquet layout has a column for curate's merged feedback; JSONL omits it unset
        for m in row["messages"]:
            assert m.pop("feedback") is None
    assert stage["exported"] == 1 and lines(out) == parquet_rows
    assert lines(out)[0]["created_at"] == "2025-05-22T11:56:13Z"
    # the stage's schema check reaches export-jsonl: a row the schema refuses is quarantined by both
    monkeypatch.setattr(export, "_conforms", lambda validator: None)
    monkeypatch.setattr(export, "schema_problem", lambda v, c: "created_at: 1747914973 is not of type 'string', 'null'")
    assert cli.main(["export-jsonl", "--db", str(path), "--out", str(out)]) == 0
    (q,) = lines(Path(str(out) + ".quarantine.jsonl"))
    assert (q["reason"], lines(out)) == ("schema", [])


def test_export_jsonl_reads_any_sql_preset(tmp_path):
    db = tmp_path / "webui.db"
    con = sqlite3.connect(db)
    con.executescript((FIXTURE.parent / "sql" / "open_webui.sql").read_text(encoding="utf-8"))
    con.close()
    out = tmp_path / "webui.jsonl"
    assert cli.main(["export-jsonl", "--db", str(db), "--out", str(out), "--kind", "sql",
                     "--options", '{"preset": "open_webui"}']) == 0
    assert [c["source_id"] for c in lines(out)] == ["c-annot", "c-branch"]
    assert sorted(q["reason"] for q in lines(Path(str(out) + ".quarantine.jsonl"))) == [
        "broken_tree", "orphan_feedback", "unknown_rating"]
