"""messages_jsonl adapter: OpenAI fine-tuning / TRL conversational JSONL, line by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.ids import conversation_id, prompt_version
from logtune.records import CONVERSATION
from logtune.sources import messages_jsonl
from tests.unit.source_contract import assert_contract, split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "messages_jsonl" / "chats.jsonl"


def test_fixture_maps_every_line_to_a_conversation_or_a_reason(tmp_path):
    convs, bad = split(list(messages_jsonl.read(FIXTURE, {}, "ft")))
    assert_contract(convs, tmp_path)
    assert [c["source_id"] for c in convs] == ["t1", "chats.jsonl:2", "p1"]
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("broken_json", "line 5"), ("invalid_utf8", "line 6"), ("orphan_reply", "line 7"),
        ("unknown_role", "line 8"), ("missing_field", "line 9")]
    assert all(set(c) == set(CONVERSATION.names) for c in convs)

    t1 = convs[0]
    assert t1["id"] == conversation_id("ft", "t1")
    assert t1["system_prompt"] == "Be brief." and t1["prompt_version"] == prompt_version("Be brief.")
    assert json.loads(t1["context"]) == {"tools": [{"type": "function", "function": {"name": "weather",
                                                                                   "parameters": {"type": "object"}}}]}
    assert [m["role"] for m in t1["messages"]] == ["user", "assistant", "tool", "assistant"]
    call = t1["messages"][1]
    assert call["content"] == ""
    assert json.loads(call["tool_calls"]) == [{"id": "c1", "type": "function",
                                               "function": {"name": "weather", "arguments": {"city": "Oslo"}}}]
    assert json.loads(t1["messages"][2]["tool_calls"]) == {"tool_call_id": "c1", "name": None}
    assert json.loads(t1["messages"][3]["feedback_meta"]) == {"weight": 0}
    assert (t1["task_type"], t1["provenance"], t1["status"]) == ("chat", "real", "ok")

    merged = convs[1]["messages"]
    assert [(m["role"], m["content"]) for m in merged] == [("user", "Hello\n\nAre you there?"),
                                                          ("assistant", "Yes. Grüße!")]
    assert [(m["role"], m["content"]) for m in convs[2]["messages"]] == [("user", "2+2?"), ("assistant", "4")]


def test_options_set_task_type_provenance_and_id_field(tmp_path):
    path = tmp_path / "gen.jsonl"
    path.write_text(json.dumps({"uid": "u9", "messages": [{"role": "user", "content": "a"},
                                                         {"role": "assistant", "content": "b"}]}) + "\n")
    (conv,) = messages_jsonl.read(path, {"task_type": "qa", "provenance": "synthetic", "id_field": "uid"}, "gen")
    assert (conv["source_id"], conv["task_type"], conv["provenance"]) == ("u9", "qa", "synthetic")


def test_unknown_option_and_missing_file_fail_at_start(tmp_path):
    with pytest.raises(ValueError, match="task_typo"):
        list(messages_jsonl.read(FIXTURE, {"task_typo": "qa"}, "ft"))
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(messages_jsonl.read(tmp_path / "nope.jsonl", {}, "ft"))


def test_corrupted_file_quarantines_each_bad_line_and_counts_add_up(tmp_path):
    data = FIXTURE.read_bytes()
    good = json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 5}]})
    corrupted = data[:-40] + b"\n\xff\xfe garbage\n" + good.encode() + b"\n[1, 2]\n"   # cut last line, bytes, types
    path = tmp_path / "bad.jsonl"
    path.write_bytes(corrupted)
    items = list(messages_jsonl.read(path, {}, "ft"))
    records = sum(1 for line in corrupted.splitlines() if line.strip())
    convs, bad = split(items)
    assert len(items) == records == len(convs) + len(bad)
    assert [q["reason"] for q in bad[-4:]] == ["broken_json", "invalid_utf8", "wrong_type", "wrong_type"]


def test_gzip_is_streamed_too(tmp_path):
    import gzip

    path = tmp_path / "chats.jsonl.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    assert [i.get("source_id") for i in messages_jsonl.read(path, {}, "ft")][:3] == ["t1", "chats.jsonl.gz:2", "p1"]
