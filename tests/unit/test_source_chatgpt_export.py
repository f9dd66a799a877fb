"""chatgpt_export adapter: the mapping node tree's active branch, regenerations, thumbs from message_feedback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import chatgpt_export
from tests.unit.source_contract import assert_contract, split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "chatgpt_export"


def test_active_branch_tool_calls_alternatives_and_feedback(tmp_path):
    items = list(chatgpt_export.read(FIXTURES / "conversations.json", {}, "chatgpt"))
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    assert len(items) == 3 + 2  # 3 conversations + 2 feedback entries that join nothing
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("broken_tree", "conversation 1 (id conv-2)"), ("empty_conversation", "conversation 2 (id conv-3)"),
        ("unknown_rating", "message_feedback.json entry 4"), ("orphan_feedback", "message_feedback.json message zz")]

    (c,) = convs
    assert (c["id"], c["source_id"]) == (conversation_id("chatgpt", "conv-1"), "conv-1")
    assert (c["created_at"], c["model_version"], c["system_prompt"]) == ("2023-11-14T22:13:20Z", "gpt-4o", None)
    assert [(m["id"], m["role"], m["content"]) for m in c["messages"]] == [
        ("u1", "user", "What is 2+2?"), ("a1", "assistant", "Let me compute."), ("t1", "tool", "4"),
        ("a3", "assistant", "It is 4."), ("u2", "user", "Thanks"), ("a4", "assistant", "You're welcome.")]
    a1, tool, a3, a4 = c["messages"][1], c["messages"][2], c["messages"][3], c["messages"][5]
    assert a1["created_at"] == "2023-11-14T22:13:22.500000Z"
    assert json.loads(a1["tool_calls"]) == [
        {"id": None, "type": "function", "function": {"name": "python", "arguments": "print(2+2)"}}]
    assert json.loads(a1["feedback_meta"]) == {
        "alternatives": [{"id": "a1old", "content": "5", "rating": -1, "feedback_note": None}]}
    assert json.loads(tool["tool_calls"]) == {"tool_call_id": None, "name": "python"}
    assert (a3["rating"], a3["feedback_note"]) == (-1, "Too slow, just say 4")
    assert json.loads(a3["feedback_meta"]) == {
        "feedback": {"id": "a3", "create_time": "2023-11-14T22:13:30+00:00", "tags": ["not-helpful"],
                     "workspace_id": None, "storage_protocol": "zstd::1.5.5.1"}}
    assert (a4["rating"], a4["feedback_note"]) == (1, None)


def test_feedback_path_option_and_no_feedback(tmp_path):
    shutil.copy(FIXTURES / "conversations.json", tmp_path / "conversations.json")
    convs, bad = split(list(chatgpt_export.read(tmp_path / "conversations.json", {}, "chatgpt")))
    assert [m["rating"] for m in convs[0]["messages"]] == [None] * 6 and len(bad) == 2
    items = list(chatgpt_export.read(tmp_path / "conversations.json",
                                     {"feedback_path": str(FIXTURES / "message_feedback.json")}, "chatgpt"))
    assert len(items) == 5
    with pytest.raises(FileNotFoundError, match="nofeedback.json"):
        list(chatgpt_export.read(tmp_path / "conversations.json", {"feedback_path": str(tmp_path / "nofeedback.json")}, "x"))


def test_real_chatgpt_export(real_dir, tmp_path):
    folder = real_dir / "chatgpt_export"
    (raw,) = json.loads((folder / "conversations.json").read_text(encoding="utf-8"))
    feedback = json.loads((folder / "message_feedback.json").read_text(encoding="utf-8"))
    items = list(chatgpt_export.read(folder / "conversations.json", {}, "chatgpt"))
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    # The real feedback rates messages of other conversations: each is accounted as an orphan.
    assert (len(convs), len(bad)) == (1, len(feedback)) == (1, 4)
    assert {q["reason"] for q in bad} == {"orphan_feedback"}
    (c,) = convs
    assert (c["source_id"], c["model_version"]) == (raw["conversation_id"], "gpt-4-code-interpreter")
    # Independently: walk the active branch and count what should become turns.
    mapping, node, branch = raw["mapping"], raw["current_node"], []
    while node:
        branch.append(mapping[node])
        node = mapping[node]["parent"]
    msgs = [n["message"] for n in reversed(branch) if n["message"]]
    users = [m for m in msgs if m["author"]["role"] == "user"]
    tools = [m for m in msgs if m["author"]["role"] == "tool"]
    calls = [m for m in msgs if m["author"]["role"] == "assistant" and m["recipient"] != "all"]
    got = c["messages"]
    assert [m["content"] for m in got if m["role"] == "user"] == ["\n".join(m["content"]["parts"]) for m in users]
    assert [m["content"] for m in got if m["role"] == "tool"] == [m["content"]["text"] for m in tools]
    assert sum(len(json.loads(m["tool_calls"])) for m in got if m["role"] == "assistant" and m["tool_calls"]) == len(calls)
    assert got[-1]["id"] == raw["current_node"] and got[-1]["role"] == "assistant"
    assert not any(m["role"] == "system" for m in got) and c["system_prompt"] is None  # hidden, empty


def test_corrupted_export_raises_or_quarantines(tmp_path, real_dir):
    src = (real_dir / "chatgpt_export" / "conversations.json").read_bytes()
    # A truncated or byte-damaged export: the damaged conversation is quarantined with its byte offsets,
    # not the whole file rejected with a traceback (issue #15).
    (tmp_path / "conversations.json").write_bytes(src[: len(src) // 3])
    (q,) = list(chatgpt_export.read(tmp_path / "conversations.json", {}, "c"))
    assert q["reason"] == "broken_json" and q["location"].startswith("bytes ")
    (tmp_path / "conversations.json").write_bytes(src.replace(b"average", b"av\xffrage", 1))
    (q,) = list(chatgpt_export.read(tmp_path / "conversations.json", {}, "c"))
    assert q["reason"] == "invalid_utf8" and "not UTF-8 at byte" in q["detail"]
    (tmp_path / "conversations.json").write_bytes(b"not json")
    with pytest.raises(ValueError, match=r"conversations\.json: not a chatgpt_export file"):
        list(chatgpt_export.read(tmp_path / "conversations.json", {}, "c"))
    (tmp_path / "message_feedback.json").write_text("{}")
    (tmp_path / "conversations.json").write_bytes(src)
    with pytest.raises(ValueError, match=r"message_feedback\.json: not a ChatGPT message_feedback file"):
        list(chatgpt_export.read(tmp_path / "conversations.json", {}, "c"))
    (tmp_path / "message_feedback.json").unlink()

    good = json.loads(src)[0]
    cycle = json.loads(src)[0]
    first = next(iter(cycle["mapping"]))
    cycle["mapping"][first]["parent"] = cycle["current_node"]           # a loop back to the leaf
    no_mapping = {k: v for k, v in good.items() if k != "mapping"}
    wrong = dict(good, mapping=["not", "a", "dict"])
    (tmp_path / "conversations.json").write_text(json.dumps([good, cycle, no_mapping, wrong]))
    items = list(chatgpt_export.read(tmp_path / "conversations.json", {}, "c"))
    convs, bad = split(items)
    assert len(items) == 4 == len(convs) + len(bad)
    assert [q["reason"] for q in bad] == ["broken_tree", "missing_field", "missing_field"]
