"""The corrections adapter turns seed 002's wrong-output/fix records into down-voted replies with a rewrite."""

from __future__ import annotations

import json
from pathlib import Path

from logtune.ids import conversation_id
from logtune.sources import corrections

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "corrections" / "corrections.jsonl"


def test_fixture():
    items = list(corrections.read(FIXTURE, {}, "fixes"))
    assert [(i.get("reason"), i.get("location")) for i in items if i.get("quarantine")] == [
        ("missing_field", "line 4"), ("empty_conversation", "line 5"), ("wrong_type", "line 6")]
    action, none_tool, plan = [i for i in items if not i.get("quarantine")]
    assert action["id"] == conversation_id("fixes", "corr-001") and action["task_type"] == "tool_use"
    assert action["provenance"] == "synthetic" and json.loads(action["context"]) == {"agents": ["web-1"]}
    user, reply = action["messages"]
    assert (user["role"], user["content"]) == ("user", "check disk on web-1")
    assert (reply["role"], reply["content"], reply["rating"], reply["rewrite"]) == (
        "assistant", '{"action": "ssh", "args": {"host": "web-1"}}', -1, '{"tool": "ssh", "args": {"host": "web-1"}}')
    assert json.loads(reply["feedback_meta"]) == {"pattern": "action_instead_of_tool",
                                                  "explanation": 'the executor reads the key "tool"'}
    assert none_tool["task_type"] == "chat" and none_tool["messages"][1]["content"] == '{"tool":"none"}'
    assert json.loads(none_tool["messages"][1]["feedback_meta"]) == {"pattern": "tool_none_not_recognized"}
    assert plan["source_id"] == "corrections.jsonl:3" and [m["role"] for m in plan["messages"]] == ["assistant"]
    assert plan["messages"][0]["rewrite"] == "1. List the files with `ls`."


def test_corrupted_input(tmp_path):
    good = FIXTURE.read_bytes().split(b"\n")[0]
    path = tmp_path / "c.jsonl"
    path.write_bytes(good[:25] + b"\n" + good.replace(b"web-1", b"web\x80", 1) + b"\n" + b"[1]\n" + good + b"\n")
    items = list(corrections.read(path, {}, "fixes"))
    assert [i.get("reason") for i in items] == ["broken_json", "invalid_utf8", "wrong_type", None]
