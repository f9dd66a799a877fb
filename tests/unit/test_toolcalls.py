"""The canonical tool-call format: each known bad form normalised (named in `fixes`) or rejected with a reason."""

import pytest

from logtune.toolcalls import (ToolCall, ToolCallError, check_offered, from_logged, offered_tools, parse_text,
                               plan_as_python_dict, serialise)

SSH = ToolCall("ssh", {"host": "web-1", "cmd": "df -h"})
CANONICAL = '{"tool": "ssh", "args": {"cmd": "df -h", "host": "web-1"}}'


def canonical(text):
    parsed = parse_text(text)
    return serialise(parsed.calls, parsed.message), parsed.fixes


def test_serialise_puts_tool_then_args_with_sorted_keys():
    assert serialise([SSH]) == CANONICAL


def test_serialise_parallel_calls_as_a_list_and_the_spoken_text_as_message():
    text = serialise([SSH, ToolCall("ping", {})], "On it!")
    assert text == '[{"tool": "ssh", "args": {"cmd": "df -h", "host": "web-1"}, "message": "On it!"}, ' \
                   '{"tool": "ping", "args": {}}]'


def test_no_call_is_the_none_object():
    assert serialise([], "Anytime!") == '{"tool": "none", "args": {}, "message": "Anytime!"}'


def test_canonical_text_parses_to_itself_with_no_fixes():
    assert canonical(CANONICAL) == (CANONICAL, ())


def test_action_instead_of_tool_is_normalised():
    assert canonical('{"action": "ssh", "args": {"host": "web-1", "cmd": "df -h"}}') == (CANONICAL, ("action_key",))


def test_plan_printed_as_a_python_dict_is_normalised():
    assert canonical("{'tool': 'ssh', 'args': {'host': 'web-1', 'cmd': 'df -h'}}") == (CANONICAL, ("python_dict",))


def test_openai_style_name_and_json_string_arguments_are_normalised():
    text, fixes = canonical('{"name": "ssh", "arguments": "{\\"host\\": \\"web-1\\", \\"cmd\\": \\"df -h\\"}"}')
    assert text == CANONICAL and set(fixes) == {"name_key", "args_key", "json_string_args"}


def test_code_fence_is_stripped():
    assert canonical("```json\n" + CANONICAL + "\n```") == (CANONICAL, ("code_fence",))


@pytest.mark.parametrize("spelling", ['"None"', "null", '"no_tool"', '"NONE"', '""'])
def test_none_spellings_mean_no_call(spelling):
    parsed = parse_text('{"tool": %s, "response": "Done."}' % spelling)
    assert (parsed.calls, parsed.message, parsed.is_call_form, parsed.fixes) == ((), "Done.", True, ("none_spelling",))


def test_prose_and_json_data_are_not_calls():
    assert parse_text("The disk is 80% full.").is_call_form is False
    assert parse_text('{"name": "Alice", "likes": "short answers"}').is_call_form is False


@pytest.mark.parametrize("text, reason", [
    ('{"tool": 42, "args": {}}', "no_tool_name"),
    ('{"tool": "ssh", "args": ["web-1"]}', "args_not_object"),
    ('{"tool": "ssh", "args": "host=web-1"}', "args_not_object"),
    ("{'tool': 'ssh', 'args': {'host': 'web-1'}", "unparseable_tool_call"),
])
def test_bad_calls_are_rejected_with_a_reason(text, reason):
    with pytest.raises(ToolCallError) as e:
        parse_text(text)
    assert e.value.reason == reason


def test_logged_openai_calls_and_seed_003_intents():
    openai = '[{"function": {"arguments": {"city": "Oslo"}, "name": "weather"}, "id": "c1", "type": "function"}]'
    assert from_logged(openai) == [ToolCall("weather", {"city": "Oslo"})]
    intents = '[{"type": "game_action", "confidence": 0.9, "action": "roll"}]'
    assert from_logged(intents) == [ToolCall("game_action", {"action": "roll"})]


def test_a_tool_the_context_does_not_offer_is_rejected():
    offered = offered_tools('{"tools": [{"type": "function", "function": {"name": "weather"}}]}')
    assert offered == {"weather"}
    with pytest.raises(ToolCallError) as e:
        check_offered([SSH], offered)
    assert e.value.reason == "unknown_tool"
    check_offered([SSH], None)   # a CONTEXT listing no tools restricts nothing


def test_plan_as_python_dict_inside_prose_is_spotted():
    assert plan_as_python_dict("Plan: {'tool': 'ssh', 'args': {}}")
    assert not plan_as_python_dict("Use d = {'a': 1} in Python.")


def test_logged_raw_text_arguments_become_the_input_but_written_ones_are_rejected():
    fixes = []
    logged = '[{"function": {"arguments": "print(1)", "name": "python"}, "id": null, "type": "function"}]'
    assert from_logged(logged, fixes) == [ToolCall("python", {"input": "print(1)"})] and fixes == ["text_args"]
    with pytest.raises(ToolCallError):
        parse_text('{"tool": "python", "args": "print(1)"}')
