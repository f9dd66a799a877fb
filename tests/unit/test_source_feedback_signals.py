"""Issue #14: every feedback signal a format carries reaches the Conversation, and what an adapter cannot
carry is counted in `dropped_fields`: OASST emoji votes in both forms, ChatGPT's newer feedback,
LLaMA-Factory's DPO/KTO files, BFCL expected calls (parallel, none), duplicate ids in every adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from logtune.sources.export import ExportParams, SourceParams, export_source
from logtune.sources import bfcl, chatgpt_export, messages_jsonl, oasst, sharegpt
from tests.unit.source_contract import assert_contract, notes, split

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def test_oasst_tree_export_emoji_lists_become_ratings(tmp_path):
    items = list(oasst.read(FIXTURES / "oasst" / "tree_export.jsonl", {}, "oasst"))
    assert notes(items) == {"user_id": 3}
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    assert bad == [] and [c["source_id"] for c in convs] == ["a1", "a2"]
    a1, a2 = (c["messages"][-1] for c in convs)
    assert (a1["rating"], a2["rating"]) == (1, -1)
    meta = json.loads(a1["feedback_meta"])
    assert meta["emojis"] == {"+1": 5, "-1": 1, "_skip_reply": 2} and meta["labels"] == {"quality": 0.9}
    assert (meta["rank"], meta["siblings"][0]["id"], meta["lang"], meta["review_count"]) == (0, "a2", "en", 3)


def test_oasst_column_wise_and_list_forms_give_the_same_counts():
    assert oasst._counts({"name": ["+1", "-1"], "count": [9, 1]}, "count") == {"+1": 9, "-1": 1}
    assert oasst._counts([{"name": "+1", "count": 9}, {"name": "-1", "count": 1}], "count") == {"+1": 9, "-1": 1}
    assert oasst._counts({"quality": {"value": 0.5, "count": 3}}, "value") == {"quality": 0.5}


def test_chatgpt_newer_feedback_rating_words_and_fields_are_kept(tmp_path):
    shutil.copy(FIXTURES / "chatgpt_export" / "conversations.json", tmp_path / "conversations.json")
    (tmp_path / "message_feedback.json").write_text(json.dumps([
        {"id": "fb-1", "message_id": "a3", "conversation_id": "conv-1", "user_id": "user-x", "rating": "thumbs_down",
         "evaluation_name": "default", "evaluation_treatment": "a", "create_time": "2024-05-01T10:00:00.000000+00:00",
         "update_time": "2024-05-01T10:00:05.000000+00:00", "content": "{\"text\": \"wrong\", \"tags\": [\"not-true\"]}"},
        {"id": "fb-2", "message_id": "a4", "conversation_id": "conv-1", "user_id": "user-x", "rating": "thumbs_up",
         "evaluation_name": "default", "create_time": "2024-05-01T10:01:00+00:00", "update_time": None, "content": "{}"},
        {"id": "fb-3", "message_id": "a4", "conversation_id": "conv-1", "rating": "meh", "create_time": None}]))
    items = list(chatgpt_export.read(tmp_path / "conversations.json", {}, "chatgpt"))
    assert notes(items) == {"feedback.user_id": 2, "title": 1}   # left out on purpose, and counted
    convs, bad = split(items)
    msgs = {m["id"]: m for m in convs[0]["messages"]}
    assert (msgs["a3"]["rating"], msgs["a3"]["feedback_note"], msgs["a4"]["rating"]) == (-1, "wrong", 1)
    fb = json.loads(msgs["a3"]["feedback_meta"])["feedback"]
    assert (fb["evaluation_name"], fb["update_time"], fb["tags"]) == ("default", "2024-05-01T10:00:05.000000+00:00",
                                                                     ["not-true"])
    assert [(q["reason"], q["location"]) for q in bad if "feedback" in q["location"]] == [
        ("unknown_rating", "message_feedback.json entry 2")]


def test_llamafactory_dpo_and_sharegpt_kto_records_keep_both_sides(tmp_path):
    items = list(sharegpt.read(FIXTURES / "sharegpt" / "llamafactory_dpo.json", {}, "lf"))
    assert notes(items) == {"images": 1}
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    first, french, kto = convs
    assert [(m["role"], m["content"]) for m in first["messages"]] == [
        ("user", "Name a prime number above 10."), ("assistant", "11 is a prime number above 10.")]
    assert json.loads(first["messages"][-1]["feedback_meta"]) == {"rejected": "12."}
    assert french["system_prompt"] == "Answer in French." and json.loads(french["messages"][-1]["feedback_meta"]) == {
        "rejected": "Hello!"}
    assert kto["messages"][-1]["rating"] == -1
    assert [(q["reason"], q["location"]) for q in bad] == [("missing_field", "file llamafactory_dpo.json record 2")]


def test_llamafactory_kto_labels_become_ratings(tmp_path):
    items = list(messages_jsonl.read(FIXTURES / "messages_jsonl" / "kto_en_demo.json", {}, "kto"))
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    assert [c["messages"][-1]["rating"] for c in convs] == [1, -1]
    assert [(q["reason"], q["location"]) for q in bad] == [("wrong_type", "record 2")]


def test_trl_preference_records_keep_the_rejected_reply(tmp_path):
    path = tmp_path / "pref.jsonl"
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": "2+2?"}],
                                "chosen": [{"role": "assistant", "content": "4"}],
                                "rejected": [{"role": "assistant", "content": "5"}], "score": 0.9}) + "\n")
    items = list(messages_jsonl.read(path, {}, "pref"))
    assert notes(items) == {"score": 1}
    (conv,), _ = split(items)
    assert json.loads(conv["messages"][-1]["feedback_meta"]) == {"rejected": "5"}


def test_bfcl_cases_carry_every_expected_call_or_none(tmp_path):
    items = list(bfcl.read(FIXTURES / "bfcl" / "BFCL_v3_parallel_multiple.json", {}, "bfcl"))
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    (case,) = convs
    reply = case["messages"][-1]
    assert [c["function"] for c in json.loads(reply["tool_calls"])] == [
        {"name": "math_toolkit.sum_of_primes", "arguments": {"n": 10}},
        {"name": "math_toolkit.sum_of_primes", "arguments": {"n": 20}},
        {"name": "geometry.circle_area", "arguments": {"radius": 3.0}}]
    meta = json.loads(reply["feedback_meta"])
    assert meta["parallel"] is True and meta["expect_no_call"] is False and len(meta["expected_calls"]) == 3
    assert meta["expected_calls"][2]["arguments"] == {"radius": [3.0, 3], "units": ["", "units"]}
    assert json.loads(case["context"])["tools"][1]["parameters"]["properties"]["radius"] == {"type": "float"}
    assert [q["reason"] for q in bad] == ["no_answer", "duplicate_id"]
    (none,) = split(bfcl.read(FIXTURES / "bfcl" / "BFCL_v3_irrelevance.json", {}, "bfcl"))[0]
    last = none["messages"][-1]
    assert (last["role"], last["content"], last["tool_calls"]) == ("assistant", None, None)
    assert json.loads(last["feedback_meta"]) == {"expected_calls": [], "parallel": False, "expect_no_call": True}


def test_bfcl_call_text_and_converted_expected_tool_calls(tmp_path):
    items = list(bfcl.read(FIXTURES / "bfcl" / "exec_with_calls.jsonl", {}, "bfcl"))
    assert notes(items) == {"execution_result_type": 1}
    convs, bad = split(items)
    assert [json.loads(c["messages"][-1]["tool_calls"])[0]["function"] for c in convs] == [
        {"name": "roll", "arguments": {"faces": 6}}, {"name": "send_email", "arguments": {"to": "bob@example.com"}}]
    assert [(q["reason"], q["location"]) for q in bad] == [("broken_tool_call", "line 2")]


def test_export_metrics_report_dropped_fields(tmp_path):
    source = SourceParams(name="lf", kind="sharegpt", path=str(FIXTURES / "sharegpt" / "llamafactory_dpo.json"))
    m = export_source(source, tmp_path, ExportParams())
    assert m["dropped_fields"] == {"images": 1} and m["read"] == m["exported"] + m["quarantined"] == 4


@pytest.mark.parametrize("kind, name, lines", [
    ("messages_jsonl", "m.jsonl", ['{"id": "x", "messages": [{"role": "user", "content": "hi"}]}'] * 2),
    ("dolly", "d.jsonl", ['{"instruction": "a", "response": "b"}']),   # ids from line numbers: never repeat
    ("event_log", "e.jsonl", ['{"id": 7, "llmPrompt": "p", "aceyOutput": {"speech": "s"}}'] * 2),
    ("corrections", "c.jsonl", ['{"id": "c1", "wrong": "w", "fix": "f"}'] * 2),
    ("records_jsonl", "r.jsonl", ['{"id": "r1", "record_type": "chat", "input": "User: q", "output": "a"}'] * 2),
    ("openai_chat_log", "o.jsonl", ['{"id": "q1", "request": {"messages": [{"role": "user", "content": "q"}]}, '
                                    '"response": {"choices": [{"message": {"role": "assistant", "content": "a"}}]}}'] * 2),
])
def test_duplicate_source_ids_are_quarantined_in_every_jsonl_kind(tmp_path, kind, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    m = export_source(SourceParams(name="s", kind=kind, path=str(path)), tmp_path / "out", ExportParams())
    assert m["exported"] == 1 and m["read"] == m["exported"] + m["quarantined"]
    assert m["quarantined_by_reason"] == ({"duplicate_id": 1} if len(lines) == 2 else {})


def test_duplicate_ids_in_whole_file_kinds(tmp_path):
    convs = json.loads((FIXTURES / "chatgpt_export" / "conversations.json").read_text(encoding="utf-8"))
    (tmp_path / "conversations.json").write_text(json.dumps(convs + convs[:1]))
    m = export_source(SourceParams(name="c", kind="chatgpt_export", path=str(tmp_path / "conversations.json")),
                      tmp_path / "out", ExportParams())
    assert m["quarantined_by_reason"].get("duplicate_id") == 1
    records = [{"id": "same", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}] * 2
    (tmp_path / "s.json").write_text(json.dumps(records))
    m = export_source(SourceParams(name="s", kind="sharegpt", path=str(tmp_path / "s.json")), tmp_path / "out",
                      ExportParams())
    assert (m["exported"], m["quarantined_by_reason"]) == (1, {"duplicate_id": 1})
