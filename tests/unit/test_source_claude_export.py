"""claude_export adapter: Claude.ai account export (chat_messages, newer content blocks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import claude_export
from tests.unit.source_contract import assert_contract, split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "claude_export" / "conversations.json"


def test_fixture_orders_merges_and_maps_content_blocks(tmp_path):
    convs, bad = split(list(claude_export.read(FIXTURE, {}, "claude")))
    assert_contract(convs, tmp_path)
    assert [c["source_id"] for c in convs] == ["c1", "c2"]
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("empty_conversation", "conversation 2 (id c3)"), ("unknown_role", "conversation 3 (id c4)"),
        ("wrong_type", "conversation 4 (id None)")]

    c1 = convs[0]
    assert (c1["id"], c1["created_at"], c1["task_type"]) == (conversation_id("claude", "c1"), "2024-10-17T03:28:33Z", "chat")
    assert [(m["id"], m["role"], m["content"]) for m in c1["messages"]] == [
        ("m1", "user", "First question\n\n[attachment: notes.txt]\nPRJ-1 is late"),
        ("m2", "assistant", " First answer"),
        ("m3", "user", "Second question\n\nand a follow-up"),
        ("m4", "assistant", " Second answer")]

    c2 = convs[1]
    assert [(m["id"], m["role"], m["content"]) for m in c2["messages"]] == [
        ("b1", "user", "Search for X"), ("b2", "assistant", "Searching."), ("b2#1", "tool", "X is a letter."),
        ("b2#2", "assistant", "X is a letter.")]
    assert json.loads(c2["messages"][1]["tool_calls"]) == [
        {"id": "t1", "type": "function", "function": {"name": "web_search", "arguments": {"q": "X"}}}]
    assert json.loads(c2["messages"][2]["tool_calls"]) == {"tool_call_id": "t1", "name": "web_search"}


def test_options_keep_thinking_and_drop_attachments():
    convs = [c for c in claude_export.read(FIXTURE, {"keep_thinking": True, "keep_attachments": False}, "claude")
             if not c.get("quarantine")]
    assert convs[1]["messages"][1]["content"] == "<thinking>I should search.</thinking>\n\nSearching."
    assert convs[0]["messages"][0]["content"] == "First question"


def test_real_claude_exports(real_dir, tmp_path):
    for name in ("example.json", "artifacts.json"):
        path = real_dir / "claude_export" / name
        raw = json.loads(path.read_text(encoding="utf-8"))
        convs, bad = split(list(claude_export.read(path, {}, "claude")))
        assert_contract(convs, tmp_path)
        assert (len(convs), len(bad)) == (len(raw), 0)
        for conv, record in zip(convs, raw):
            assert conv["source_id"] == record["uuid"]
            msgs = record["chat_messages"]
            first = min(msgs, key=lambda m: (m["created_at"], m["sender"] != "human"))
            assert conv["messages"][0]["content"] == first["text"]
            roles = [m["role"] for m in conv["messages"]]
            assert all(a != b for a, b in zip(roles, roles[1:]))  # alternating after merging
            assert len(roles) == len(msgs)  # these two exports alternate once put in time order
    assert len(convs[0]["messages"]) == 20 and convs[0]["messages"][0]["content"].startswith("Built me an artifact")


def test_corrupted_export_raises_or_quarantines(tmp_path, real_dir):
    src = (real_dir / "claude_export" / "artifacts.json").read_bytes()
    (tmp_path / "cut.json").write_bytes(src[:-200])   # the last conversation cut off: quarantined, the rest read
    convs, bad = split(claude_export.read(tmp_path / "cut.json", {}, "c"))
    assert (len(convs), [q["reason"] for q in bad]) == (len(json.loads(src)) - 1, ["broken_json"])
    (tmp_path / "junk.json").write_text("junk")
    with pytest.raises(ValueError, match=r"junk\.json: not a claude_export file"):
        list(claude_export.read(tmp_path / "junk.json", {}, "c"))
    (tmp_path / "obj.json").write_text('{"uuid": "x"}')
    with pytest.raises(ValueError, match=r"obj\.json: not a claude_export file: top level is dict"):
        list(claude_export.read(tmp_path / "obj.json", {}, "c"))
    with pytest.raises(FileNotFoundError, match="gone.json"):
        list(claude_export.read(tmp_path / "gone.json", {}, "c"))
    raw = json.loads(src)[0]
    bad_text = json.loads(json.dumps(raw))
    bad_text["uuid"] = "t"
    bad_text["chat_messages"][3]["text"] = None
    no_uuid = {k: v for k, v in raw.items() if k != "uuid"}
    (tmp_path / "edited.json").write_text(json.dumps([raw, bad_text, no_uuid, 7]))
    items = list(claude_export.read(tmp_path / "edited.json", {}, "c"))
    convs, bad = split(items)
    assert len(items) == 4 == len(convs) + len(bad)
    assert [q["reason"] for q in bad] == ["wrong_type", "missing_field", "wrong_type"]
