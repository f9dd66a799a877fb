"""The SQuAD v2 adapter makes one conversation per question, unanswerable ones with an empty reply slot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.sources import SourceError, squad_v2

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "squad_v2" / "sample.json"


def test_fixture():
    items = list(squad_v2.read(FIXTURE, {}, "squad"))
    assert [(i.get("reason"), i.get("location")) for i in items if i.get("quarantine")] == [
        ("duplicate_id", "article 1 paragraph 1 question 3 (id q1)"),
        ("missing_field", "article 1 paragraph 1 question 4 (id q4)"),
        ("missing_field", "article 1 paragraph 1 question 5 (id q5)"),
        ("missing_field", "article 1 paragraph 2 question 1 (id q6)"),
        ("wrong_type", "article 1 paragraph 3")]
    answerable, unanswerable = [i for i in items if not i.get("quarantine")]
    assert answerable["source_id"] == "q1" and answerable["task_type"] == "extractive"
    assert json.loads(answerable["context"]) == {
        "title": "Normans", "text": "The Normans were the people who gave their name to Normandy, a region in France."}
    user, reply = answerable["messages"]
    assert (user["role"], user["content"], reply["content"]) == ("user", "In what country is Normandy located?", "France")
    assert json.loads(reply["feedback_meta"])["answers"] == [{"text": "France", "answer_start": 75},
                                                             {"text": "in France", "answer_start": 72}]
    assert unanswerable["task_type"] == "extractive_unanswerable"
    assert unanswerable["messages"][1]["role"] == "assistant" and unanswerable["messages"][1]["content"] is None
    assert json.loads(unanswerable["messages"][1]["feedback_meta"]) == {
        "unanswerable": True, "plausible_answers": [{"text": "The Normans", "answer_start": 0}]}


def test_corrupted_input(tmp_path):
    data = FIXTURE.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) // 2])   # articles before the cut are read, the cut one is quarantined
    items = list(squad_v2.read(cut, {}, "s"))
    assert items[-1]["reason"] == "broken_json" and items[-1]["location"].startswith("bytes ")
    (tmp_path / "junk.json").write_text("junk")
    with pytest.raises(SourceError, match="junk.json: not a squad_v2 file"):
        list(squad_v2.read(tmp_path / "junk.json", {}, "s"))
    shape = tmp_path / "list.json"
    shape.write_text("[1, 2]")
    with pytest.raises(SourceError, match="list.json: not a squad_v2 file"):
        list(squad_v2.read(shape, {}, "s"))
    flipped = tmp_path / "flipped.json"
    flipped.write_bytes(data.replace(b"Normandy located", b"Normandy \xffocated"))
    items = list(squad_v2.read(flipped, {}, "s"))
    bad = [i for i in items if i.get("quarantine")]
    assert [q["reason"] for q in bad] == ["invalid_utf8"] and "not UTF-8 at byte" in bad[0]["detail"]
    with pytest.raises(FileNotFoundError, match="none.json"):
        list(squad_v2.read(tmp_path / "none.json", {}, "s"))


def test_real_dev_split(real_dir):
    path = real_dir / "squad_v2" / "dev-v2.0.cs224n-split.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    qas = [(a["title"], p["context"], q) for a in doc["data"] for p in a["paragraphs"] for q in p["qas"]]
    items = list(squad_v2.read(path, {}, "squad"))
    assert len(items) == len(qas) == 6078 and not any(i.get("quarantine") for i in items)
    assert sum(i["task_type"] == "extractive_unanswerable" for i in items) == sum(q["is_impossible"] for _, _, q in qas) == 3168
    for item, (title, text, qa) in list(zip(items, qas))[::97]:
        assert item["source_id"] == qa["id"] and item["messages"][0]["content"] == qa["question"]
        assert json.loads(item["context"]) == {"title": title, "text": text}
        assert item["messages"][1]["content"] == (None if qa["is_impossible"] else qa["answers"][0]["text"])
