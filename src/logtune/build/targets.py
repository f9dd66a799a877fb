"""What an assistant turn looks like in a training record: plain text, or the canonical tool-call JSON.

One function, `render_assistant`, used for the reply being trained AND for assistant turns shown as
history, so a model sees its earlier tool calls in exactly the form it is trained to write them.
A turn with logged tool calls (MESSAGE.tool_calls) or a reply text that is a call (any of the bad
forms `logtune.toolcalls` knows) becomes `{"tool": ..., "args": ...}`; in a tool-using conversation
a turn without a call becomes the `{"tool": "none", ...}` object unless params say `no_call_form:
plain`. Outside tool-using conversations plain text stays plain text. Not for routing feedback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from logtune import toolcalls

NO_CALL_FORMS = ("tool_none", "plain")


@dataclass(frozen=True)
class Rendered:
    text: str
    calls: int                      # tool calls in the turn (0: a plain reply or the "none" object)
    fixes: tuple[str, ...] = ()     # bad forms normalised on the way (toolcalls.FIXES)


TOOL_TASK_TYPES = ("tool_use", "trajectory")


_UNSET: Any = object()


def offered_tools(context: str | dict | None) -> set[str] | None:
    """`toolcalls.offered_tools`, without parsing a CONTEXT text that cannot name a `tools` key (no
    `"tools"` in it, and no `\\u` escape that could spell one): most CONTEXTs offer no tools."""
    if isinstance(context, str) and '"tools"' not in context and "\\u" not in context:
        return None
    return toolcalls.offered_tools(context)


def is_tool_conversation(conversation: dict[str, Any], offered: set[str] | None = _UNSET) -> bool:
    """An agent's conversation: it offers tools (CONTEXT `tools`), has a tool task type, or some turn
    calls a tool, answers one, or writes (or is rewritten to) a call in any known form.
    `offered`: `offered_tools` of its CONTEXT when the caller has it already."""
    if offered is _UNSET:
        offered = offered_tools(conversation.get("context"))
    if conversation.get("task_type") in TOOL_TASK_TYPES or offered:
        return True
    for m in conversation.get("messages") or []:
        if m.get("role") == "tool" or (m.get("role") == "assistant" and m.get("tool_calls")):
            return True
        if m.get("role") == "assistant" and any(_is_call_form(t) for t in (m.get("content"), m.get("rewrite"))):
            return True
    return False


def _is_call_form(text: str | None) -> bool:
    if not text or not text.lstrip().startswith(("{", "[", "`")):
        return False
    try:
        return toolcalls.parse_text(text).is_call_form
    except toolcalls.ToolCallError:
        return True


def render_assistant(text: str | None, tool_calls_json: str | None, *, tool_conversation: bool,
                     no_call_form: str = "tool_none", offered: set[str] | None = None) -> Rendered:
    """The training text of one assistant turn; raises toolcalls.ToolCallError when it cannot be normalised."""
    text = text or ""
    if tool_calls_json:
        fixes: list[str] = []
        calls = toolcalls.from_logged(tool_calls_json, fixes)
        toolcalls.check_offered(calls, offered)
        if calls:
            return Rendered(toolcalls.serialise(calls, text), len(calls), tuple(dict.fromkeys(fixes)))
        parsed = toolcalls.Parsed(message=text, is_call_form=True)   # every logged call was a "none"
    else:
        parsed = toolcalls.parse_text(text)
    if parsed.calls:
        toolcalls.check_offered(parsed.calls, offered)
        return Rendered(toolcalls.serialise(parsed.calls, parsed.message), len(parsed.calls), parsed.fixes)
    message = parsed.message if parsed.is_call_form else text
    if tool_conversation and no_call_form == "tool_none":
        return Rendered(toolcalls.serialise([], message), 0, parsed.fixes)
    if parsed.is_call_form and not (message or "").strip():
        raise toolcalls.ToolCallError("tool_none_without_message", "a \"none\" call that says nothing")
    return Rendered(message or "", 0, parsed.fixes)


def shown_text(message: dict[str, Any], text: str | None, *, tool_conversation: bool, no_call_form: str,
               offered: set[str] | None = None) -> str:
    """An assistant turn as history: rendered like a target, or as logged when it cannot be normalised.

    A broken call in the history is not trained on (only the last turn is), so it is shown rather
    than costing the reply that follows it.
    """
    try:
        return render_assistant(text, message.get("tool_calls"), tool_conversation=tool_conversation,
                                no_call_form=no_call_form, offered=offered).text
    except (toolcalls.ToolCallError, ValueError):
        return text or message.get("tool_calls") or ""


def feedback_meta(message: dict[str, Any]) -> dict[str, Any]:
    """A message's feedback_meta as an object ({} when absent or not an object)."""
    raw = message.get("feedback_meta")
    if not raw:
        return {}
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}
