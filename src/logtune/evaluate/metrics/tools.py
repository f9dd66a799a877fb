"""Tool use (seed 002): is the reply a well-formed call of an offered tool, and the expected one?

The reply is read with `logtune.toolcalls.parse_text`, the same parser build uses for training
targets: the canonical form is `{"tool": name, "args": {...}, "message"?: ...}` (a list of them for
parallel calls), and `{"tool": "none", "args": {}, "message": ...}` says "no call" in a tool-using
conversation. A Markdown code fence around it (```json ... ```) is accepted as canonical: chat models
fence JSON by habit and executors strip fences. Every other normalisation `parse_text` can do
(`"action"` instead of `"tool"`, `"arguments"` instead of `"args"`, a Python dict, args as JSON text,
extra keys, "None" spellings) is seed 002's format bug, so it makes the call invalid.

Per case with `tools` (None on cases without):
- `tool_call_valid`: 1 when the reply's call form is valid: it parses, uses only canonical keys
  (fences allowed), every call names an offered tool, and every call's arguments validate against
  that tool's JSON-schema `parameters` (jsonschema, Draft 2020-12). A case expecting a call counts a
  reply with no call (prose, or the "none" object) as invalid; on a case expecting no call, prose is
  not a call attempt, so the metric is None there unless the reply is in call form.
- `tool_call_accuracy` (cases with `expected.tool_call` or `expected.tool_calls`): expected `{name,
  arguments}`: 1 when the call is valid and it (the only call, or any of parallel calls) names that
  tool with every expected argument equal (strings compared trimmed and case-insensitive; the reply
  may add optional arguments the schema allows); expected `tool_calls` (several): 1 when the reply
  makes exactly that many valid calls and each expected call matches a different one of them, in any
  order (parallel calls: answering only the first is wrong); expected `"none"` (or `tool_calls: []`):
  1 when the reply makes no call (prose or the "none" object).
Tool schemas are read through `toolcalls.normalize_schema`: real datasets (BFCL) write `"dict"`,
`"float"`, `"tuple"`, `"any"`, which jsonschema does not know.
Not for executing tools, nor for the format fixes applied to training data (`logtune.toolcalls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema

from logtune import toolcalls

CANONICAL_FIXES = {"code_fence"}   # the only normalisation a valid reply may need


@dataclass(frozen=True)
class ToolReading:
    """What a reply does with tools: its calls, whether it was in call form, and what is wrong with it."""
    calls: tuple[toolcalls.ToolCall, ...]
    call_form: bool
    problems: tuple[str, ...]       # empty when valid: parse errors, non-canonical fixes, unknown tools, schema errors
    message: str | None = None


def tool_schemas(tools: tuple[dict, ...] | list[dict]) -> dict[str, dict]:
    """{tool name: its JSON-schema parameters} from bare or OpenAI-shaped tool definitions, with the
    non-standard type names real datasets use (BFCL's "dict", "float", "tuple", "any") normalised
    (`toolcalls.normalize_schema`): jsonschema raises UnknownType on them otherwise."""
    out = {}
    for t in tools:
        fn = t["function"] if isinstance(t.get("function"), dict) else t
        out[fn["name"]] = toolcalls.normalize_schema(fn.get("parameters") or {"type": "object"})
    return out


def read_tool_reply(reply: str | None, tools: tuple[dict, ...] | list[dict]) -> ToolReading:
    """Parse the reply as a tool call and check it against the offered tools."""
    try:
        parsed = toolcalls.parse_text(reply)
    except toolcalls.ToolCallError as e:
        return ToolReading((), True, (f"{e.reason}: {e}",))
    if not parsed.is_call_form:
        return ToolReading((), False, (), parsed.message)
    problems = [f"non-canonical: {f}" for f in parsed.fixes if f not in CANONICAL_FIXES]
    schemas = tool_schemas(tools)
    for call in parsed.calls:
        if call.tool not in schemas:
            problems.append(f"unknown tool {call.tool!r} (offered: {', '.join(sorted(schemas))})")
            continue
        errors = sorted(jsonschema.Draft202012Validator(schemas[call.tool]).iter_errors(call.args), key=str)
        problems += [f"{call.tool} arguments: {e.message}" for e in errors[:3]]
    return ToolReading(parsed.calls, True, tuple(problems), parsed.message)


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().casefold() == actual.strip().casefold()
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and _same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_same(e, a) for e, a in zip(expected, actual))
    return expected == actual


def _matched(expected: tuple, calls: tuple) -> bool:
    """Each expected call matches a different actual call (a bipartite matching by augmenting paths)."""
    owner: dict[int, int] = {}      # actual call index -> expected call index

    def place(e: int, seen: set[int]) -> bool:
        for a, call in enumerate(calls):
            if a in seen or call.tool != expected[e].name or not _same(expected[e].arguments, call.args):
                continue
            seen.add(a)
            if a not in owner or place(owner[a], seen):
                owner[a] = e
                return True
        return False

    return all(place(e, set()) for e in range(len(expected)))


def matches_expected(reading: ToolReading, expected) -> bool:
    """The reply makes the expected call (an ExpectedCall), exactly the expected calls in any order
    (a tuple of them), or, for "none", no call at all."""
    if expected == "none":
        return not reading.calls and not reading.problems
    if reading.problems or not reading.calls:
        return False
    if isinstance(expected, tuple):
        return len(reading.calls) == len(expected) and _matched(expected, reading.calls)
    return any(c.tool == expected.name and _same(expected.arguments, c.args) for c in reading.calls)


def tool_scores(case, reading: ToolReading) -> dict[str, float | None]:
    if not case.tools and case.tool_call is None:
        return {"tool_call_valid": None, "tool_call_accuracy": None}
    expects_call = case.tool_call not in (None, "none")
    if expects_call:
        valid: float | None = float(bool(reading.calls) and not reading.problems)
    else:
        valid = float(not reading.problems) if reading.call_form else None
    accuracy = None if case.tool_call is None else float(matches_expected(reading, case.tool_call))
    return {"tool_call_valid": valid, "tool_call_accuracy": accuracy}
