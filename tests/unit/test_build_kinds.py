"""Record type and phase: one literal reply per recognition rule (kinds module docstring order)."""

import pytest

from logtune.build.kinds import record_kind
from logtune.build.replies import Reply


def reply(task_type=None, steps=0):
    return Reply({"id": "c", "task_type": task_type}, {"id": "a"}, [{"id": "u", "role": "user", "content": "q"}],
                 exchange_steps=steps)


@pytest.mark.parametrize("task_type, steps, text, calls, unanswerable, kind", [
    ("extractive_unanswerable", 0, "I couldn't find that.", 0, True, ("refusal", "refusals")),
    ("extractive", 0, "France", 0, False, ("extractive", "extractive")),
    ("chat", 2, '{"tool": "none", "args": {}, "message": "4C"}', 0, False, ("trajectory", "conversational")),
    ("game", 1, '{"tool": "roll", "args": {}}', 1, False, ("tool_call", "conversational")),
    ("memory", 0, "Noted.", 0, False, ("memory", "conversational")),
    ("knowledge", 0, "I can't find that in the records.", 0, False, ("knowledge", "refusals")),
    ("support", 0, "I couldn't find PRJ-9 in the context.", 0, False, ("refusal", "refusals")),
    ("closed_qa", 0, "In 2000.", 0, False, ("qa", "conversational")),
    ("support", 0, "PRJ-1 is done.", 0, False, ("chat", "conversational")),
])
def test_each_recognition_rule(task_type, steps, text, calls, unanswerable, kind):
    assert record_kind(reply(task_type, steps), text, calls=calls, unanswerable=unanswerable) == kind
