"""The golden set: cases the model must get right, kept out of training (contract v1).

One JSON object per line (`schemas/golden_case.v1.schema.json` is the same contract as JSON Schema):
- `id`; `context`: the backend CONTEXT object, or null; `messages`: user/assistant turns ending on a
  user turn (the one the model answers);
- `tools` (optional): the tool definitions the assistant may call, JSON-schema parameters, in the bare
  `{"name", "description", "parameters"}` or OpenAI `{"type": "function", "function": {...}}` shape
  (as `logtune.toolcalls.offered_tools` reads them). The model sees them inside CONTEXT as
  `{"tools": [...]}`, exactly where training conversations carry them (`sources.chat.tools_context`);
- `expected`: what a good reply does, every key optional:
  `contains` (strings the reply must hold, case-insensitive), `exact` (the whole reply, SQuAD-normalised),
  `regex` (patterns that must all match), `answer` (reference answers for exact match and token F1),
  `must_refuse` (the answer is not available: the reply must say so), `tool_call` (`{"name", "arguments"}`:
  the call the reply must make, arguments a subset; or `"none"`: it must not call a tool), `tool_calls`
  (instead of `tool_call`: a list of `{"name", "arguments"}` the reply must make, no more and no fewer,
  in any order: BFCL's parallel calls; `[]`: no call at all, BFCL's irrelevance cases),
  `allowed_ids` (ids the reply may cite beyond CONTEXT), `min_words` / `max_words`, `persona` (the user's
  voice, one of PERSONAS, for the voice rules);
- `tags`: what the case exercises (`answerable`, `refusal`, `persona:<name>`, `hard:<kind>`, `tool`,
  `multi_turn`, `task:<task_type>`, ...), metrics are reported per tag;
- `case_type` (optional): the case's kind for per-type accuracy; derived when absent (`derive_case_type`).
A malformed case is an error naming the file, line and field: the golden set is small and generated or
hand-edited, so a silent skip would hide a typo. Not the scoring (`logtune.evaluate.metrics`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from logtune import toolcalls
from logtune.io import jsonl_lines

PERSONAS = ("casual", "senior_engineer", "stressed_oncall", "curious_learner", "executive")  # seed 002
CASE_KEYS = {"id", "context", "messages", "tools", "expected", "tags", "case_type"}
EXPECTED_KEYS = {"contains", "exact", "regex", "answer", "must_refuse", "tool_call", "tool_calls", "allowed_ids",
                 "min_words", "max_words", "persona"}
NO_TOOL = "none"


class GoldenError(ValueError):
    """A golden case that does not match the golden-set contract."""


@dataclass(frozen=True)
class ExpectedCall:
    """The call a reply must make: its tool name and the arguments it must carry (a subset of the call's)."""
    name: str
    arguments: dict


@dataclass(frozen=True)
class GoldenCase:
    id: str
    context: Any                      # the CONTEXT object (dict/list) or None
    messages: tuple[dict, ...]        # role/content dicts, ending on a user turn
    contains: tuple[str, ...]         # every string must appear in the reply (case-insensitive)
    must_refuse: bool
    allowed_ids: tuple[str, ...]      # ids the reply may cite beyond those in CONTEXT
    tags: tuple[str, ...]
    case_type: str = "answer"
    tools: tuple[dict, ...] = ()      # tool definitions offered to the model (empty: none)
    exact: str | None = None
    regex: tuple[str, ...] = ()
    answer: tuple[str, ...] = ()      # reference answers for exact match / token F1
    # ExpectedCall (that call, alone or among parallel ones), a tuple of ExpectedCall (exactly those calls,
    # any order: `expected.tool_calls`), NO_TOOL (no call), or None (not a tool case)
    tool_call: ExpectedCall | tuple[ExpectedCall, ...] | str | None = None
    min_words: int | None = None
    max_words: int | None = None
    persona: str | None = None

    @property
    def shown_context(self) -> Any:
        """The CONTEXT the model is shown: the case's context, plus `tools` when the case offers any."""
        if not self.tools:
            return self.context
        base = self.context if isinstance(self.context, dict) else ({} if self.context is None else {"data": self.context})
        return {**base, "tools": list(self.tools)}


def derive_case_type(obj: dict[str, Any]) -> str:
    """A case's type when the file does not say: refusal, tool, multi_turn (2+ user turns) or answer."""
    expected = obj.get("expected") or {}
    if expected.get("must_refuse"):
        return "refusal"
    if "tool_call" in expected or "tool_calls" in expected:
        return "tool"
    if sum(1 for m in obj.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user") > 1:
        return "multi_turn"
    return "answer"


def _strings(value: Any, name: str, fail) -> tuple[str, ...]:
    if isinstance(value, str):   # one string where a list is expected: accepted for hand-written cases
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"'{name}' must be a list of strings")
    return tuple(value)


def _tool_name(tool: Any) -> str | None:
    fn = tool.get("function") if isinstance(tool, dict) and isinstance(tool.get("function"), dict) else tool
    return fn.get("name") if isinstance(fn, dict) and isinstance(fn.get("name"), str) else None


def _one_call(value: Any, tools: tuple[dict, ...], fail, where: str) -> ExpectedCall:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        raise fail(f"'{where}' must be {{name: str, arguments: object}}")
    if set(value) - {"name", "arguments"}:
        raise fail(f"unknown key '{where}.{sorted(set(value) - {'name', 'arguments'})[0]}'")
    arguments = value.get("arguments", {})
    if not isinstance(arguments, dict):
        raise fail(f"'{where}.arguments' must be an object")
    names = {_tool_name(t) for t in tools}
    if value["name"] not in names:
        raise fail(f"'{where}.name' {value['name']!r} is not one of the case's tools {sorted(n for n in names if n)}")
    return ExpectedCall(value["name"], arguments)


def _expected_call(expected: dict[str, Any], tools: tuple[dict, ...], fail
                   ) -> ExpectedCall | tuple[ExpectedCall, ...] | str | None:
    """The case's tool expectation from `expected.tool_call` or `expected.tool_calls` (one of them at most)."""
    if "tool_call" in expected and "tool_calls" in expected:
        raise fail("give 'expected.tool_call' or 'expected.tool_calls', not both")
    if "tool_calls" in expected:
        calls = expected["tool_calls"]
        if not isinstance(calls, list):
            raise fail("'expected.tool_calls' must be a list of {name, arguments} ([]: no call)")
        if not calls:
            return NO_TOOL
        return tuple(_one_call(c, tools, fail, f"expected.tool_calls[{i}]") for i, c in enumerate(calls))
    value = expected.get("tool_call")
    if value is None:
        return None
    if value == NO_TOOL:
        return NO_TOOL
    if not isinstance(value, dict):
        raise fail("'expected.tool_call' must be \"none\" or {name: str, arguments: object}")
    return _one_call(value, tools, fail, "expected.tool_call")


def _check_tool_schemas(tools: list, fail) -> None:
    """Each tool's parameters must be a usable JSON Schema once its type names are normalised."""
    for t in tools:
        fn = t["function"] if isinstance(t.get("function"), dict) else t
        params = fn.get("parameters")
        if params is None:
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(toolcalls.normalize_schema(params))
        except jsonschema.SchemaError as e:
            raise fail(f"tool {fn.get('name')!r}: parameters are not a JSON Schema ({e.message})") from None


def golden_case(obj: Any, where: str = "case") -> GoldenCase:
    """Build a GoldenCase from one parsed JSON object, or raise GoldenError naming `where`."""
    def fail(msg: str) -> GoldenError:
        return GoldenError(f"{where}: {msg}")

    if not isinstance(obj, dict):
        raise fail("not a JSON object")
    unknown = sorted(set(obj) - CASE_KEYS)
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise fail("'id' must be a non-empty string")
    context = obj.get("context")
    if isinstance(context, str):  # tolerate CONTEXT given as JSON text, as the logs store it
        context = json.loads(context)
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
            raise fail(f"messages[{i}] must be {{role: user|assistant, content: str}}")
    if messages[-1]["role"] != "user":
        raise fail("the last message must be a user turn (the model answers it)")
    tools = obj.get("tools") or []
    if not isinstance(tools, list) or not all(_tool_name(t) for t in tools):
        raise fail("'tools' must be a list of tool definitions, each with a name")
    _check_tool_schemas(tools, fail)
    expected = obj.get("expected")
    if not isinstance(expected, dict):
        raise fail("'expected' must be an object")
    unknown = sorted(set(expected) - EXPECTED_KEYS)
    if unknown:
        raise fail(f"unknown key 'expected.{unknown[0]}'")
    must_refuse = expected.get("must_refuse", False)
    if not isinstance(must_refuse, bool):
        raise fail("'expected.must_refuse' must be true or false")
    for key in ("min_words", "max_words"):
        if expected.get(key) is not None and (not isinstance(expected[key], int) or expected[key] < 0):
            raise fail(f"'expected.{key}' must be a non-negative integer")
    persona = expected.get("persona")
    if persona is not None and persona not in PERSONAS:
        raise fail(f"'expected.persona' must be one of {', '.join(PERSONAS)}, got {persona!r}")
    exact = expected.get("exact")
    if exact is not None and not isinstance(exact, str):
        raise fail("'expected.exact' must be a string")
    regex = _strings(expected.get("regex", []), "expected.regex", fail)
    for pattern in regex:
        try:
            re.compile(pattern)
        except re.error as e:
            raise fail(f"'expected.regex' {pattern!r} is not a valid regex ({e})") from None
    case_type = obj.get("case_type") or derive_case_type(obj)
    if not isinstance(case_type, str):
        raise fail("'case_type' must be a string")
    return GoldenCase(
        id=obj["id"],
        context=context,
        messages=tuple({"role": m["role"], "content": m["content"]} for m in messages),
        contains=_strings(expected.get("contains", []), "expected.contains", fail),
        must_refuse=must_refuse,
        allowed_ids=_strings(expected.get("allowed_ids", []), "expected.allowed_ids", fail),
        tags=_strings(obj.get("tags", []), "tags", fail),
        case_type=case_type,
        tools=tuple(tools),
        exact=exact,
        regex=regex,
        answer=_strings(expected.get("answer", []), "expected.answer", fail),
        tool_call=_expected_call(expected, tuple(tools), fail),
        min_words=expected.get("min_words"),
        max_words=expected.get("max_words"),
        persona=persona,
    )


def _lines(path: str | Path) -> list[tuple[str, Any]]:
    """(`file:line`, parsed JSON value) for every non-blank line; a line that is not JSON is an error."""
    return [(f"{path}:{n}", value) for n, value in jsonl_lines(path, GoldenError)]


def read_cases(path: str | Path) -> list[Any]:
    """The golden file's cases as written (JSON values, not checked against the contract), in file order.

    The one reader of golden/golden.jsonl: `read_golden` checks these against the contract (evaluate),
    validate reports on them case by case, `golden.overlap.load_golden` keys them (curate, build).
    """
    return [obj for _, obj in _lines(path)]


def read_golden(path: str | Path) -> list[GoldenCase]:
    """Read the golden JSONL file, every case checked against the contract; ids must be unique."""
    cases: list[GoldenCase] = []
    seen: set[str] = set()
    for where, obj in _lines(path):
        case = golden_case(obj, where)
        if case.id in seen:
            raise GoldenError(f"{where}: duplicate case id '{case.id}'")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise GoldenError(f"{path}: no golden cases")
    return cases


def cases_tagged(cases: list[GoldenCase], tag: str, where: str | Path = "golden set") -> list[GoldenCase]:
    """The cases carrying `tag` (seed 003's per-task evaluation: `task:<type>`), in file order.

    GoldenError naming `where` when none does: a task's adapter with no case of its own cannot be judged.
    """
    kept = [c for c in cases if tag in c.tags]
    if not kept:
        raise GoldenError(f"{where}: no golden case tagged '{tag}' (of {len(cases)}); add cases for this task "
                          f"type before evaluating its adapter")
    return kept
