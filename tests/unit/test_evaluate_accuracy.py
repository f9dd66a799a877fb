"""Task accuracy on literal replies: SQuAD normalisation, exact match, token F1, contains, regex, correctness."""

import pytest

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics.accuracy import (contains_all, exact_match, is_correct, normalize_answer, regex_all,
                                               token_f1)


def test_normalize_answer_drops_case_punctuation_articles_and_extra_space():
    assert normalize_answer("  The  Owner is: Dana Larsen! ") == "owner is dana larsen"


def test_exact_match_is_max_over_references_and_none_without_one():
    assert exact_match("In review.", ["on hold", "in review"]) == 1.0
    assert exact_match("It is in review.", ["in review"]) == 0.0
    assert exact_match("anything", []) is None


def test_token_f1_squad_style():
    # SQuAD drops punctuation inside words too: reply tokens prj1042 is in review (4); reference in review (2);
    # common 2 -> precision .5, recall 1, F1 2/3
    assert token_f1("PRJ-1042 is in review.", ["in review"]) == pytest.approx(2 / 3)
    assert token_f1("completely different", ["in review"]) == 0.0
    assert token_f1("The answer", ["answer"]) == 1.0       # article dropped by normalisation


def test_contains_is_case_insensitive_and_regex_must_all_match():
    assert contains_all("PRJ-1042 is IN REVIEW", ["prj-1042", "In Review"])
    assert not contains_all("PRJ-1042", ["PRJ-1042", "blocked"])
    assert regex_all("due 2025-06-30", [r"\d{4}-\d{2}-\d{2}", r"^due"])
    assert not regex_all("due soon", [r"\d{4}-\d{2}-\d{2}"])


def case(**expected):
    return golden_case({"id": "c", "context": None, "messages": [{"role": "user", "content": "q"}], "expected": expected})


def test_is_correct_checks_exact_and_regex_as_well_as_contains():
    c = case(contains=["PRJ-1"], exact="PRJ-1 is blocked", regex=[r"blocked$"])
    assert is_correct(c, "prj-1 is blocked", refused=False, made_call=False, call_accuracy=None)
    assert not is_correct(c, "PRJ-1 is blocked, I think", refused=False, made_call=False, call_accuracy=None)


def test_is_correct_on_a_no_tool_case_fails_when_a_tool_was_called():
    c = golden_case({"id": "c", "context": None, "tools": [{"name": "lookup_record"}],
                     "messages": [{"role": "user", "content": "q"}],
                     "expected": {"contains": ["PRJ-1"], "tool_call": "none"}})
    assert is_correct(c, "PRJ-1 is done.", refused=False, made_call=False, call_accuracy=1.0)
    assert not is_correct(c, '{"tool": "lookup_record", "args": {"id": "PRJ-1"}}', refused=False, made_call=True,
                          call_accuracy=0.0)
