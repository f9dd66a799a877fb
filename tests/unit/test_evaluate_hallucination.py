"""Hallucination on literal replies: ids, people, dates and titles absent from CONTEXT, whole-token grounding."""

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics.hallucination import DEFAULT_PATTERNS, hallucination_scores, is_grounded, ungrounded

ID = [r"\b[A-Z]{2,5}-\d{2,6}\b"]
PATTERNS = {"id": ID, **DEFAULT_PATTERNS}
CONTEXT = {"records": [{"id": "PRJ-1042", "owner": "Dana Larsen", "due": "2025-06-30", "title": "Glycan validation set"}]}


def case(question="Who owns PRJ-1042?", allowed=()):
    return golden_case({"id": "c", "context": CONTEXT, "messages": [{"role": "user", "content": question}],
                        "expected": {"contains": [], "allowed_ids": list(allowed)}})


def test_grounded_facts_are_not_hallucinations():
    reply = 'PRJ-1042 ("Glycan validation set") is owned by Dana Larsen and due 2025-06-30.'
    assert ungrounded(case(), reply, PATTERNS, allow_prompt_ids=True) == {}


def test_id_in_context_only_as_a_substring_is_hallucinated():
    found = ungrounded(case(), "PRJ-104 is owned by Dana Larsen.", PATTERNS, allow_prompt_ids=True)
    assert found == {"id": ["PRJ-104"]}
    assert hallucination_scores(found) == {"hallucinated_id_rate": 1.0, "hallucination_rate": 1.0}


def test_invented_person_date_and_title_are_each_reported():
    reply = 'Marcus Chen owns "Liver atlas", due 2025-07-01.'
    found = ungrounded(case(), reply, PATTERNS, allow_prompt_ids=True)
    assert found == {"date": ["2025-07-01"], "person": ["Marcus Chen"], "title": ["Liver atlas"]}
    # no id invented: the id rate stays 0 while the broader rate is 1
    assert hallucination_scores(found) == {"hallucinated_id_rate": 0.0, "hallucination_rate": 1.0}


def test_truncated_name_is_not_grounded_by_the_longer_one():
    assert not is_grounded("Dana Lars", "owner Dana Larsen")
    assert is_grounded("dana larsen", '"owner":"Dana Larsen"')


def test_allowed_and_typed_ids_are_grounded():
    assert ungrounded(case(allowed=["TCK-77"]), "See TCK-77.", PATTERNS, allow_prompt_ids=False) == {}
    c = case(question="Where is PRJ-2077?")
    assert ungrounded(c, "I can't find PRJ-2077.", PATTERNS, allow_prompt_ids=True) == {}
    assert ungrounded(c, "I can't find PRJ-2077.", PATTERNS, allow_prompt_ids=False) == {"id": ["PRJ-2077"]}


def test_patterns_are_configurable():
    found = ungrounded(case(), "Ticket #5521 is open.", {"id": [r"#\d+"]}, allow_prompt_ids=True)
    assert found == {"id": ["#5521"]}
