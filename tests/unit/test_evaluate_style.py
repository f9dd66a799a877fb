"""Length and preamble checks on literal replies."""

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics.style import DEFAULT_PREAMBLES, has_preamble, style_scores


def case(**expected):
    return golden_case({"id": "c", "context": None, "messages": [{"role": "user", "content": "q"}], "expected": expected})


def test_length_ok_only_where_the_case_asks_and_bounds_are_inclusive():
    eight = "one two three four five six seven eight"
    assert style_scores(case(min_words=8, max_words=30), eight, DEFAULT_PREAMBLES)["length_ok"] == 1.0
    assert style_scores(case(min_words=8, max_words=30), "too short", DEFAULT_PREAMBLES)["length_ok"] == 0.0
    assert style_scores(case(max_words=3), "a b c d", DEFAULT_PREAMBLES)["length_ok"] == 0.0
    assert style_scores(case(), "a", DEFAULT_PREAMBLES)["length_ok"] is None


def test_preambles_at_the_start_only():
    assert has_preamble("Based on the provided context, PRJ-1 is done.", DEFAULT_PREAMBLES)
    assert has_preamble("  according to CONTEXT, PRJ-1 is done.", DEFAULT_PREAMBLES)
    assert has_preamble("Sure! PRJ-1 is done.", DEFAULT_PREAMBLES)
    assert not has_preamble("PRJ-1 is done, based on the context.", DEFAULT_PREAMBLES)
    assert style_scores(case(), "Certainly, here it is", DEFAULT_PREAMBLES)["no_preamble"] == 0.0
    assert style_scores(case(), "Certainly, here it is", [r"nothing"])["no_preamble"] == 1.0
