"""The few-shot baseline's examples: seeded, single-turn, short, placed between the system message and the case."""

import pytest

from logtune.evaluate.fewshot import FewShotParams, draw_examples, with_examples


def row(i, *turns):
    roles = ["system"] + ["user", "assistant"] * 3
    return {"id": f"r{i}", "messages": [{"role": r, "content": t} for r, t in zip(roles, ["SYS", *turns])]}


ROWS = [row(1, "Status of PRJ-1?", "In progress."), row(2, "Owner of PRJ-2?", "Dana Ruiz."),
        row(3, "Due date of PRJ-3?", "2026-05-01."), row(4, "Hi", "Hello!", "And PRJ-4?", "Blocked."),   # two turns
        row(5, "Explain everything", "word " * 41)]                                                     # too long


def test_draw_is_seeded_and_keeps_only_short_single_turn_examples():
    drawn = draw_examples(ROWS, FewShotParams(k=2, seed=0))
    assert drawn == draw_examples(list(reversed(ROWS)), FewShotParams(k=2, seed=0))   # input order does not matter
    assert {e["id"] for e in draw_examples(ROWS, FewShotParams(k=3))} == {"r1", "r2", "r3"}
    assert all([t["role"] for t in e["turns"]] == ["user", "assistant"] for e in drawn)
    with pytest.raises(ValueError, match="only 3 single-turn examples"):
        draw_examples(ROWS, FewShotParams(k=4))


def test_examples_go_between_the_system_message_and_the_case():
    examples = [{"id": "r1", "turns": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]}]
    case = [{"role": "system", "content": "SYS + CONTEXT"}, {"role": "user", "content": "Q"}]
    assert [m["content"] for m in with_examples(case, examples)] == ["SYS + CONTEXT", "Q1", "A1", "Q"]
    assert with_examples(case, []) == case
    assert FewShotParams(k=2).name == "base_2shot"
