"""Issue #15, per adapter kind: a truncated file, a flipped byte (invalid UTF-8), a missing field, a wrong
type, an empty file, a huge record and duplicate ids. Each is quarantined with a reason and a location
(line, record or byte offset) or is one clear error; never a crash or a silent loss; the ledger balances.
(The SQLite kinds' cases are in test_source_sql.py: a corrupt page, TEXT/BLOB invalid UTF-8, a duplicated
session id, an empty DB, a 50 MB message.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from logtune.io import read_jsonl
from logtune.sources.export import ExportParams, SourceParams, export_source


def _chatgpt(i, text):
    node = lambda nid, role, parts, parent, kids: {"message": {"id": nid, "author": {"role": role},  # noqa: E731
                                                               "create_time": 1700000000 + i,
                                                               "content": {"content_type": "text", "parts": parts}},
                                                   "parent": parent, "children": kids}
    return {"id": f"c{i}", "conversation_id": f"c{i}", "create_time": 1700000000, "current_node": "n2",
            "mapping": {"n1": node("n1", "user", [text], None, ["n2"]), "n2": node("n2", "assistant", ["a"], "n1", [])}}


# kind -> (file name, record(i, user text), how the file holds records, missing-field edit, wrong-type edit)
KINDS = {
    "messages_jsonl": ("m.jsonl", lambda i, t: {"id": f"m{i}", "messages": [{"role": "user", "content": t},
                                                                             {"role": "assistant", "content": "a"}]},
                       "jsonl", lambda r: r.pop("messages"), lambda r: r.update(messages=5)),
    "openai_chat_log": ("o.jsonl", lambda i, t: {"id": f"o{i}", "request": {"messages": [{"role": "user", "content": t}]},
                                                 "response": {"choices": [{"message": {"role": "assistant", "content": "a"}}]},
                                                 "latency_ms": 12},
                        "jsonl", lambda r: r.pop("request"), lambda r: r.update(latency_ms="fast")),
    "event_log": ("e.jsonl", lambda i, t: {"id": f"e{i}", "llmPrompt": t, "aceyOutput": {"speech": "s"}, "responseTime": 9},
                  "jsonl", lambda r: r.pop("llmPrompt"), lambda r: r.update(timestamp="yesterday")),
    "records_jsonl": ("r.jsonl", lambda i, t: {"id": f"r{i}", "record_type": "chat", "input": f"User: {t}", "output": "a"},
                      "jsonl", lambda r: r.pop("output"), lambda r: r.update(output=5)),
    "corrections": ("c.jsonl", lambda i, t: {"id": f"c{i}", "prompt": t, "wrong": "w", "fix": "f"},
                    "jsonl", lambda r: r.pop("fix"), lambda r: r.update(pattern=5)),
    "dolly": ("d.jsonl", lambda i, t: {"instruction": t, "response": "r", "category": "open_qa"},
              "jsonl", lambda r: r.pop("response"), lambda r: r.update(context=5)),
    "hh_rlhf": ("h.jsonl", lambda i, t: {"chosen": f"\n\nHuman: {t}\n\nAssistant: a", "rejected": f"\n\nHuman: {t}\n\nAssistant: b"},
                "jsonl", lambda r: r.pop("rejected"), lambda r: r.update(chosen=5)),
    "oasst": ("t.jsonl", lambda i, t: {"message_tree_id": f"t{i}", "prompt": {
        "message_id": f"p{i}", "role": "prompter", "text": t, "created_date": "2023-02-05T10:00:00+00:00",
        "replies": [{"message_id": f"a{i}", "role": "assistant", "text": "a", "emojis": [{"name": "+1", "count": 1}]}]}},
              "jsonl", lambda r: r["prompt"].pop("text"), lambda r: r["prompt"].update(created_date="yesterday")),
    "bfcl": ("BFCL_v3_simple.json", lambda i, t: {"id": f"simple_{i}", "question": [[{"role": "user", "content": t}]],
                                                  "function": [{"name": "f", "parameters": {"type": "dict"}}],
                                                  "ground_truth": [{"f": {"x": [1]}}]},
             "jsonl", lambda r: r.pop("question"), lambda r: r.update(question=5)),
    "chatgpt_export": ("conversations.json", _chatgpt, "array",
                       lambda r: r.pop("mapping"), lambda r: r["mapping"]["n1"]["message"]["content"].update(parts=5)),
    "claude_export": ("claude.json", lambda i, t: {"uuid": f"u{i}", "chat_messages": [
        {"uuid": f"u{i}a", "sender": "human", "text": t, "created_at": "2024-01-01T00:00:00Z"},
        {"uuid": f"u{i}b", "sender": "assistant", "text": "a", "created_at": "2024-01-01T00:00:01Z"}]},
                      "array", lambda r: r.pop("uuid"), lambda r: r["chat_messages"][0].update(created_at="yesterday")),
    "sharegpt": ("s.json", lambda i, t: {"id": f"s{i}", "conversations": [{"from": "human", "value": t},
                                                                          {"from": "gpt", "value": "a"}]},
                 "array", lambda r: r.pop("conversations"), lambda r: r.update(conversations=5)),
    "squad_v2": ("squad.json", lambda i, t: {"title": f"T{i}", "paragraphs": [{"context": "ctx", "qas": [
        {"id": f"q{i}", "question": t, "is_impossible": False, "answers": [{"text": "ctx", "answer_start": 0}]}]}]},
                 "squad", lambda r: r["paragraphs"][0]["qas"][0].pop("question"),
                 lambda r: r["paragraphs"][0]["qas"][0].update(is_impossible="no")),
}
# kinds whose source id is the record's position: a repeated record is no repeated id
POSITIONAL_IDS = {"dolly", "hh_rlhf"}


def write(kind: str, tmp_path: Path, records: list) -> Path:
    name, _, shape, _, _ = KINDS[kind]
    path = tmp_path / name
    if shape == "jsonl":
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    elif shape == "array":
        data = json.dumps(records, indent=1, ensure_ascii=False)
    else:
        data = json.dumps({"version": "v2.0", "data": records}, indent=1, ensure_ascii=False)
    path.write_text(data, encoding="utf-8")
    return path


def records(kind: str, n: int = 5) -> list:
    return [KINDS[kind][1](i, f"question MARK{i} here") for i in range(n)]


def export(kind: str, path: Path, tmp_path: Path) -> tuple[dict, list[dict]]:
    m = export_source(SourceParams(name="src", kind=kind, path=str(path)), tmp_path / "out", ExportParams())
    assert m["read"] == m["exported"] + m["quarantined"]
    return m, read_jsonl(tmp_path / "out" / "src.quarantine.jsonl")



@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("edit", ["missing_field", "wrong_type"])
def test_a_bad_record_is_quarantined_and_the_others_exported(kind, edit, tmp_path):
    recs = records(kind)
    KINDS[kind][3 if edit == "missing_field" else 4](recs[2])
    m, quarantined = export(kind, write(kind, tmp_path, recs), tmp_path)
    assert m["exported"] == 4
    assert quarantined and quarantined[0]["reason"] == edit and quarantined[0]["location"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_flipped_byte_costs_only_its_record(kind, tmp_path):
    path = write(kind, tmp_path, records(kind))
    path.write_bytes(path.read_bytes().replace(b"MARK2", b"M\xffRK2"))
    m, quarantined = export(kind, path, tmp_path)
    assert m["exported"] == 4 and [q["reason"] for q in quarantined] == ["invalid_utf8"]
    assert "byte" in quarantined[0]["detail"] or "line" in quarantined[0]["location"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_truncated_file_keeps_what_came_before_the_cut(kind, tmp_path):
    path = write(kind, tmp_path, records(kind))
    data = path.read_bytes()
    cut = data.index(b"MARK3") + 2           # inside record 3
    path.write_bytes(data[:cut])
    m, quarantined = export(kind, path, tmp_path)
    assert m["exported"] == 3 and len(quarantined) == 1
    q = quarantined[0]
    assert q["reason"] in ("broken_json", "truncated") and ("line " in q["location"] or "bytes " in q["location"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_empty_file_is_a_warning(kind, tmp_path):
    path = tmp_path / KINDS[kind][0]
    path.write_bytes(b"")
    m, quarantined = export(kind, path, tmp_path)
    assert (m["read"], m["warnings"], quarantined) == (0, {"empty_source": 1}, [])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_huge_record_is_quarantined_with_a_bounded_excerpt(kind, tmp_path):
    recs = records(kind)
    recs[1] = KINDS[kind][1](1, "z" * 2_000_000)
    m, quarantined = export(kind, write(kind, tmp_path, recs), tmp_path)
    assert m["exported"] == 4 and [q["reason"] for q in quarantined] == ["message_too_long"]
    assert (tmp_path / "out" / "src.quarantine.jsonl").stat().st_size < 70_000


@pytest.mark.parametrize("kind", sorted(set(KINDS) - POSITIONAL_IDS))
def test_duplicate_ids_are_quarantined(kind, tmp_path):
    recs = records(kind)
    recs.append(copy.deepcopy(recs[1]))
    m, quarantined = export(kind, write(kind, tmp_path, recs), tmp_path)
    assert m["exported"] == 5 and quarantined and {q["reason"] for q in quarantined} == {"duplicate_id"}


def test_a_chatgpt_time_that_is_none_is_quarantined_not_kept(tmp_path):
    recs = records("chatgpt_export")
    recs[1]["create_time"] = "yesterday"
    recs[3]["mapping"]["n2"]["message"]["create_time"] = "soon"
    m, quarantined = export("chatgpt_export", write("chatgpt_export", tmp_path, recs), tmp_path)
    assert m["exported"] == 3 and [(q["reason"], q["location"]) for q in quarantined] == [
        ("wrong_type", "conversation 1 (id c1)"), ("wrong_type", "conversation 3 (id c3)")]
