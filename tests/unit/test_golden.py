"""The golden set: follows the shared contract, has the planned mix, and shares no entity with the sample DB."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from logtune.golden.contract import read_golden
from logtune.sample.golden import golden_cases, golden_set
from logtune.io import read_jsonl
from logtune.sample.db import SampleParams, generate

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "golden.jsonl"
ID_RE = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b")


def test_committed_file_is_what_the_generator_makes():
    assert read_jsonl(GOLDEN) == golden_set()


def test_core_cases_are_unchanged_by_the_extension():
    # curate decontaminates on context + user turns: the first 120 must stay what they were
    core = golden_cases(120)
    assert [(c["id"], c["context"], c["messages"]) for c in read_jsonl(GOLDEN)[:120]] == \
        [(c["id"], c["context"], c["messages"]) for c in core]


def test_contract_and_mix():
    cases = read_jsonl(GOLDEN)
    assert 100 <= len(cases) <= 200 and len({c["id"] for c in cases}) == len(cases)
    assert len(read_golden(GOLDEN)) == len(cases)    # every case loads under the evaluate contract
    assert Counter(c["case_type"] for c in cases) == {"answer": 60, "refusal": 36, "multi_turn": 30, "hard": 22,
                                                     "tool": 22, "persona": 20}
    tags = Counter(t for c in cases for t in c["tags"])
    assert all(tags[f"persona:{p}"] >= 4 for p in ("casual", "senior_engineer", "stressed_oncall", "curious_learner",
                                                   "executive"))
    assert all(tags[f"hard:{k}"] >= 4 for k in ("ambiguity", "conflicting_priorities", "stress", "followup"))
    assert tags["tool:none"] >= 5 and tags["multi_turn"] >= 30 and tags["task:support"] == len(cases)
    for c in cases:
        assert c["messages"][-1]["role"] == "user" and c["messages"][0]["role"] == "user"
        ids = [r["id"] for r in (c["context"] or {}).get("records", [])]
        assert c["expected"]["allowed_ids"] == ids
        text = " ".join(str(v) for r in (c["context"] or {}).get("records", []) for v in r.values())
        call = c["expected"].get("tool_call")
        if c["expected"]["must_refuse"]:
            assert c["tags"][0] == "refusal" and c["expected"]["contains"] == []
            if "missing_record" in c["tags"]:
                assert not set(ID_RE.findall(c["messages"][-1]["content"])) & set(ids)
        elif isinstance(call, dict):  # the call's tool and an argument value are what the reply must hold
            assert c["expected"]["contains"][0] == call["name"] and c["tools"]
            assert c["expected"]["contains"][1] in call["arguments"].values()
        else:  # every expected string is in CONTEXT: a grounded reply can always copy it
            assert c["expected"]["contains"] and all(s in text for s in c["expected"]["contains"])
        if "followup" in c["tags"]:
            assert len(c["messages"]) == 3
        if "hard:followup" in c["tags"]:  # the answer's record is named only two user turns back
            assert c["expected"]["contains"][0] in c["messages"][0]["content"]
            assert c["expected"]["contains"][0] not in c["messages"][-1]["content"] + c["messages"][2]["content"]


def test_every_golden_prompt_fits_the_tiny_model_window(repo_root):
    # the embedded model has 512 positions; a prompt that leaves no room for the reply is scored on garbage
    import pytest

    from transformers import AutoTokenizer

    from logtune.generate import prompt_token_ids
    from logtune.evaluate.run import case_messages
    from logtune.params import read_params
    from logtune.base.tokenizer import train_tokenizer

    params = read_params(repo_root / "params.yaml")
    if (repo_root / "models" / "base" / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(repo_root / "models" / "base")
    else:  # a fresh clone: train the tokenizer as the base stage does, on the embedded sample's text
        sessions, messages, _ = generate(SampleParams(), "prompt")
        by_session = {}
        for m in messages:
            by_session.setdefault(m["session_id"], []).append(m["content"] or "")
        texts = [(s["state_json"] or "") + "\n" + "\n".join(by_session.get(s["id"], [])) for s in sessions]
        tok = train_tokenizer(texts, params["base"]["tiny"]["vocab_size"], padding_side="left",
                              model_max_length=params["base"]["tiny"]["max_position_embeddings"])
    system, budget = params["assistant"]["system_prompt"], 512 - params["evaluate"]["max_new_tokens"]
    longest = max(len(prompt_token_ids(tok, case_messages(c, system))) for c in read_golden(GOLDEN))
    assert longest <= budget


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
