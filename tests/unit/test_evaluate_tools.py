"""Tool use on literal replies: canonical call (code fence allowed), known tool, schema-valid args, expected call."""

from logtune.golden.contract import golden_case
from logtune.evaluate.metrics.tools import read_tool_reply, tool_scores

TOOLS = [
    {"name": "lookup_record", "parameters": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^PRJ-[0-9]+$"}},
                                             "required": ["id"], "additionalProperties": False}},
    {"type": "function", "function": {"name": "open_ticket", "parameters": {
        "type": "object", "properties": {"summary": {"type": "string"}, "priority": {"enum": ["low", "high"]}},
        "required": ["summary", "priority"]}}},
]


def case(tool_call):
    return golden_case({"id": "c", "context": None, "tools": TOOLS, "messages": [{"role": "user", "content": "q"}],
                        "expected": {"contains": ["x"], "tool_call": tool_call}})


LOOKUP = case({"name": "lookup_record", "arguments": {"id": "PRJ-9"}})
TICKET = case({"name": "open_ticket", "arguments": {"priority": "high"}})
NONE = case("none")


def scores(c, reply):
    return tool_scores(c, read_tool_reply(reply, c.tools))


def test_canonical_call_matching_the_expected_one():
    assert scores(LOOKUP, '{"tool": "lookup_record", "args": {"id": "PRJ-9"}}') == \
        {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}


def test_call_inside_a_json_code_fence_is_canonical():
    reply = '```json\n{"tool": "lookup_record", "args": {"id": "PRJ-9"}, "message": "On it!"}\n```'
    assert scores(LOOKUP, reply) == {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}


def test_action_key_instead_of_tool_is_invalid_seed_002_bug():
    reading = read_tool_reply('{"action": "lookup_record", "args": {"id": "PRJ-9"}}', TOOLS)
    assert reading.problems == ("non-canonical: action_key",)
    assert tool_scores(LOOKUP, reading) == {"tool_call_valid": 0.0, "tool_call_accuracy": 0.0}


def test_unknown_tool_and_schema_violations_are_invalid():
    assert "unknown tool 'ssh'" in read_tool_reply('{"tool": "ssh", "args": {}}', TOOLS).problems[0]
    bad = read_tool_reply('{"tool": "lookup_record", "args": {"id": "project 9"}}', TOOLS)
    assert bad.problems and "does not match" in bad.problems[0]
    assert scores(LOOKUP, '{"tool": "lookup_record", "args": {"id": "PRJ-9", "x": 1}}')["tool_call_valid"] == 0.0


def test_expected_arguments_are_a_subset_compared_loosely():
    reply = '{"tool": "open_ticket", "args": {"summary": "Orbitrap down", "priority": "HIGH "}}'
    # "HIGH " is not in the schema's enum, so the call is invalid even though it matches loosely
    assert scores(TICKET, reply) == {"tool_call_valid": 0.0, "tool_call_accuracy": 0.0}
    reply = '{"tool": "open_ticket", "args": {"summary": "Orbitrap down", "priority": "high"}}'
    assert scores(TICKET, reply) == {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}
    assert scores(LOOKUP, '{"tool": "lookup_record", "args": {"id": "PRJ-10"}}')["tool_call_accuracy"] == 0.0


def test_prose_on_a_call_case_is_no_call():
    assert scores(LOOKUP, "Let me look that up for you.") == {"tool_call_valid": 0.0, "tool_call_accuracy": 0.0}


def test_tool_none_is_understood():
    # prose: no call attempted, nothing to validate; the none object: a valid no-call
    assert scores(NONE, "PRJ-1 is done.") == {"tool_call_valid": None, "tool_call_accuracy": 1.0}
    assert scores(NONE, '{"tool": "none", "args": {}, "message": "PRJ-1 is done."}') == \
        {"tool_call_valid": 1.0, "tool_call_accuracy": 1.0}
    assert scores(NONE, '{"tool": "lookup_record", "args": {"id": "PRJ-1"}}') == \
        {"tool_call_valid": 1.0, "tool_call_accuracy": 0.0}


def test_case_without_tools_has_no_tool_scores():
    c = golden_case({"id": "c", "context": None, "messages": [{"role": "user", "content": "q"}], "expected": {}})
    assert scores(c, '{"tool": "x", "args": {}}') == {"tool_call_valid": None, "tool_call_accuracy": None}
