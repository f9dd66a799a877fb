from logtune.build.extractive import DEFAULT_REFUSALS, answer_in_context, passage, refusal_text
from logtune.refusal import is_refusal


def test_every_default_refusal_is_a_refusal_for_evaluation():
    assert all(is_refusal(t) for t in DEFAULT_REFUSALS)


def test_refusal_choice_is_a_pure_function_of_seed_and_message():
    a = refusal_text(DEFAULT_REFUSALS, 0, "c1", "m1")
    assert a == refusal_text(DEFAULT_REFUSALS, 0, "c1", "m1") and a in DEFAULT_REFUSALS


def test_the_passage_is_the_squad_text_field_else_the_whole_context():
    assert passage('{"title": "T", "text": "Normandy is in France."}') == "Normandy is in France."
    assert passage('{"records": [{"id": "PRJ-1"}]}') == '{"records": [{"id": "PRJ-1"}]}'
    assert answer_in_context("France", '{"text": "Normandy is in France."}')
    assert not answer_in_context("Rouen", '{"text": "Normandy is in France."}')
