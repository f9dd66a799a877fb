"""The event-log adapter maps seed 003's logged LLM calls (camelCase or snake_case) to conversations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.sources import event_log

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "event_log" / "calls.jsonl"


def test_fixture():
    items = list(event_log.read(FIXTURE, {}, "acey"))
    assert [(i.get("reason"), i.get("location")) for i in items if i.get("quarantine")] == [
        ("missing_field", "line 4"), ("wrong_type", "line 5"), ("missing_field", "line 6"), ("broken_json", "line 7")]
    full, snake, rejected = [i for i in items if not i.get("quarantine")]
    assert (full["source_id"], full["task_type"], full["confidence"], full["approval"], full["latency_ms"], full["cost"],
            full["created_at"], full["status"]) == ("log-1", "game", 0.82, "approved", 840.0, 0.0004,
                                                    "2025-01-05T20:11:02Z", "ok")
    assert json.loads(full["context"]) == {"game": "dice"}
    user, reply = full["messages"]
    assert (user["role"], user["content"], reply["content"]) == ("user", "Chat: !dice", "Rolled a 4!")
    assert json.loads(reply["tool_calls"]) == [{"type": "game_action", "confidence": 0.9, "action": "roll"}]
    assert json.loads(reply["feedback_meta"]) == {"auto_rules": ["trim_caps"]}
    assert snake["source_id"] == "calls.jsonl:2" and snake["task_type"] == "website" and snake["approval"] == "pending"
    assert snake["created_at"] == "2025-01-05T20:11:02Z" and snake["latency_ms"] == 1500.0 and snake["cost"] == 0.0
    assert snake["messages"][1]["tool_calls"] is None and snake["messages"][1]["feedback_meta"] is None
    assert rejected["messages"][1]["content"] is None and rejected["status"] == "error" and rejected["error"] == "timeout"
    assert rejected["approval"] == "rejected" and rejected["confidence"] is None


def test_corrupted_input(tmp_path):
    lines = FIXTURE.read_bytes().split(b"\n")
    path = tmp_path / "calls.jsonl"
    path.write_bytes(lines[0].replace(b"Rolled", b"R\xe9lled") + b"\n" + lines[1] + b"\n" + b"42\n"
                     + json.dumps({"taskType": "game", "llmPrompt": "x", "aceyOutput": "just text"}).encode() + b"\n")
    assert [i.get("reason") for i in event_log.read(path, {}, "a")] == ["invalid_utf8", None, "wrong_type", "wrong_type"]
    with pytest.raises(ValueError, match="unknown key 'min_confidence'"):
        list(event_log.read(FIXTURE, {"min_confidence": 0.7}, "a"))


FEEDBACK = FIXTURE.with_name("feedback.jsonl")


def test_thumbs_reach_the_reply_and_build_routes_them_to_kto_and_dpo():
    from logtune.build import BuildParams, build

    items = list(event_log.read(FEEDBACK, {}, "acey"))
    assert [(i["reason"], i["location"]) for i in items if i.get("quarantine")] == [
        ("unknown_rating", "line 4"), ("wrong_type", "line 5")]
    up, down, fixed = [i for i in items if not i.get("quarantine")]
    assert [(c["messages"][1]["rating"], c["messages"][1]["feedback_note"], c["messages"][1]["rewrite"])
            for c in (up, down, fixed)] == [(1, None, None), (-1, "nothing was fixed", None),
                                           (-1, None, "A blue banner with the stream title in white.")]
    built = build([up, down, fixed], BuildParams(), [])
    assert sorted((r["label"], r["completion"][-1]["content"]) for r in built.kto) == [
        (False, "Done."), (True, "Rolled a 4!")]
    assert [(p["chosen"][-1]["content"], p["rejected"][-1]["content"]) for p in built.preference] == [
        ("A blue banner with the stream title in white.", "A banner.")]
    assert sorted(r["messages"][-1]["content"] for r in built.sft) == [
        "A blue banner with the stream title in white.", "Rolled a 4!"]
