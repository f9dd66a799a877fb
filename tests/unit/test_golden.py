"""The golden set: follows the shared contract, has the planned mix, and shares no entity with the sample DB."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from logtune.golden import golden_cases
from logtune.io import read_jsonl
from logtune.sample import SampleParams, generate

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "golden.jsonl"
ID_RE = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b")


def test_committed_file_is_what_the_generator_makes():
    assert read_jsonl(GOLDEN) == golden_cases()


def test_contract_and_mix():
    cases = read_jsonl(GOLDEN)
    assert 100 <= len(cases) <= 150 and len({c["id"] for c in cases}) == len(cases)
    assert Counter(c["tags"][0] for c in cases) == {"answerable": 60, "refusal": 36, "followup": 24}
    for c in cases:
        assert set(c) == {"id", "context", "messages", "expected", "tags"}
        assert c["messages"][-1]["role"] == "user" and c["messages"][0]["role"] == "user"
        ids = [r["id"] for r in (c["context"] or {}).get("records", [])]
        assert c["expected"]["allowed_ids"] == ids
        text = " ".join(str(v) for r in (c["context"] or {}).get("records", []) for v in r.values())
        if c["expected"]["must_refuse"]:
            assert c["tags"][0] == "refusal" and c["expected"]["contains"] == []
            if "missing_record" in c["tags"]:
                assert not set(ID_RE.findall(c["messages"][-1]["content"])) & set(ids)
        else:  # every expected string is in CONTEXT: a grounded reply can always copy it
            assert c["expected"]["contains"] and all(s in text for s in c["expected"]["contains"])
        if c["tags"][0] == "followup":
            assert len(c["messages"]) == 3


def test_no_golden_entity_is_in_the_sample_db():
    sessions, messages, _ = generate(SampleParams(), "prompt")
    train_text = " ".join([s["state_json"] or "" for s in sessions] + [m["content"] for m in messages]
                          + [m["feedback_meta_json"] or "" for m in messages])
    cases = read_jsonl(GOLDEN)
    values = {v for c in cases for r in (c["context"] or {}).get("records", []) for v in (r["id"], r["title"], r["owner"])}
    # whole words: golden "batch 1" is not training's "batch 12"
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(values, key=len, reverse=True))) + r")\b")
    assert pattern.findall(train_text) == []
    # Bare follow-ups ("When is it due?") are shared phrasings by design; any turn naming a record is new.
    seen = {m["content"] for m in messages}
    for c in cases:
        for msg in c["messages"]:
            assert msg["content"] not in seen or not ID_RE.search(msg["content"]), msg
