import pytest

from logtune.build.targets import is_tool_conversation, render_assistant
from logtune.toolcalls import ToolCallError


def test_speech_beside_logged_intents_rides_along_as_message():
    r = render_assistant("Rolling!", '[{"type": "game_action", "action": "roll", "confidence": 0.9}]',
                         tool_conversation=True)
    assert (r.text, r.calls) == ('{"tool": "game_action", "args": {"action": "roll"}, "message": "Rolling!"}', 1)


def test_plain_text_outside_tool_conversations_stays_plain():
    assert render_assistant("PRJ-1 is done.", None, tool_conversation=False).text == "PRJ-1 is done."


def test_a_none_call_outside_tool_conversations_becomes_its_message():
    assert render_assistant('{"tool": "none", "message": "Hi!"}', None, tool_conversation=False).text == "Hi!"


def test_bad_form_is_named_in_fixes():
    r = render_assistant('{"action": "ssh", "args": {}}', None, tool_conversation=True)
    assert (r.text, r.fixes) == ('{"tool": "ssh", "args": {}}', ("action_key",))


def test_unknown_tool_raises():
    with pytest.raises(ToolCallError):
        render_assistant('{"tool": "rm", "args": {}}', None, tool_conversation=True, offered={"ssh"})


@pytest.mark.parametrize("conv, expected", [
    ({"context": '{"tools": [{"name": "f"}]}', "messages": []}, True),
    ({"task_type": "tool_use", "messages": []}, True),
    ({"messages": [{"role": "assistant", "content": "{'tool': 'x', 'args': {}}"}]}, True),
    ({"messages": [{"role": "tool", "content": "4C"}]}, True),
    ({"context": '{"tools": []}', "messages": [{"role": "assistant", "content": "Hi"}]}, False),
])
def test_tool_conversation_recognition(conv, expected):
    assert is_tool_conversation(conv) is expected
