"""The one tool-call format of training targets (seed 002): `{"tool": name, "args": {...}}`.

A turn that calls one tool is trained as the JSON object `{"tool": "ssh", "args": {"host": "web-1"}}`;
parallel calls are a JSON list of such objects. Text the assistant said in the same turn (an event
log's `speech` beside its intents, "On it!" before a call) rides along as `"message"`, so one turn is
still one JSON value an executor can parse. A turn that calls no tool is `{"tool": "none", "args": {},
"message": "..."}` inside a tool-using conversation (the issue's choice, and what seed 002's agent
executes: its `tool="none"` bug was the executor not recognising the sentinel, which is why the
sentinel is spelled exactly one way here); build can be told to leave such replies as plain text
(params `build.no_call_form: plain`). Key order is fixed (tool, args, message) and args keys are
sorted, so the same call always serialises to the same text.

Where calls come from: `from_logged` reads MESSAGE.tool_calls JSON (the OpenAI shape every file
adapter writes, see `logtune.sources.chat`, and seed 003's logged intents `{"type", "action",
"confidence"}`); `parse_text` reads a call the model wrote as its reply text (corrections, typed
records). The known bad forms are normalised and named in `fixes`: `"action"` (or `"name"`/
`"function"`) instead of `"tool"`, `"arguments"`/`"parameters"`/`"input"` instead of `"args"`, args
given as JSON text, a plan printed as a Python dict (`{'tool': 'x', 'args': {...}}`: read with
`ast.literal_eval`, never `eval`), a Markdown code fence, `"None"`/`null`/`"no_tool"` spellings of
"none". What cannot be normalised raises `ToolCallError` with a reason: no tool name, args that are
not an object, a tool the conversation's CONTEXT does not offer, "none" with nothing to say, text
that looks like a call but parses as neither JSON nor a Python literal.

Not for executing tools, and not for judging whether a call was the right one (evaluation does that).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

NONE_TOOL = "none"
NONE_SPELLINGS = {"none", "null", "no_tool", "no-tool", "notool", "noop", "no_op", ""}
NAME_KEYS = ("tool", "action", "name", "function")     # in a reply text; "tool" is the canonical one
LOGGED_NAME_KEYS = ("tool", "name", "type", "action")  # in a logged intent, `type` names it (seed 003)
ARGS_KEYS = ("args", "arguments", "parameters", "params", "input")
MESSAGE_KEYS = ("message", "reply", "response", "say", "text", "content")
METADATA_KEYS = {"id", "confidence", "call_id", "tool_call_id"}   # logged, not part of what the model says
REASONS = ("args_not_object", "no_tool_name", "tool_none_without_message", "unknown_tool", "unparseable_tool_call")
FIXES = ("action_key", "args_key", "code_fence", "extra_keys", "function_key", "json_string_args", "name_key",
         "none_spelling", "python_dict", "text_args")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)
_CALLISH = re.compile(r"""["']?(?:tool|action)["']?\s*[:=]""")
# A plan printed as a Python dict inside prose: `{'tool': ...` with single quotes (seed 002's cosmetic bug).
_PY_DICT_PLAN = re.compile(r"""\{\s*'(?:tool|action|step)'\s*:""")


class ToolCallError(ValueError):
    """A tool call that cannot be normalised; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Parsed:
    """What a reply text says: `calls` (empty = no call), `message` (text said with or instead of a call)."""
    calls: tuple[ToolCall, ...] = ()
    message: str | None = None
    is_call_form: bool = False          # the text was a call object (possibly the "none" one), not prose
    fixes: tuple[str, ...] = field(default_factory=tuple)


def _sorted_obj(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_obj(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_obj(v) for v in value]
    return value


def _call_obj(call: ToolCall, message: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"tool": call.tool, "args": _sorted_obj(call.args)}
    if message:
        obj["message"] = message
    return obj


def serialise(calls: list[ToolCall] | tuple[ToolCall, ...], message: str | None = None) -> str:
    """The canonical text of one turn: a call object, a list of them, or the "none" object when no call."""
    message = (message or "").strip() or None
    if not calls:
        if message is None:
            raise ToolCallError("tool_none_without_message", "a turn with no call must say something")
        return json.dumps({"tool": NONE_TOOL, "args": {}, "message": message}, ensure_ascii=False)
    if len(calls) == 1:
        return json.dumps(_call_obj(calls[0], message), ensure_ascii=False)
    objs = [_call_obj(c, message if i == 0 else None) for i, c in enumerate(calls)]
    return json.dumps(objs, ensure_ascii=False)


def _args_of(obj: dict[str, Any], skip: set[str], fixes: list[str]) -> dict[str, Any]:
    key = next((k for k in ARGS_KEYS if k in obj), None)
    if key is None:
        # A logged intent carries its arguments as sibling fields: {"type": "game_action", "action": "roll"}.
        rest = {k: v for k, v in obj.items() if k not in skip and k not in METADATA_KEYS}
        return rest
    if key != "args":
        fixes.append("args_key")
    args = obj[key]
    if args is None:
        return {}
    if isinstance(args, str):
        try:
            decoded = json.loads(args) if args.strip() else {}
        except ValueError:
            raise ToolCallError("args_not_object", f"args are text that is not JSON: {args[:80]!r}") from None
        fixes.append("json_string_args")
        args = decoded
    if not isinstance(args, dict):
        raise ToolCallError("args_not_object", f"args are {type(args).__name__}, not an object")
    return args


def call_from_object(obj: Any, logged: bool = False) -> tuple[ToolCall | None, str | None, list[str]]:
    """(call or None for a "none" call, message, fixes) from one call object of any known shape.

    `logged`: the object is a logged call or intent (MESSAGE.tool_calls), not text the model wrote:
    `type` may name it, every other field is an argument, and nothing in it is a bad form.
    """
    name_keys = LOGGED_NAME_KEYS if logged else NAME_KEYS
    if not isinstance(obj, dict):
        raise ToolCallError("unparseable_tool_call", f"a tool call must be an object, got {type(obj).__name__}")
    fixes: list[str] = []
    if isinstance(obj.get("function"), dict):          # OpenAI: {"type": "function", "function": {...}}
        inner = obj["function"]
        name, skip = inner.get("name"), {"name"}
        args = _args_of(inner, skip | {"description"}, fixes)
        return _named(name, args), None, [f for f in fixes if f != "args_key"]
    key = next((k for k in name_keys if k in obj and not (k == "type" and obj[k] == "function")), None)
    if key is None:
        raise ToolCallError("no_tool_name", f"no tool name in {sorted(obj)}")
    if not logged and key != "tool":
        fixes.append(f"{key}_key")
    name = obj[key]
    message_key = None if logged else next((k for k in MESSAGE_KEYS if isinstance(obj.get(k), str)), None)
    message = obj.get(message_key) if message_key else None
    skip = {key, message_key} - {None}
    if isinstance(name, str) and name.strip().lower() in NONE_SPELLINGS or name is None:
        if name != NONE_TOOL:
            fixes.append("none_spelling")
        return None, message, fixes
    args = _args_of(obj, skip, fixes)
    known = set(name_keys) | set(ARGS_KEYS) | set(MESSAGE_KEYS) | METADATA_KEYS
    if not logged and set(obj) - known:
        fixes.append("extra_keys")      # e.g. a "thought" beside the call: not part of the canonical target
    return _named(name, args), message, fixes


def _named(name: Any, args: dict[str, Any]) -> ToolCall:
    if not isinstance(name, str) or not name.strip():
        raise ToolCallError("no_tool_name", f"tool name is {name!r}")
    return ToolCall(name.strip(), args)


def from_logged(tool_calls_json: str, fixes: list[str] | None = None) -> list[ToolCall]:
    """The calls in a MESSAGE.tool_calls column (OpenAI shape or logged intents); [] for "none" calls.

    A logged call whose arguments are raw text (ChatGPT's code interpreter sends its code that way)
    did run with that text as its whole input, so it becomes `{"input": text}` (fix `text_args`);
    a reply TEXT with string args is the model's mistake and stays `args_not_object`.
    """
    raw = json.loads(tool_calls_json)
    items = raw if isinstance(raw, list) else [raw]
    calls = []
    for item in items:
        try:
            call, _, more = call_from_object(item, logged=True)
        except ToolCallError as e:
            fn = item.get("function") if isinstance(item, dict) else None
            if e.reason != "args_not_object" or not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
                raise
            call, more = _named(fn.get("name"), {"input": fn["arguments"]}), ["text_args"]
        if fixes is not None:
            fixes.extend(more)
        if call is not None:
            calls.append(call)
    return calls


def _decode(text: str) -> tuple[Any, list[str]] | None:
    """The JSON value (or Python literal) the whole text is, with the fixes it took; None for prose."""
    fixes = []
    stripped = text.strip()
    fence = _FENCE.match(stripped)
    if fence:
        stripped, fixes = fence.group(1).strip(), ["code_fence"]
    if not stripped.startswith(("{", "[")):
        return None
    try:
        return json.loads(stripped), fixes
    except ValueError:
        pass
    try:
        return ast.literal_eval(stripped), fixes + ["python_dict"]
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if _CALLISH.search(stripped):
            raise ToolCallError("unparseable_tool_call", f"looks like a tool call but is neither JSON nor a "
                                f"Python literal: {stripped[:80]!r}") from None
        return None


def is_call_object(obj: Any) -> bool:
    """A JSON value a reply text holds is a call when it names a tool the known ways.

    `"name"`/`"function"` count only beside arguments: a memory entry `{"name": "Alice", ...}` is data.
    """
    if not isinstance(obj, dict):
        return False
    if "tool" in obj or "action" in obj:
        return True
    return ("name" in obj or isinstance(obj.get("function"), (str, dict))) and \
        (isinstance(obj.get("function"), dict) or any(k in obj for k in ARGS_KEYS))


def parse_text(text: str | None) -> Parsed:
    """What a reply text says: prose (no calls, not call form) or a call / call list / "none" call."""
    decoded = _decode(text or "")
    if decoded is None:
        return Parsed(message=text)
    value, fixes = decoded
    objs = value if isinstance(value, list) else [value]
    if not objs or not all(is_call_object(o) for o in objs):
        return Parsed(message=text)        # JSON, but no call (a memory entry, a data answer): prose
    calls, messages = [], []
    for obj in objs:
        call, message, more = call_from_object(obj)
        fixes += more
        if call is not None:
            calls.append(call)
        if message:
            messages.append(message)
    return Parsed(tuple(calls), "\n\n".join(messages) or None, True, tuple(dict.fromkeys(fixes)))


def offered_tools(context: str | dict | None) -> set[str] | None:
    """Tool names a CONTEXT `{"tools": [...]}` offers (OpenAI or bare shape); None when it lists none."""
    if context is None:
        return None
    try:
        obj = json.loads(context) if isinstance(context, str) else context
    except ValueError:
        return None
    tools = obj.get("tools") if isinstance(obj, dict) else None
    if not isinstance(tools, list) or not tools:
        return None
    names = set()
    for t in tools:
        if isinstance(t, dict):
            fn = t.get("function") if isinstance(t.get("function"), dict) else t
            if isinstance(fn.get("name"), str):
                names.add(fn["name"])
    return names or None


def check_offered(calls: list[ToolCall] | tuple[ToolCall, ...], offered: set[str] | None) -> None:
    """ToolCallError `unknown_tool` when a call names a tool the CONTEXT does not offer (when it lists any)."""
    if offered is None:
        return
    for call in calls:
        if call.tool not in offered:
            raise ToolCallError("unknown_tool", f"tool {call.tool!r} is not offered (offered: {sorted(offered)})")


def plan_as_python_dict(text: str | None) -> bool:
    """True when prose embeds a plan printed as a Python dict (`{'tool': ...`): seed 002's cosmetic bug."""
    return bool(_PY_DICT_PLAN.search(text or ""))


# Type names real tool definitions use that JSON Schema does not (BFCL's Python/Java/JavaScript
# cases, Glaive, hand-written specs), lower-cased -> the JSON-Schema type; None: any value.
TYPE_ALIASES: dict[str, str | None] = {
    "dict": "object", "object": "object", "map": "object", "hashmap": "object",
    "float": "number", "double": "number", "number": "number", "decimal": "number",
    "int": "integer", "integer": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "str": "string", "string": "string", "char": "string", "text": "string",
    "bool": "boolean", "boolean": "boolean",
    "list": "array", "array": "array", "tuple": "array", "set": "array", "arraylist": "array",
    "null": "null", "none": "null",
    "any": None,
}
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_ONE = ("additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")


def _json_type(name: Any) -> tuple[bool, str | None]:
    """(known, JSON-Schema type or None for "any") of one type name as a tool definition spells it."""
    if not isinstance(name, str):
        return False, None
    key = name.strip().lower()
    if key in TYPE_ALIASES:
        return True, TYPE_ALIASES[key]
    base = re.split(r"[<\[]", key, maxsplit=1)[0]     # Java/TypeScript generics: ArrayList<String>, list[str]
    return (True, TYPE_ALIASES[base]) if base in TYPE_ALIASES else (False, None)


def normalize_schema(schema: Any) -> Any:
    """A tool's parameter schema with non-standard type names turned into JSON Schema (Draft 2020-12).

    `"dict"` -> object, `"float"`/`"double"` -> number, `"int"`/`"long"` -> integer, `"str"` -> string,
    `"bool"` -> boolean, `"list"`/`"tuple"`/`"set"` -> array, `"any"` (or a name nobody knows) -> no
    type constraint; type names are case-insensitive and generics (`ArrayList<String>`) keep their base.
    A list-valued `items` (the tuple form of older drafts) becomes `prefixItems`. Recurses through
    properties, items and the combinators; the input is not modified. Anything that is not a schema
    object is returned as it is.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "type" in out:
        names = out["type"] if isinstance(out["type"], list) else [out["type"]]
        types, unconstrained = [], False
        for name in names:
            known, json_type = _json_type(name)
            if json_type is None:
                unconstrained = True
            elif json_type not in types:
                types.append(json_type)
        if unconstrained or not types:
            del out["type"]
        else:
            out["type"] = types[0] if len(types) == 1 else types
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: normalize_schema(v) for k, v in out[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [normalize_schema(v) for v in out[key]]
    for key in _SUBSCHEMA_ONE:
        if isinstance(out.get(key), dict):
            out[key] = normalize_schema(out[key])
    if isinstance(out.get("items"), list):
        out["prefixItems"] = [normalize_schema(v) for v in out.pop("items")]
    elif isinstance(out.get("items"), dict):
        out["items"] = normalize_schema(out["items"])
    if isinstance(out.get("required"), bool):        # draft-3 style `required: true` on a property
        del out["required"]
    return out
