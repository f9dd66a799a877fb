"""The OASST adapter rebuilds message trees into root-to-leaf conversations and accounts for every row."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from logtune.ids import conversation_id
from logtune.sources import SourceError, oasst

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "oasst" / "trees.jsonl"


def split(items):
    items = list(items)
    convs = [i for i in items if not i.get("quarantine")]
    quarantined = [i for i in items if i.get("quarantine")]
    return convs, quarantined


def test_fixture_paths_feedback_and_quarantine():
    convs, quarantined = split(oasst.read(FIXTURE, {}, "oa"))
    assert [[m["id"] for m in c["messages"]] for c in convs] == [["p1", "a1", "p2", "a3"], ["p1", "a2"], ["q1", "b1"]]
    assert Counter(q["reason"] for q in quarantined) == Counter(
        {"deleted": 2, "unanswered_prompt": 2, "orphan_reply": 1, "broken_json": 1, "wrong_type": 1,
         "missing_field": 1, "duplicate_id": 1})
    assert {q["location"] for q in quarantined if q["reason"] == "deleted"} == {"line 7 (message a4)", "line 8 (message p4)"}
    # every row: in >= 1 conversation or quarantined once
    in_convs = {m["id"] for c in convs for m in c["messages"]}
    assert len(in_convs) + len(quarantined) == 16

    first = convs[0]
    assert first["id"] == conversation_id("oa", "a3") and first["source_id"] == "a3" and first["source"] == "oa"
    assert first["created_at"] == "2023-02-07T17:29:24+00:00" and first["provenance"] == "real"
    assert first["task_type"] == "chat"
    assert [m["role"] for m in first["messages"]] == ["user", "assistant", "user", "assistant"]
    p1, a1, _, a3 = first["messages"]
    assert p1["rating"] is None and p1["feedback_meta"] is None
    assert a1["rating"] == 1 and a3["rating"] is None
    meta = json.loads(a1["feedback_meta"])
    assert meta["rank"] == 0 and meta["emojis"] == {"+1": 2, "-1": 0, "red_flag": 1}
    assert meta["labels"] == {"quality": 0.75, "humor": 0.25}
    assert meta["siblings"] == [{"id": "a2", "text": "5", "rank": 1}]
    a2 = convs[1]["messages"][1]
    assert a2["rating"] == -1 and json.loads(a2["feedback_meta"])["siblings"] == [{"id": "a1", "text": "4", "rank": 0}]
    assert convs[2]["provenance"] == "synthetic"


def test_contiguous_mode_gives_the_same_items():
    def key(item):
        return json.dumps(item, sort_keys=True)
    one_pass = sorted(oasst.read(FIXTURE, {"contiguous_trees": True}, "oa"), key=key)
    assert one_pass == sorted(oasst.read(FIXTURE, {}, "oa"), key=key)


def test_interleaved_trees(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join([lines[0], lines[8], lines[1], lines[9]] + lines[2:8] + lines[10:]) + "\n")
    convs, _ = split(oasst.read(shuffled, {}, "oa"))
    assert sorted(c["source_id"] for c in convs) == ["a2", "a3", "b1"]   # index mode regroups them
    convs, quarantined = split(oasst.read(shuffled, {"contiguous_trees": True}, "oa"))
    late = [q for q in quarantined if q["reason"] == "non_contiguous_tree"]
    # the first t1 row is closed off by q1, so all later t1 rows, and t2's after a t1 row, come too late
    assert len(late) == 9 and len({m["id"] for c in convs for m in c["messages"]}) + len(quarantined) == 16


def test_keep_deleted_and_unknown_option():
    convs, _ = split(oasst.read(FIXTURE, {"keep_deleted": True}, "oa"))
    assert "a4" in {c["source_id"] for c in convs}
    with pytest.raises(ValueError, match="contiguous_tree"):
        list(oasst.read(FIXTURE, {"contiguous_tree": True}, "oa"))


def test_corrupted_input(tmp_path):
    data = FIXTURE.read_bytes()
    broken = tmp_path / "broken.jsonl"
    # flip bytes inside line 3 (invalid UTF-8) and cut the file in the middle of the last line
    line3 = data.index(b'"text": "5"')
    broken.write_bytes(data[:line3] + b"\xff\xfe" + data[line3 + 2:len(data) - 20])
    items = list(oasst.read(broken, {}, "oa"))
    convs, quarantined = split(items)
    reasons = Counter(q["reason"] for q in quarantined)
    assert reasons["invalid_utf8"] == 1 and reasons["broken_json"] == 2
    assert len({m["id"] for c in convs for m in c["messages"]}) + len(quarantined) == 16
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(oasst.read(tmp_path / "nope.jsonl", {}, "oa"))
    document = tmp_path / "doc.jsonl"
    document.write_text("[\n" + FIXTURE.read_text().splitlines()[0] + "\n]\n")
    with pytest.raises(SourceError, match="doc.jsonl: not a oasst file"):
        list(oasst.read(document, {}, "oa"))


def test_real_validation_split(real_dir):
    path = real_dir / "oasst1" / "oasst1_validation_en.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_id = {r["message_id"]: r for r in rows}
    convs, quarantined = split(oasst.read(path, {}, "oasst1"))
    in_convs = {m["id"] for c in convs for m in c["messages"]}
    assert len(in_convs) + len(quarantined) == len(rows) == 2022
    assert not in_convs & {r["message_id"] for r in rows if r["deleted"]}

    def live_chain(r):  # every ancestor present and not deleted
        while r is not None:
            if r["deleted"]:
                return False
            if r["parent_id"] is None:
                return True
            r = by_id.get(r["parent_id"])
        return False

    live = {mid for mid, r in by_id.items() if live_chain(r)}
    kids = Counter()
    answered = {r["parent_id"] for r in rows if r["message_id"] in live and r["role"] == "assistant"}
    for r in rows:
        if r["message_id"] in live and r["role"] == "prompter" and r["message_id"] in answered:
            kids[r["parent_id"]] += 1
    leaves = [mid for mid in live if by_id[mid]["role"] == "assistant" and kids[mid] == 0]
    assert len(convs) == len(leaves) == len({c["source_id"] for c in convs})
    for c in convs:  # each message is the parent of the next, starting at a root
        ids = [m["id"] for m in c["messages"]]
        assert by_id[ids[0]]["parent_id"] is None
        assert all(by_id[b]["parent_id"] == a for a, b in zip(ids, ids[1:]))
    reply = next(m for c in convs for m in c["messages"] if m["id"] == "7d05acb7-9360-458c-8a1d-c0b6492b8f8a")
    votes = dict(zip(by_id[reply["id"]]["emojis"]["name"], by_id[reply["id"]]["emojis"]["count"]))
    assert reply["rating"] == (1 if votes["+1"] > votes["-1"] else -1)
    assert reply["content"] == by_id[reply["id"]]["text"]


def test_export_is_byte_identical(tmp_path):
    from logtune.io import write_rows
    from logtune.records import CONVERSATION
    for name in ("one", "two"):
        convs, _ = split(oasst.read(FIXTURE, {}, "oa"))
        write_rows(tmp_path / f"{name}.parquet", convs, CONVERSATION)
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
