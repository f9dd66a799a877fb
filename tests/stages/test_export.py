"""stages/export.py on the hand-written fixture DB: outputs, quarantine and a balanced ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from logtune.io import read_json, read_jsonl, read_rows
from logtune.sources import SourceError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "support_small.sql"


def write_params(tmp_path: Path, db: Path) -> Path:
    params = tmp_path / "params.yaml"
    params.write_text(f"export:\n  max_message_chars: 200\nsources:\n"
                      f"  - name: support\n    kind: assistant_sqlite\n    path: {db}\n")
    return params


def test_export_stage_on_fixture(stage, tmp_path):
    db = tmp_path / "support.db"
    con = sqlite3.connect(db)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    out, metrics = tmp_path / "exported", tmp_path / "metrics" / "export" / "support.json"
    assert stage("export").main(["support", str(out), "--params", str(write_params(tmp_path, db)),
                                 "--metrics", str(metrics)]) == 0
    m = read_json(metrics)
    assert (m["read"], m["exported"], m["quarantined"]) == (7, 4, 3) and m["read"] == m["exported"] + m["quarantined"]
    assert m["quarantined_by_reason"] == {"invalid_feedback": 1, "message_too_long": 1, "orphan_message": 1}
    assert len(read_rows(out / "support.parquet")) == 4
    assert len(read_jsonl(out / "support.quarantine.jsonl")) == 3


def test_export_stage_not_a_database(stage, tmp_path, capsys):
    db = tmp_path / "broken.db"
    db.write_bytes(b"\x00garbage" * 100)
    argv = ["support", str(tmp_path / "out"), "--params", str(write_params(tmp_path, db)),
            "--metrics", str(tmp_path / "m.json")]
    assert stage("export").main(argv) == 1     # one line naming the file, no traceback (issue #15)
    assert "broken.db: not an SQLite database" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []  # no half-written output left behind
    with pytest.raises(SourceError, match="broken.db: not an SQLite database"):
        stage("export").main(argv + ["--debug"])


def test_a_source_that_empties_stops_the_stage_unless_allowed(stage, tmp_path, capsys):
    # Issue #15: an empty file exported 0 rows with no word. The stage reads its own last metrics
    # (persisted by dvc.yaml): rows before and none now is an error; allow_empty says it is right.
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "q", "response": "a"}\n')
    metrics, out = tmp_path / "m.json", tmp_path / "out"

    def run(allow: str = "") -> int:
        params = tmp_path / "params.yaml"
        params.write_text(f"export:\n  max_message_chars: 200\nsources:\n  d:\n    kind: dolly\n    path: {data}\n{allow}")
        return stage("export").main(["d", str(out), "--params", str(params), "--metrics", str(metrics)])

    assert run() == 0 and read_json(metrics)["exported"] == 1
    data.write_text("")
    assert run() == 1
    assert "d.jsonl: source 'd' exported 0 conversations, but 1 at its last export" in capsys.readouterr().err
    assert len(read_rows(out / "d.parquet")) == 1          # the last good export is left as it was
    assert run("    allow_empty: true\n") == 0
    assert read_json(metrics)["warnings"] == {"empty_source": 1}
