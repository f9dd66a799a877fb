"""The generated support-assistant DB: deterministic, varied, and planted with what later stages must catch."""

from __future__ import annotations

import json
import random
import re
import sqlite3

import pytest

from logtune.sample import db as sample
from logtune.pii import find_pii
from logtune.prompt import compact_context
from logtune.refusal import is_refusal
from logtune.sample.db import SampleParams, build_sample_db, generate, uniqueness_ratio

PROMPT = "You are the iSPEC support assistant. Answer from CONTEXT only; never invent ids."
ID_RE = re.compile(r"\b[A-Z]{2,5}-\d{2,6}\b")


@pytest.fixture(scope="module")
def default_sample():
    """The default DB's rows (600 sessions): generating them takes well under a second."""
    return generate(SampleParams(), PROMPT)


def test_uniqueness_ratio():
    assert uniqueness_ratio(["a", "a", "b", ""]) == 0.6667


def test_generate_is_deterministic():
    assert generate(SampleParams(sessions=40), PROMPT) == generate(SampleParams(sessions=40), PROMPT)
    assert generate(SampleParams(sessions=40), PROMPT) != generate(SampleParams(sessions=40, seed=8), PROMPT)


def test_refusal_templates_are_refusals_and_answers_are_not():
    for template in sample.REFUSE_MISSING_RECORD + sample.REFUSE_MISSING_FIELD + sample.REFUSE_NO_CONTEXT:
        assert is_refusal(template), template
    for template in [t for ts in sample.ANSWERS.values() for t in ts] + sample.PI_ANSWERS + sample.VAGUE:
        assert not is_refusal(template), template


def test_default_db_size_and_reply_uniqueness(tmp_path):
    metrics = build_sample_db(tmp_path / "a.db", SampleParams(), PROMPT)
    assert metrics["sessions"] == 600 and 2000 <= metrics["messages"] <= 4000
    assert metrics["reply_uniqueness"] > 0.25 and metrics["question_uniqueness"] > 0.25
    assert metrics["prompt_versions"] == 2 and metrics["rewrites"] >= 30
    con = sqlite3.connect(tmp_path / "a.db")
    assert con.execute("SELECT count(*) FROM support_message").fetchone()[0] == metrics["messages"]


def test_broken_sessions_are_present(default_sample):
    sessions, messages, planted = default_sample
    assert {p["broken"] for p in planted} >= {"error", "empty_content", "no_reply", "truncated_context"}
    assert all(s["error"] for s in sessions if s["status"] == "error")
    assert any(m["content"] == "" for m in messages)
    assert metrics_orphans(sessions, messages) == 2


def metrics_orphans(sessions, messages):
    ids = {s["id"] for s in sessions}
    return sum(m["session_id"] not in ids for m in messages)


def test_planted_pii_is_in_user_messages_and_found_by_the_detector(default_sample):
    sessions, messages, planted = default_sample
    n_planted = sum(len(p["pii"]) for p in planted)
    texts = [m["content"] for m in messages if m["role"] == "user"] + [m["feedback_note"] or "" for m in messages]
    found = [k.kind for t in texts for k in find_pii(t)]
    assert n_planted >= 20 and len(found) == n_planted
    assert {"EMAIL", "PHONE"} <= set(found)
    assert any(t for t in texts if "sk-ant-api03-" in t) and any(t for t in texts if "AKIA" in t)
    # PII is only where a user typed it: not in replies, not in CONTEXT
    assert not [m for m in messages if m["role"] == "assistant" and find_pii(m["content"])]
    assert not [s for s in sessions if s["state_json"] and find_pii(s["state_json"])]


def test_replies_are_short_and_contexts_small(default_sample):
    sessions, messages, _ = default_sample
    lengths = [len(m["content"].split()) for m in messages if m["role"] == "assistant" and m["content"]]
    assert min(lengths) >= 8 and max(lengths) <= 30
    contexts = [json.loads(s["state_json"]) for s in sessions if s["state_json"] and s["state_json"].endswith("}")]
    assert all(2 <= len(c["records"]) <= 4 and len(compact_context(c)) <= 380 for c in contexts)


def test_grounded_replies_cite_context_ids_and_rewrites_are_correct(default_sample):
    sessions, messages, planted = default_sample
    # a truncated CONTEXT lost some of its ids: its replies are judged by curation, not here
    ctx = {s["id"]: set(ID_RE.findall(s["state_json"] or "")) for s, p in zip(sessions, planted)
           if p["broken"] != "truncated_context"}
    hallucinated = 0
    for m in messages:
        if m["role"] != "assistant" or not m["content"] or m["session_id"] not in ctx:
            continue
        meta = json.loads(m["feedback_meta_json"] or "{}")
        cited = set(ID_RE.findall(m["content"]))
        if m["feedback"] != -1:  # replies nobody down-voted are correct: grounded ids or a refusal
            assert cited <= ctx[m["session_id"]] or is_refusal(m["content"]), m
        elif "hallucinated_id" in meta.get("tags", []):
            assert cited - ctx[m["session_id"]], m
            hallucinated += 1
        if "rewrite" in meta:
            assert set(ID_RE.findall(meta["rewrite"])) <= ctx[m["session_id"]], meta
    assert hallucinated >= 5


def test_answerable_and_refusal_and_followups_are_all_taught(default_sample):
    _, messages, _ = default_sample
    replies = [m["content"] for m in messages if m["role"] == "assistant" and m["feedback"] != -1 and m["content"]]
    refusals = sum(map(is_refusal, replies))
    assert 0.15 < refusals / len(replies) < 0.45
    assert any(m["content"] in {q for qs in sample.FOLLOWUPS.values() for q in qs} for m in messages)


def test_pii_sentence_kinds():
    kinds = {sample.plant_pii(random.Random(i))[1] for i in range(40)}
    assert kinds == {"EMAIL", "PHONE", "API_KEY", "AWS_KEY"}
