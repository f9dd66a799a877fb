"""The offline provider's rules on literal inputs: each answer is what its task asks for."""

from __future__ import annotations

import json

import pytest

from logtune.refusal import is_refusal
from logtune.rewrite import offline

PATTERNS = [r"\b[A-Z]{2,5}-\d{2,6}\b"]
CTX = {"records": [{"id": "PRJ-1042", "status": "in progress", "owner": "Ana Ruiz", "due": "2026-03-01",
                    "title": "Liver pilot"}, {"id": "SMP-20001", "status": "received"}]}


def test_conversational_inverts_a_wh_question():
    assert offline.conversational("What is the capital of France?", "Paris") == \
        "The capital of France is Paris, according to the passage."
    assert offline.conversational("Name the river.", "the Seine").startswith("The answer is the Seine")


def test_every_refusal_phrase_is_a_refusal_and_names_the_topic():
    for template in offline.REFUSALS:
        assert is_refusal(template.format(topic="your boss")), template
    assert offline.refusal_topic("Who is my boss?", []) == "your boss"
    assert offline.refusal_topic("Status of PRJ-7?", ["PRJ-7"]) == "PRJ-7"
    picks = {offline.refusal("Who is my boss?", [], 0, f"r{i}") for i in range(40)}
    assert len(picks) >= 5                                   # variety across records, same input -> same pick
    assert offline.refusal("Who is my boss?", [], 0, "r1") == offline.refusal("Who is my boss?", [], 0, "r1")


@pytest.mark.parametrize("turns, note, expected", [
    (["What's the status of PRJ-1042?"], "Wrong status.", "PRJ-1042 is in progress."),
    (["Who owns PRJ-1042?"], "", "Ana Ruiz owns PRJ-1042."),
    (["Tell me about PRJ-1042", "When is it due?"], "", "PRJ-1042 is due 2026-03-01."),
    (["Status of PRJ-9999?"], "Made this up.",
     "I couldn't find PRJ-9999 in the provided context, so I can't answer that."),
    (["Who owns SMP-20001?"], "", "The record for SMP-20001 has no owner listed, so I couldn't find that."),
    (["Who owns PRJ-1042?"], "Too short.",
     'Ana Ruiz owns PRJ-1042. It is titled "Liver pilot", currently in progress and due 2026-03-01.'),
    (["How is it going?"], "meh", ""),                       # no record to talk about: the rules give up
])
def test_downvote_fix_is_grounded_in_context(turns, note, expected):
    assert offline.downvote(CTX, turns, "whatever", note, PATTERNS) == expected


def test_persona_plan_and_conversation_shape():
    plan = offline.persona_plan(3, 0, multi_turn=True)
    turns = json.loads(offline.persona(plan))["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "tool", "assistant"] * 2
    call = json.loads(turns[1]["content"])
    assert call["args"]["host"] in plan["context"]["agents"] and call["tool"] in {"ssh", "ping"}
    assert json.loads(turns[-1]["content"])["tool"] == "none"


def test_corrections_reword_the_request_and_keep_the_error():
    out = json.loads(offline.correction("Check disk on web-1", "W", "F", 2))
    assert out == {"user": "Can you check disk on web-1?", "wrong": "W", "fixed": "F"}
