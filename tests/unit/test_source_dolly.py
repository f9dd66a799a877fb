"""The Dolly adapter maps instruction/context/response/category lines to conversations."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import dolly

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "dolly" / "sample.jsonl"


def test_fixture():
    items = list(dolly.read(FIXTURE, {}, "dolly"))
    convs = [i for i in items if not i.get("quarantine")]
    assert [(q["reason"], q["location"]) for q in items if q.get("quarantine")] == [
        ("missing_field", "line 4"), ("wrong_type", "line 5"), ("empty_conversation", "line 6"),
        ("broken_json", "line 7"), ("wrong_type", "line 8")]
    first, second = convs
    assert first["id"] == conversation_id("dolly", "sample.jsonl:1") and first["source_id"] == "sample.jsonl:1"
    assert first["task_type"] == "closed_qa" and first["provenance"] == "real"
    assert json.loads(first["context"]) == {"text": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue."}
    assert [(m["role"], m["content"], m["id"]) for m in first["messages"]] == [
        ("user", "When did Virgin Australia start operating?", "sample.jsonl:1#0"),
        ("assistant", "On 31 August 2000, as Virgin Blue.", "sample.jsonl:1#1")]
    assert first["messages"][1]["rating"] is None
    assert second["context"] is None and second["task_type"] == "open_qa"
    assert dolly.read(FIXTURE, {"task_type": "instruction"}, "d").__next__()["task_type"] == "instruction"


def test_corrupted_input(tmp_path):
    good = FIXTURE.read_bytes().split(b"\n")[0]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(good + b"\n" + good[:40] + b"\xc3\x28" + good[42:] + b"\n" + good[: len(good) // 2] + b"\n"
                     + json.dumps({"instruction": 3, "response": "x"}).encode() + b"\n")
    items = list(dolly.read(path, {}, "d"))
    assert [i.get("reason") for i in items] == [None, "invalid_utf8", "broken_json", "wrong_type"]
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        list(dolly.read(tmp_path / "missing.jsonl", {}, "d"))


def test_real_sample(real_dir):
    path = real_dir / "dolly" / "databricks-dolly-15k.sample.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    convs = list(dolly.read(path, {}, "dolly"))
    assert len(convs) == len(rows) == 48 and not any(c.get("quarantine") for c in convs)
    assert Counter(c["task_type"] for c in convs) == Counter(r["category"] for r in rows)
    assert sum(c["context"] is not None for c in convs) == sum(bool(r["context"].strip()) for r in rows)
    assert convs[0]["messages"][0]["content"] == rows[0]["instruction"]
    assert convs[-1]["messages"][1]["content"] == rows[-1]["response"]
