"""openai_chat_log adapter: gateway request/response logs, one call per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import openai_chat_log
from tests.unit.source_contract import assert_contract, split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "openai_chat_log" / "gateway.jsonl"


def test_logged_calls_map_to_conversations_with_workload_feedback_and_cost(tmp_path):
    convs, bad = split(list(openai_chat_log.read(FIXTURE, {"task_type": "support"}, "gateway")))
    assert_contract(convs, tmp_path)
    assert [c["source_id"] for c in convs] == ["req-1", "gateway.jsonl:2", "chatcmpl-10"]
    assert [(q["reason"], q["location"]) for q in bad] == [("unknown_rating", "line 4"), ("missing_field", "line 5")]

    c = convs[0]
    assert c["id"] == conversation_id("gateway", "req-1")
    assert (c["task_type"], c["model_version"], c["created_at"]) == (
        "ticket_summary", "gpt-4o-mini-2024-07-18", "2025-03-01T10:00:00Z")
    assert (c["latency_ms"], c["cost"], c["confidence"], c["approval"]) == (812.0, 0.00012, 0.9, "approved")
    assert c["system_prompt"] == "You summarise tickets."
    assert json.loads(c["context"])["tools"][0]["function"]["name"] == "get_ticket"
    reply = c["messages"][-1]
    assert (reply["role"], reply["content"], reply["rating"]) == ("assistant", "PRJ-12 is open.", -1)
    assert (reply["feedback_note"], reply["rewrite"]) == ("too short", "PRJ-12 is open and assigned to Ana.")
    assert json.loads(reply["feedback_meta"]) == {
        "alternatives": [{"index": 1, "content": "Second draft."}], "finish_reason": "stop",
        "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    assert "acme" not in json.dumps(c)  # the client id is dropped on purpose

    failed = convs[1]
    assert (failed["status"], failed["task_type"], failed["model_version"]) == ("error", "faq", "gpt-4o-mini")
    assert json.loads(failed["error"]) == {"type": "timeout", "message": "upstream timed out"}
    assert [m["role"] for m in failed["messages"]] == ["user"]

    tool = convs[2]
    assert (tool["task_type"], tool["latency_ms"], tool["created_at"]) == ("support", 1500.0, "2025-03-01T10:02:00Z")
    assert tool["messages"][-1]["rating"] == 1
    assert json.loads(tool["messages"][-1]["tool_calls"])[0]["function"] == {"name": "weather", "arguments": {}}


def test_corrupted_log_quarantines_bad_lines_and_counts_add_up(tmp_path):
    lines = FIXTURE.read_bytes().splitlines()
    broken = [lines[0][:100], lines[1].replace(b"Hours", b"H\xc3\x28urs"), lines[2],
              json.dumps({"request": {"messages": "hi"}}).encode(),
              json.dumps({"request": {"messages": [{"role": "user", "content": "q"}]},
                          "response": {"choices": [{"message": {"role": "assistant", "tool_calls": [{"x": 1}]}}]}}).encode()]
    path = tmp_path / "gw.jsonl"
    path.write_bytes(b"\n".join(broken) + b"\n")
    items = list(openai_chat_log.read(path, {}, "gw"))
    convs, bad = split(items)
    assert len(items) == len(broken) == len(convs) + len(bad)
    assert [q["reason"] for q in bad] == ["broken_json", "invalid_utf8", "wrong_type", "broken_tool_call"]
    assert [c["source_id"] for c in convs] == ["chatcmpl-10"]


def test_a_folder_is_not_a_log_file(tmp_path):
    with pytest.raises(ValueError, match="not a openai_chat_log file"):
        list(openai_chat_log.read(tmp_path, {}, "gw"))
