"""logtune.rules: one literal record per condition kind, the first matching rule decides, bad files fail."""

from pathlib import Path

import pytest
import yaml

from logtune.rules import Rules, RulesError, decide, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[2]


def conv(reply="PRJ-1042 is in progress.", tool_calls=None, **fields):
    return {"id": "c1", "task_type": "support", "approval": None, "confidence": None, **fields, "messages": [
        {"role": "user", "content": "Status of PRJ-1042?"},
        {"role": "assistant", "content": reply, "tool_calls": tool_calls}]}


def rules(*items):
    return parse_rules({"rules": list(items)})


def test_output_regex_rejects():
    r = rules({"name": "filler", "action": "reject", "when": {"output_matches": "(?i)as an ai language model"}})
    assert decide(conv("As an AI language model, I cannot."), r) == (False, "filler")
    assert decide(conv(), r) == (True, None)


def test_output_not_matches():
    r = rules({"name": "no_id", "action": "reject", "when": {"output_not_matches": r"[A-Z]{2,5}-\d+"}})
    assert decide(conv("It is in progress."), r) == (False, "no_id")


def test_intent_confidence_below_reads_event_log_intents():
    r = rules({"name": "unsure", "action": "reject", "when": {"intent_confidence_below": 0.4}})
    unsure = conv("Rolled!", tool_calls='[{"type": "game_action", "confidence": 0.9}, {"type": "chat", "confidence": 0.2}]')
    assert decide(unsure, r) == (False, "unsure")
    assert decide(conv("Rolled!", tool_calls='[{"type": "game_action", "confidence": 0.9}]'), r) == (True, None)
    assert decide(conv(), r) == (True, None)     # no intents: the condition does not hold


def test_confidence_below():
    r = rules({"name": "low", "action": "reject", "when": {"confidence_below": 0.5}})
    assert decide(conv(confidence=0.3), r) == (False, "low") and decide(conv(confidence=None), r) == (True, None)


def test_task_type_in_and_not_in():
    r = rules({"name": "no_games", "action": "reject", "when": {"task_type_in": ["game"]}},
              {"name": "only_support", "action": "reject", "when": {"task_type_not_in": ["support", "game"]}})
    assert decide(conv(task_type="game"), r) == (False, "no_games")
    assert decide(conv(task_type="moderation"), r) == (False, "only_support")
    assert decide(conv(), r) == (True, None)


def test_approval_in():
    r = rules({"name": "pending", "action": "reject", "when": {"approval_in": ["pending"]}})
    assert decide(conv(approval="pending"), r) == (False, "pending")


def test_first_matching_rule_decides_and_keep_stops():
    r = rules({"name": "approved", "action": "keep", "when": {"approval_in": ["approved"]}},
              {"name": "filler", "action": "reject", "when": {"output_matches": "lorem"}})
    assert decide(conv("lorem ipsum", approval="approved"), r) == (True, "approved")
    assert decide(conv("lorem ipsum"), r) == (False, "filler")


def test_all_conditions_of_a_rule_must_hold():
    r = rules({"name": "game_filler", "action": "reject", "when": {"task_type_in": ["game"], "output_matches": "lorem"}})
    assert decide(conv("lorem", task_type="support"), r) == (True, None)
    assert decide(conv("lorem", task_type="game"), r) == (False, "game_filler")


def test_flat_logged_call_is_judged_like_a_conversation():
    # evaluation's dry-run may hold event-log calls as they were logged
    call = {"output": {"speech": "As an AI language model...", "intents": [{"confidence": 0.1}]}, "task_type": "game"}
    r = rules({"name": "unsure", "action": "reject", "when": {"intent_confidence_below": 0.4}})
    assert decide(call, r) == (False, "unsure")


@pytest.mark.parametrize("item, message", [
    ({"name": "x", "action": "drop", "when": {"approval_in": ["rejected"]}}, "action"),
    ({"name": "x", "action": "reject", "when": {"speech_matches": "a"}}, "unknown condition 'speech_matches'"),
    ({"name": "x", "action": "reject", "when": {"output_matches": "("}}, "not a valid regex"),
    ({"name": "x", "action": "reject", "when": {"confidence_below": "low"}}, "must be a number"),
    ({"name": "x", "action": "reject", "when": {}}, "non-empty"),
    ({"name": "x y", "action": "reject", "when": {"approval_in": ["a"]}}, "name must be a word"),
])
def test_a_broken_rule_fails_naming_it(item, message):
    with pytest.raises(RulesError, match=message):
        rules(item)


def test_reject_reasons_list_every_reject_rule():
    r = rules({"name": "a", "action": "keep", "when": {"approval_in": ["approved"]}},
              {"name": "b", "action": "reject", "when": {"approval_in": ["pending"]}})
    assert r.reject_reasons == ["auto_rule:b"]


def test_no_rules_file_keeps_everything():
    assert load_rules(None) == Rules() and decide(conv(), load_rules(None)) == (True, None)


def test_shipped_rules_file_loads_and_judges(tmp_path):
    shipped = load_rules(ROOT / "rules" / "auto_rules.yaml")
    assert {r.name for r in shipped.rules} >= {"echoed_system_prompt", "unsure_intent"}
    assert decide(conv("You are the iSPEC support assistant. Answer from CONTEXT only."), shipped) == \
        (False, "echoed_system_prompt")
    assert decide(conv(), shipped) == (True, None)
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"name": "a", "action": "reject"}]}))
    with pytest.raises(RulesError, match="rule 'a'"):
        load_rules(bad)
