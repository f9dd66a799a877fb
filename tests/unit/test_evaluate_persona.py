"""Persona and voice on literal replies: emoji, robotic phrases, over-apologising, register per persona."""

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics.persona import apology_count, emoji_count, persona_scores, voice_problems


def test_emoji_one_max_and_only_for_a_casual_user():
    assert emoji_count("On it! \U0001F680 done \u2705") == 2
    assert voice_problems("On it! PRJ-1 is in review, Dana owns it \U0001F642", "casual") == []
    assert voice_problems("PRJ-1 is in review, Dana Larsen owns it \U0001F642", "executive") == \
        ["emoji: 1 for a executive user"]


def test_robotic_phrase_and_over_apology():
    assert voice_problems("I will now execute the following command to check PRJ-1 status for you.", "casual") == \
        ["robotic phrase"]
    assert apology_count("I'm sorry, so sorry, my apologies") == 3
    assert "over-apologising: 1 apology" in voice_problems("I'm sorry, PRJ-1 is in review and due on 2025-06-30.", "casual")
    # a refusal may apologise once
    assert voice_problems("Sorry, I can't find that record in the context I was given.", "casual", must_refuse=True) == []


def test_register_matches_the_persona():
    rambling = " ".join(["word"] * 35)
    assert voice_problems(rambling, "stressed_oncall") == ["register: does not match a stressed_oncall user (35 words)"]
    assert voice_problems("Great question! PRJ-1 is in review.", "executive")[0].startswith("register")
    assert voice_problems("Dear user, kindly note PRJ-1 is in review.", "casual")[0].startswith("register")
    assert voice_problems("In review.", "curious_learner")[0].startswith("register")
    assert voice_problems("PRJ-1: in review, owner Dana Larsen.", "senior_engineer") == []


def test_score_is_the_share_of_rules_passed_and_none_without_persona():
    c = golden_case({"id": "c", "context": None, "messages": [{"role": "user", "content": "HELP"}],
                     "expected": {"persona": "stressed_oncall"}})
    assert persona_scores(c, "Got it - PRJ-1 is owned by Dana Larsen, call her now.") == {"persona_score": 1.0}
    assert persona_scores(c, "I'm sorry \U0001F622 " + "x " * 40) == {"persona_score": 0.25}
    plain = golden_case({"id": "c", "context": None, "messages": [{"role": "user", "content": "q"}], "expected": {}})
    assert persona_scores(plain, "anything") == {"persona_score": None}
