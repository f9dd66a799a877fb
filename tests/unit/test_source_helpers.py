"""What every file-based source adapter shares: the JSONL reader (`sources.jsonl`), record helpers
(`sources.items`) and chat-format helpers (`sources.chat`)."""

from __future__ import annotations

import gzip

import pytest

from logtune.sources import SourceError
from logtune.sources.chat import merge_same_role, split_transcript, tool_calls_json
from logtune.sources.items import UnknownRole, check_fields, conversation, message, quarantine
from logtune.sources.jsonl import iter_json_lines


def test_iter_json_lines_quarantines_bad_lines_only(tmp_path):
    path = tmp_path / "x.jsonl.gz"  # gzip detected by magic bytes, not by the name
    path.write_bytes(gzip.compress(b'\xef\xbb\xbf{"a": 1}\n\n{"a": \n\xff\n[2]\n', mtime=0))
    items = list(iter_json_lines(path, "demo"))
    assert items[0] == (1, {"a": 1})
    assert [(i["reason"], i["location"]) for i in items[1:3]] == [("broken_json", "line 3"), ("invalid_utf8", "line 4")]
    assert items[3] == (5, [2])   # shape is the adapter's business after line 1
    array = tmp_path / "array.jsonl"
    array.write_text('[{"a": 1}]\n')
    with pytest.raises(SourceError, match="array.jsonl: not a demo file: line 1 is a JSON array"):
        list(iter_json_lines(array, "demo"))


def test_check_fields_and_transcripts():
    assert check_fields({"a": True}, {"a": int}) == ("wrong_type", "field 'a' should be int, got bool")
    assert check_fields({"a": None}, {"a": str}) == ("missing_field", "field 'a' is missing")
    assert check_fields({"a": 1.5, "b": None}, {"a": (int, float)}, {"b": str}) is None
    assert split_transcript("User: hi\nthere\nAssistant: yo", {"User": "user", "Assistant": "assistant"}, "\n") == [
        ("user", "hi\nthere"), ("assistant", "yo")]
    assert split_transcript("note\nUser: hi", {"User": "user"}, "\n") is None
    conv = conversation("src", "7", [message("user", "hi"), message("assistant", "yo", id="m2",
                                                                     feedback_meta={"b": 1})],
                        context={"z": 1, "a": 2}, system_prompt="Be brief.")
    assert [m["id"] for m in conv["messages"]] == ["7#0", "m2"]
    assert conv["context"] == '{"a":2,"z":1}' and conv["messages"][1]["feedback_meta"] == '{"b":1}'
    assert conv["prompt_version"] is not None and conv["provenance"] == "real"


def test_leading_system_turns_become_the_system_prompt_and_ids_keep_input_positions():
    # prompt.with_system drops system messages, so one left in `messages` would never reach training
    conv = conversation("src", "9", [message("system", "Use CONTEXT."), message("user", "hi")], system_prompt="Be brief.",
                        created_at=0)
    assert conv["system_prompt"] == "Be brief.\n\nUse CONTEXT." and [m["id"] for m in conv["messages"]] == ["9#1"]
    assert conv["status"] is None and conv["created_at"] == "1970-01-01T00:00:00Z"


def test_messages_tool_calls_and_quarantine_share_one_canonical_form():
    with pytest.raises(UnknownRole):
        message("robot", "beep")
    calls = tool_calls_json({"name": "weather", "arguments": '{"city": "Oslo"}'})
    assert calls == '[{"function":{"arguments":{"city":"Oslo"},"name":"weather"},"id":null,"type":"function"}]'
    merged = merge_same_role([message("assistant", "Let me check.", id="a"), message("assistant", "", id="b",
                                                                                       tool_calls=calls)])
    assert [(m["id"], m["content"], m["tool_calls"]) for m in merged] == [("a", "Let me check.", calls)]
    bad = quarantine("invalid_utf8", "x", "line 3", b"\xff{")
    assert bad["record"] == "\\xff{" and bad["quarantine"] is True
