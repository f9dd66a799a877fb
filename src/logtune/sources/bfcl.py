"""Source adapter for Berkeley Function Calling Leaderboard (BFCL) cases: a question, the functions it may
call, and the expected calls (several for parallel cases, none for irrelevance cases).

Format (BFCL v3: `BFCL_v3_<category>.json` is JSON Lines despite its name; the answers sit in a
twin file under `possible_answer/`, joined by id):

    {"id": "parallel_multiple_0", "question": [[{"role": "user", "content": "Sum of primes below 10 and 20?"}]],
     "function": [{"name": "math_toolkit.sum_of_primes", "description": "...",
                   "parameters": {"type": "dict", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}]}
    possible_answer/BFCL_v3_parallel_multiple.json:
    {"id": "parallel_multiple_0", "ground_truth": [{"math_toolkit.sum_of_primes": {"n": [10]}},
                                                  {"math_toolkit.sum_of_primes": {"n": [20]}}]}

Expected calls are read from, first present: the record's own `ground_truth`, its `expected_tool_calls`
(a list of `{"name", "arguments"}` or of `{name: {arg: value}}`), or the answers file (option
`answers_path`; default: `possible_answer/<same file name>` beside the cases, when it exists).
Ground truth given as call text (`"f(a=1)"`, BFCL's executable and multi-turn categories) is parsed
with Python's own parser. An `irrelevance` case (its id says so, or option `no_call: true`, or an empty
answer list) expects no call at all.

Mapping: one case -> one Conversation, source_id = id, task_type "tool_use" (option), CONTEXT
`{"tools": function}` (the schemas as BFCL wrote them: their `"dict"`/`"float"`/`"tuple"`/`"any"` types are
for the tool metric to normalise). The question's turns become user (and system) turns; then one
assistant turn holding the expected calls as canonical tool_calls (each argument's first accepted
value; an argument whose first accepted value is "" is optional and left out), and in feedback_meta
`{"expected_calls": [{"name", "arguments": {arg: [accepted values]}}], "parallel": true|false,
"expect_no_call": false}` so build and the golden set can judge every call and their order-free set.
An irrelevance case's assistant turn has no content and no calls, and feedback_meta
`{"expected_calls": [], "expect_no_call": true}`. Multi-turn cases (several user turns, one answer
list per turn) become alternating user / assistant(calls) turns.

Quarantined per case: invalid_utf8, broken_json (lines), wrong_type, missing_field (no question or
function, or no answer for a case that expects calls: `no_answer`), broken_tool_call (call text that
does not parse), duplicate_id. Fields not mapped are counted as dropped fields in the export metrics.

Options: `answers_path`, `no_call` (every case expects no call), `task_type` (default "tool_use"),
`provenance` (default "real": the cases are human-curated).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Iterator

from logtune.sources import Unfit
from logtune.sources.chat import map_role, OPENAI_ROLES, text_of
from logtune.sources.items import check_fields, check_options, conversation, message, note, quarantine, UnknownRole
from logtune.sources.jsonl import iter_json_lines, require_file

KIND = "bfcl"
OPTIONS = ("answers_path", "no_call", "task_type", "provenance")
FIELDS = ("id", "question", "function", "ground_truth", "expected_tool_calls")


def read(path: str | Path, options: dict, source_name: str) -> Iterator[dict]:
    """One Conversation or quarantine per case, in file order."""
    opts = check_options(source_name, options, OPTIONS)
    path = require_file(path)
    answers, bad = _answers(_answers_path(path, opts))
    yield from bad
    seen: set[str] = set()
    for item in iter_json_lines(path, KIND):
        if isinstance(item, dict):
            yield item
            continue
        line_no, case = item
        where = f"line {line_no}"
        try:
            yield case_to_conversation(case, answers, seen, opts, source_name)
        except Unfit as e:
            yield quarantine(e.reason, str(e), where, case)


def _answers_path(path: Path, opts: dict) -> Path | None:
    if opts.get("answers_path"):
        return require_file(opts["answers_path"])
    twin = path.parent / "possible_answer" / path.name
    return twin if twin.is_file() else None


def _answers(path: Path | None) -> tuple[dict[str, Any], list[dict]]:
    """Ground truth by case id from a possible_answer file, and quarantines for its bad lines."""
    if path is None:
        return {}, []
    found, bad = {}, []
    for item in iter_json_lines(path, f"{KIND} possible_answer"):
        if isinstance(item, dict):
            bad.append({**item, "location": f"{path.name} {item['location']}"})
            continue
        line_no, row = item
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or "ground_truth" not in row:
            bad.append(quarantine("missing_field", "an answer line needs `id` and `ground_truth`",
                                          f"{path.name} line {line_no}", row))
            continue
        found[row["id"]] = row["ground_truth"]
    return found, bad


def case_to_conversation(case: Any, answers: dict[str, Any], seen: set[str], opts: dict, source_name: str) -> dict:
    """One BFCL case as a Conversation; raises Unfit with the quarantine reason."""
    problem = check_fields(case, {"id": str, "question": list, "function": list})
    if problem:
        raise Unfit(*problem)
    cid = case["id"]
    if cid in seen:
        raise Unfit("duplicate_id", f"case id {cid} occurred before")
    seen.add(cid)
    turns = case["question"]
    if turns and all(isinstance(t, dict) for t in turns):
        turns = [turns]          # a flat list of messages: one turn
    if not turns or not all(isinstance(t, list) and all(isinstance(m, dict) for m in t) for t in turns):
        raise Unfit("wrong_type", "`question` must be a list of turns, each a list of messages")
    truth = next((case[k] for k in ("ground_truth", "expected_tool_calls") if k in case), answers.get(cid))
    no_call = bool(opts.get("no_call")) or cid.startswith("irrelevance") or truth == []
    if truth is None and not no_call:
        raise Unfit("no_answer", f"case {cid} has no ground truth (in the case or the answers file)")
    per_turn = _per_turn(truth, len(turns)) if not no_call else [[] for _ in turns]
    messages = []
    for t, (turn, calls) in enumerate(zip(turns, per_turn)):
        for k, m in enumerate(turn):
            try:
                role = map_role(m.get("role"), OPENAI_ROLES)
            except UnknownRole as e:
                raise Unfit("unknown_role", f"turn {t} message {k}: {e}") from None
            content = text_of(m.get("content"))
            if content is None:
                raise Unfit("wrong_type", f"turn {t} message {k}: content is not text")
            messages.append(message(role, content, id=f"{cid}:{t}:{k}"))
        expected = [_expected(c) for c in calls]
        chosen = [{"id": None, "type": "function",
                   "function": {"name": e["name"], "arguments": {a: v[0] for a, v in e["arguments"].items()
                                                                if v and v[0] != ""}}} for e in expected]
        meta = {"expected_calls": expected, "parallel": len(expected) > 1, "expect_no_call": not expected}
        messages.append(message("assistant", None if not expected else "", id=f"{cid}:{t}:a",
                                        tool_calls=chosen or None, feedback_meta=meta))
    dropped = [k for k in case if k not in FIELDS]
    return note(conversation(
        source_name, cid, messages, context={"tools": case["function"]}, task_type=opts.get("task_type", "tool_use"),
        provenance=opts.get("provenance", "real"), status="ok"), dropped)


def _per_turn(truth: Any, n_turns: int) -> list[list[Any]]:
    if not isinstance(truth, list):
        raise Unfit("wrong_type", f"the ground truth is {type(truth).__name__}, not a list of calls")
    if n_turns > 1 or (truth and all(isinstance(t, list) for t in truth)):
        if len(truth) != n_turns or not all(isinstance(t, list) for t in truth):
            raise Unfit("wrong_type", f"{n_turns} turns but {len(truth)} answer lists")
        return truth
    return [truth]


def _expected(call: Any) -> dict[str, Any]:
    """One expected call as {"name", "arguments": {arg: [accepted values]}} from any of BFCL's spellings."""
    if isinstance(call, str):
        return _parsed_call(call)
    if isinstance(call, dict) and "name" in call:
        args = call.get("arguments", call.get("parameters", {}))
        if not isinstance(args, dict):
            raise Unfit("broken_tool_call", f"call {call['name']!r}: arguments are not an object")
        return {"name": call["name"], "arguments": {k: _accepted(v) for k, v in args.items()}}
    if isinstance(call, dict) and len(call) == 1:
        (name, args), = call.items()
        if not isinstance(args, dict):
            raise Unfit("broken_tool_call", f"call {name!r}: arguments are not an object")
        return {"name": name, "arguments": {k: v if isinstance(v, list) else [v] for k, v in args.items()}}
    raise Unfit("broken_tool_call", f"an expected call of an unknown shape: {str(call)[:200]}")


def _accepted(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _parsed_call(text: str) -> dict[str, Any]:
    """`f(a=1, b="x")` -> {"name": "f", "arguments": {"a": [1], "b": ["x"]}} (Python call syntax, literals only)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
        if not isinstance(node, ast.Call) or node.args:
            raise ValueError("not a call with keyword arguments")
        name = ast.unparse(node.func)
        return {"name": name, "arguments": {kw.arg: [ast.literal_eval(kw.value)] for kw in node.keywords}}
    except (SyntaxError, ValueError) as e:
        raise Unfit("broken_tool_call", f"call text {text[:200]!r} does not parse: {e}") from None
