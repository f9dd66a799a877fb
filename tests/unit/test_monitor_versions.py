"""Issue #18 (seed 000): `logtune monitor` reads the assistant's database and splits thumbs-down rate and
failure tags by model version and prompt version, so a rollout is judged per release."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from logtune.cli import main
from logtune.ids import prompt_version
from logtune.io import read_json
from logtune.release.monitor import MonitorError, MonitorParams, db_calls, monitor
from logtune.rules import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules" / "auto_rules.yaml"
OLD, NEW = "Older prompt.", "You are the iSPEC support assistant."

# Sessions 1-2 ran model m1 under the new prompt (one thumbs down in two rated sessions); session 3 ran m0
# under the old prompt and failed; session 4 ran m1 under the old prompt, rated up. Session 2 holds an up
# and a down vote: the session counts as down (somebody flagged it).
DB = f"""
CREATE TABLE support_session (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
  system_prompt TEXT, model_version TEXT, state_json TEXT);
CREATE TABLE support_message (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT,
  created_at TEXT NOT NULL, feedback INTEGER, feedback_note TEXT, feedback_meta_json TEXT);
INSERT INTO support_session VALUES
 (1, '2025-01-06T09:00:00Z', 'ok', NULL, '{NEW}', 'm1', NULL),
 (2, '2025-01-06T10:00:00Z', 'ok', NULL, '{NEW}', 'm1', NULL),
 (3, '2025-01-06T11:00:00Z', 'error', 'model server returned 503', '{OLD}', 'm0', NULL),
 (4, '2025-01-06T12:00:00Z', 'ok', NULL, '{OLD}', 'm1', NULL);
INSERT INTO support_message VALUES
 (1, 1, 'user', 'Status of PRJ-1042?', '2025-01-06T09:00:05Z', NULL, NULL, NULL),
 (2, 1, 'assistant', 'PRJ-1042 is in progress.', '2025-01-06T09:00:09Z', 1, NULL, NULL),
 (3, 2, 'user', 'Owner of SMP-20931?', '2025-01-06T10:00:05Z', NULL, NULL, NULL),
 (4, 2, 'assistant', 'Omar Sato.', '2025-01-06T10:00:09Z', 1, NULL, NULL),
 (5, 2, 'user', 'And its due date?', '2025-01-06T10:01:00Z', NULL, NULL, NULL),
 (6, 2, 'assistant', 'SMP-20932 is due tomorrow.', '2025-01-06T10:01:04Z', -1, 'wrong id', NULL),
 (7, 3, 'user', 'Who owns ORD-553?', '2025-01-06T11:00:05Z', NULL, NULL, NULL),
 (8, 4, 'user', 'When is PRJ-1042 due?', '2025-01-06T12:00:05Z', NULL, NULL, NULL),
 (9, 4, 'assistant', 'PRJ-1042 is due on 2025-03-14.', '2025-01-06T12:00:09Z', 1, NULL, NULL);
"""


def make_db(path: Path, sql: str = DB) -> Path:
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()
    return path


def groups(report):
    return {(g["model"], g["prompt_version"]): g for g in report["by_model_prompt"]}


def test_database_sessions_split_by_model_and_prompt_version(tmp_path):
    calls = list(db_calls(make_db(tmp_path / "a.db")))
    assert [t for _, t in calls] == ["up", "down", None, "up"]
    from logtune.release.monitor import by_version
    report = by_version(calls, MonitorParams(), load_rules(RULES))
    assert (report["n_calls"], report["n_rated"], report["thumbs_down_rate"]) == (4, 3, pytest.approx(1 / 3))
    by = groups(report)
    assert sorted(by) == [("m0", prompt_version(OLD)), ("m1", prompt_version(NEW)), ("m1", prompt_version(OLD))]
    new = by[("m1", prompt_version(NEW))]
    assert (new["n_calls"], new["thumbs_down_rate"], new["top_failure_tags"]) == (
        2, 0.5, [{"tag": "thumbs_down", "count": 1}])
    assert by[("m1", prompt_version(OLD))]["thumbs_down_rate"] == 0.0
    m0 = by[("m0", prompt_version(OLD))]
    assert (m0["error_rate"], m0["n_rated"], m0["thumbs_down_rate"], m0["top_failure_tags"]) == (
        1.0, 0, None, [{"tag": "error", "count": 1}])
    # the group's breach is named by its release; the whole's error rate (1/4) breaches too
    assert "model=m0 prompt_version=" + prompt_version(OLD) + ": error_rate 1 > max_error_rate 0.05" in report["alerts"]
    assert "model=m1 prompt_version=" + prompt_version(NEW) + ": thumbs_down_rate 0.5 > max_thumbs_down_rate 0.3" \
        in report["alerts"]


def test_cli_reads_the_database_and_names_a_bad_row(tmp_path, capsys):
    out = tmp_path / "monitor.json"
    args = ["monitor", "--db", str(make_db(tmp_path / "a.db")), "--params", str(tmp_path / "none.yaml"), "--rules",
            str(RULES), "--release", str(tmp_path / "none.json"), "--out", str(out)]
    assert main(args) == 1
    report = read_json(out)
    assert report["db"].endswith("a.db") and len(report["by_model_prompt"]) == 3
    bad = make_db(tmp_path / "bad.db", DB + "INSERT INTO support_message VALUES (10, 4, 'robot', 'x', "
                                            "'2025-01-06T12:00:10Z', NULL, NULL, NULL);")
    assert main(args[:2] + [str(bad)] + args[3:]) == 2
    assert "support_message" in capsys.readouterr().err
    with pytest.raises(MonitorError, match="--db-kind 'event_log'"):
        list(db_calls(bad, "event_log"))


def test_event_logs_name_their_model_and_prompt(tmp_path):
    logs = tmp_path / "calls.jsonl"
    rows = [{"llmPrompt": f"p{i}", "aceyOutput": {"speech": "ok"}, "model": "acey-7b" if i < 2 else "acey-8b",
             "systemPrompt": "Be Acey.", "thumbs": "down" if i == 2 else "up"} for i in range(4)]
    logs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = monitor([logs], MonitorParams(), load_rules(RULES))
    assert [(g["model"], g["prompt_version"], g["thumbs_down_rate"]) for g in report["by_model_prompt"]] == [
        ("acey-7b", prompt_version("Be Acey."), 0.0), ("acey-8b", prompt_version("Be Acey."), 0.5)]
