"""The latest review applied by mix: rejects to dropped (human_review) with the ledger kept, fixes and
human_edit pairs in training, marks for other data counted as stale and not applied."""

import json

import pyarrow as pa

from logtune.mix.pipeline import Mixed
from logtune.mix.reviews import apply_review
from logtune.records import PREFERENCE_PAIR, SFT_EXAMPLE
from logtune.reviews import data_version

SFT = [{"id": f"s{i}", "messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}],
        "provenance": "real", "record_type": "chat"} for i in range(3)]


def mixed():
    def one(rows, schema):
        return Mixed(train=pa.Table.from_pylist(rows, schema=schema), heldout=pa.Table.from_pylist([], schema=schema),
                     metrics={"read": len(rows), "train": len(rows), "train_records": len(rows), "heldout": 0,
                              "dropped": 0, "dropped_by_reason": {}})
    return {"sft": one(SFT, SFT_EXAMPLE), "preference": one([], PREFERENCE_PAIR)}


def test_apply_review(tmp_path):
    m = mixed()
    version = data_version({"sft": SFT, "preference": []})
    marks = [{"id": "s0", "set": "sft", "mark": "reject", "reason": "wrong", "data_version": version},
             {"id": "s1", "set": "sft", "mark": "fix", "reason": "terse", "fix": "A1, with detail.", "data_version": version},
             {"id": "s2", "set": "sft", "mark": "reject", "reason": "old", "data_version": "older-data"}]
    (tmp_path / "2026-12-03.jsonl").write_text("".join(json.dumps(x) + "\n" for x in marks))
    summary = apply_review(m, tmp_path)
    assert summary["review"] == "2026-12-03.jsonl" and summary["marks"] == 2 and summary["stale_marks"] == 1
    assert summary["data_version"] == version
    sft = m["sft"]
    assert [r["id"] for r in sft.train.to_pylist()] == ["s1", "s2"]
    assert sft.train.to_pylist()[0]["messages"][-1]["content"] == "A1, with detail."
    assert sft.dropped[0]["reason"] == "human_review" and sft.dropped[0]["detail"] == "wrong"
    met = sft.metrics
    assert met["read"] == met["train_records"] + met["heldout"] + met["dropped"]
    pairs = m["preference"].train.to_pylist()
    assert len(pairs) == 1 and pairs[0]["rule"] == "human_edit" and summary["applied"]["preference"]["human_edit_pairs"] == 1
    pm = m["preference"].metrics
    assert pm["read"] + pm["added_by_review"] == pm["train_records"] + pm["heldout"] + pm["dropped"]


def test_no_review_changes_nothing(tmp_path):
    m = mixed()
    assert apply_review(m, tmp_path)["review"] is None and m["sft"].train.num_rows == 3
