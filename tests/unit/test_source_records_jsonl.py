"""The records_jsonl adapter parses seed 004's typed records and their User:/Assistant: histories."""

from __future__ import annotations

import json
from pathlib import Path

from logtune.sources import records_jsonl

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "records_jsonl" / "records.jsonl"


def turns(conv):
    return [(m["role"], m["content"]) for m in conv["messages"]]


def test_fixture():
    items = list(records_jsonl.read(FIXTURE, {}, "v8"))
    assert [(i.get("reason"), i.get("location")) for i in items if i.get("quarantine")] == [
        ("unknown_record_type", "line 6"), ("missing_field", "line 7"), ("empty_conversation", "line 8"),
        ("missing_field", "line 9")]
    chat, pref, qa, trajectory, knowledge = [i for i in items if not i.get("quarantine")]
    assert turns(chat) == [
        ("user", "I missed yesterday's deadline."), ("assistant", "Let's reset with essentials."),
        ("user", "I only have 2 hours now, what first?"),
        ("assistant", "Start with the highest-impact deliverable slice, then send a revised ETA update.")]
    assert (chat["source_id"], chat["task_type"], chat["provenance"]) == ("c_real_0001", "chat", "real")
    assert turns(pref) == [("user", "Summarise my week."), ("assistant", "You shipped the parser and fixed two bugs.")]
    assert json.loads(pref["messages"][-1]["feedback_meta"]) == {"rejected": "Week good."}
    assert pref["provenance"] == "synthetic" and pref["task_type"] == "preference"
    assert turns(qa) == [("user", "What is the capital of France?"), ("assistant", "Paris.")]
    assert turns(trajectory)[0] == ("user", "Check disk on web-1\nplease, it is urgent")
    assert json.loads(trajectory["messages"][1]["content"]) == [{"tool": "ssh", "args": {"host": "web-1", "cmd": "df -h"}}]
    assert turns(knowledge) == [("assistant", "The office closes at 6pm on Fridays.")]
    assert records_jsonl.read(FIXTURE, {"provenance": "real"}, "v8").__next__()["provenance"] == "real"


def test_corrupted_input(tmp_path):
    good = FIXTURE.read_bytes().split(b"\n")[0]
    path = tmp_path / "r.jsonl"
    path.write_bytes(good + b"\n" + good[:-10] + b"\n" + good.replace(b'"chat"', b'["chat"]') + b"\n\xff\xff\n")
    items = list(records_jsonl.read(path, {}, "v8"))
    assert [i.get("reason") for i in items] == [None, "broken_json", "wrong_type", "invalid_utf8"]


def test_duplicate_ids_are_quarantined_not_exported_twice(tmp_path):
    """Issue #14: duplicate ids within one JSONL source were exported twice with the same id, then build
    crashed ("two built records share an id")."""
    good = FIXTURE.read_text().splitlines()[0]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([good, good.replace("Start with", "Begin with"), good]) + "\n")
    items = list(records_jsonl.read(path, {}, "v8"))
    assert [(i.get("reason"), i.get("location")) for i in items[1:]] == [
        ("duplicate_id", "line 2"), ("duplicate_id", "line 3")]
    assert "line 1" in items[1]["detail"]


def test_seed_004_records_as_they_are_reach_build_with_their_type_and_reply():
    from logtune.build import BuildParams, build

    validate_fixture = Path(__file__).parents[1] / "fixtures" / "validate" / "seed004_v8_sample.jsonl"
    convs = [c for c in records_jsonl.read(validate_fixture, {}, "v8") if not c.get("quarantine")]
    assert len(convs) == 36
    built = build(convs, BuildParams(), [])
    by_type = {}
    for r in built.sft:
        by_type.setdefault(r["record_type"], []).append(r["messages"][-1]["content"])
    assert sorted(by_type) == ["chat", "knowledge", "memory", "qa", "trajectory"]
    assert "Start with the highest-impact task." in by_type["chat"]
    pairs = [(p["record_type"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in built.preference]
    assert pairs == [("preference", "You shipped the parser.", "Week good.")] * 6
