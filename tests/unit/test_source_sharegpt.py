"""sharegpt adapter: ShareGPT / Glaive JSON records, one file or a folder of files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import sharegpt
from tests.unit.source_contract import assert_contract, split

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "sharegpt" / "folder"


def test_folder_reads_files_in_name_order_and_accounts_for_every_record(tmp_path):
    convs, bad = split(list(sharegpt.read(FOLDER, {}, "sg")))
    assert_contract(convs, tmp_path)
    assert [c["source_id"] for c in convs] == ["g1", "b.json#0", "l1"]
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("unknown_role", "file a.json record 1"), ("broken_tool_call", "file a.json record 2"),
        ("wrong_type", "file a.json record 3"), ("broken_json", "file c.jsonl line 2"), ("broken_json", "file d.json bytes 1-31")]

    g1 = convs[0]
    assert g1["id"] == conversation_id("sg", "g1")
    assert g1["system_prompt"] == "You can call functions."
    assert json.loads(g1["context"]) == {"tools": [{"name": "weather", "parameters": {"type": "object"}}]}
    assert [(m["id"], m["role"], m["content"]) for m in g1["messages"]] == [
        ("0", "user", "Weather in Oslo?"), ("1", "assistant", "Let me check."), ("3", "tool", '{"temp": 4}'),
        ("4", "assistant", "It is 4C.")]
    assert json.loads(g1["messages"][1]["tool_calls"]) == [
        {"id": None, "type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}]
    assert json.loads(g1["messages"][2]["tool_calls"]) == {"tool_call_id": None, "name": "weather"}

    chunk = convs[1]  # a continuation chunk starts with the assistant; analysis fields are ignored
    assert [(m["role"], m["content"]) for m in chunk["messages"]] == [
        ("assistant", "...continued answer."), ("user", "Thanks"), ("assistant", "You're welcome.")]
    assert "sentiment" not in json.dumps(chunk)


def test_single_file_options_and_whole_file_errors(tmp_path):
    convs, bad = split(list(sharegpt.read(FOLDER / "b.json", {"task_type": "chat_open", "provenance": "synthetic"}, "x")))
    assert (len(convs), len(bad)) == (1, 0)
    assert (convs[0]["task_type"], convs[0]["provenance"]) == ("chat_open", "synthetic")
    (q,) = sharegpt.read(FOLDER / "d.json", {}, "x")   # cut off inside its only record
    assert (q["reason"], q["location"]) == ("broken_json", "file d.json bytes 1-31")
    with pytest.raises(ValueError, match=r"notes\.txt: not a sharegpt file: not JSON"):
        list(sharegpt.read(FOLDER / "notes.txt", {}, "x"))
    (tmp_path / "n.json").write_text("42")
    with pytest.raises(ValueError, match=r"n\.json: not a sharegpt file: top level is int"):
        list(sharegpt.read(tmp_path / "n.json", {}, "x"))
    with pytest.raises(FileNotFoundError, match="missing"):
        list(sharegpt.read(tmp_path / "missing", {}, "x"))


def test_real_sharegpt_sample(real_dir, tmp_path):
    folder = real_dir / "sharegpt" / "sample_data"
    files = sorted(folder.glob("*.json"))
    raw = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    convs, bad = split(list(sharegpt.read(folder, {}, "sharegpt")))
    assert_contract(convs, tmp_path)
    assert (len(convs), len(bad)) == (len(files), 0) == (11, 0)
    assert [c["source_id"] for c in convs] == [r["id"] for r in raw]
    roles = {"human": "user", "gpt": "assistant"}
    for conv, record in zip(convs, raw):
        expected = []  # independent merge of consecutive same-role turns
        for t in record["conversations"]:
            if expected and expected[-1][0] == roles[t["from"]]:
                expected[-1] = (expected[-1][0], expected[-1][1] + "\n\n" + t["value"])
            else:
                expected.append((roles[t["from"]], t["value"]))
        assert [(m["role"], m["content"]) for m in conv["messages"]] == expected


def test_real_glaive_toolcall_sample(real_dir, tmp_path):
    path = real_dir / "glaive_toolcall" / "glaive_toolcall_en_demo.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    convs, bad = split(list(sharegpt.read(path, {"provenance": "synthetic"}, "glaive")))
    assert_contract(convs, tmp_path)
    assert (len(convs), len(bad)) == (len(raw), 0) == (300, 0)
    calls = sum(1 for c in convs for m in c["messages"] if m["tool_calls"] and m["role"] == "assistant")
    assert calls == sum(1 for r in raw for t in r["conversations"] if t["from"] == "function_call")
    tool_turns = sum(1 for c in convs for m in c["messages"] if m["role"] == "tool")
    assert tool_turns == sum(1 for r in raw for t in r["conversations"] if t["from"] == "observation")
    first_call = next(m for m in convs[0]["messages"] if m["tool_calls"])
    assert json.loads(first_call["tool_calls"])[0]["function"] == {
        "name": "search_recipes", "arguments": {"ingredients": ["chicken", "bell peppers", "rice"]}}
    assert json.loads(convs[0]["context"])["tools"] == json.loads(raw[0]["tools"])
    assert {c["provenance"] for c in convs} == {"synthetic"}


def test_corrupted_real_file_is_a_clear_error_and_bad_records_are_quarantined(tmp_path, real_dir):
    src = (real_dir / "glaive_toolcall" / "glaive_toolcall_en_demo.json").read_bytes()
    records = json.loads(src)
    # Cut in half: every whole record before the cut is read, the cut one is quarantined with its offsets.
    (tmp_path / "cut.json").write_bytes(src[: len(src) // 2])
    convs, bad = split(sharegpt.read(tmp_path / "cut.json", {}, "g"))
    assert len(convs) > 100 and [q["reason"] for q in bad] == ["broken_json"]
    assert [c["source_id"] for c in convs] == [f"cut.json#{i}" for i in range(len(convs))]
    assert bad[0]["location"].startswith("file cut.json bytes ") and bad[0]["location"].endswith(f"-{len(src) // 2}")
    # One flipped byte: only the record holding it is quarantined; the 299 others are read.
    at = src.index(b"chicken")
    (tmp_path / "flip.json").write_bytes(src[:at] + b"\xff" + src[at + 1:])
    convs, bad = split(sharegpt.read(tmp_path / "flip.json", {}, "g"))
    assert (len(convs), [q["reason"] for q in bad]) == (len(records) - 1, ["invalid_utf8"])
    raw = json.loads(src)[:5]
    raw[1]["conversations"][0]["value"] = 7                  # wrong type
    del raw[2]["conversations"][1]["from"]                   # missing field
    raw[3]["conversations"] = []                             # empty
    (tmp_path / "edited.json").write_text(json.dumps(raw))
    items = list(sharegpt.read(tmp_path / "edited.json", {}, "g"))
    convs, bad = split(items)
    assert len(items) == 5 == len(convs) + len(bad)
    assert [q["reason"] for q in bad] == ["wrong_type", "missing_field", "empty_conversation"]
