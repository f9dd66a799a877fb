"""Each check of a generated record on one literal input and its expected reason."""

from __future__ import annotations

import json

import pytest

from logtune.rewrite import checks
from logtune.rewrite.checks import Failed

PATTERNS = [r"\b[A-Z]{2,5}-\d{2,6}\b"]
GROUND = 'CONTEXT {"records":[{"id":"PRJ-1042","status":"in progress"}]}\nuser: status of PRJ-1042?'


def reason(fn, *a, **k):
    with pytest.raises(Failed) as e:
        fn(*a, **k)
    return e.value.reason


def text(t, **k):
    kw = dict(min_words=3, max_words=12, grounding=GROUND, patterns=PATTERNS)
    return checks.check_text(t, **{**kw, **k})


def test_a_good_reply_passes():
    assert text("PRJ-1042 is in progress.") is None


@pytest.mark.parametrize("output, why", [
    ("", "empty_output"),
    ("In progress.", "length_out_of_bounds"),
    ("PRJ-1042 is in progress and " + "very " * 20 + "busy.", "length_out_of_bounds"),
    ("Based on the context, PRJ-1042 is in progress.", "preamble"),
    ("Sure! PRJ-1042 is in progress.", "preamble"),
    ("PRJ-1043 is in progress, like PRJ-1042.", "id_not_in_context"),
    ("Mail ana.ruiz@example.org about PRJ-1042.", "pii"),
])
def test_text_checks(output, why):
    assert reason(text, output) == why


def test_refusal_checks():
    assert reason(text, "PRJ-1042 is in progress.", refusal=True) == "not_a_refusal"
    assert reason(text, "I couldn't find that in the context.", refusal=False) == "unexpected_refusal"


def test_id_prefix_is_not_grounded_by_a_longer_id():
    assert reason(checks.check_ids, "PRJ-104 is late.", GROUND, PATTERNS) == "id_not_in_context"


@pytest.mark.parametrize("turn, why", [
    ('{"action": "ssh", "args": {"host": "web-1"}}', "non_canonical_tool_call"),
    ('{"tool": "kubectl", "args": {}}', "unknown_tool"),
    ("On it, checking web-1.", "not_a_tool_call"),
    ('{"tool": "ssh", "args": "host=web-1"}', "args_not_object"),
])
def test_tool_turn_checks(turn, why):
    assert reason(checks.check_tool_turn, turn, {"ssh", "ping"}) == why


def test_canonical_tool_turn_passes():
    parsed = checks.check_tool_turn(json.dumps({"tool": "ssh", "args": {"host": "web-1"}, "message": "On it!"}),
                                    {"ssh"})
    assert parsed.calls[0].tool == "ssh" and parsed.message == "On it!"


@pytest.mark.parametrize("line, casual, why", [
    ("All good \U0001F44D\U0001F680", True, "voice_emoji"),
    ("All good \U0001F44D", False, "voice_emoji"),
    ("I will now execute the following command.", False, "voice_robotic"),
    ("I'm so sorry, I cannot reach web-1.", False, "voice_over_apology"),
])
def test_voice_rules(line, casual, why):
    assert reason(checks.check_voice, line, casual) == why


def test_one_emoji_for_a_casual_user_is_fine():
    assert checks.check_voice("All good \U0001F44D", casual=True) is None


def test_json_outputs():
    assert checks.parse_json_object('```json\n{"user": "x"}\n```', ["user"]) == {"user": "x"}
    assert reason(checks.parse_json_object, "not json", ["user"]) == "unparseable_output"
    assert reason(checks.parse_json_object, '{"user": "x"}', ["user", "fixed"]) == "unparseable_output"


def test_schema_check_names_the_field():
    row = {"id": "x", "messages": [{"role": "user", "content": "q"}], "record_type": "qa", "provenance": "synthetic"}
    with pytest.raises(Failed) as e:
        checks.check_schema("sft", row)
    assert e.value.reason == "schema" and "messages" in e.value.detail
