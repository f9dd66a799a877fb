"""Chat formats -> contract messages: role names, text parts, tool calls, turn merging, transcripts.

Canonical tool calls are the OpenAI shape: `[{"function": {"arguments": <object, or the raw text when it
is not JSON>, "name": "f"}, "id": "c1" | null, "type": "function"}]`. On a `tool` message, `tool_calls`
holds which call it answers, `{"name": ..., "tool_call_id": ...}`, because the Conversation contract has
no column for that link. Consecutive same-role turns are merged (chat templates and TRL expect
alternating turns); `Human: ... Assistant: ...` transcripts are split into turns.
"""

from __future__ import annotations

import json
import re
from typing import Any

from logtune.sources import Unfit
from logtune.sources.items import UnknownRole, json_text, message

OPENAI_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
                "tool": "tool", "function": "tool"}


def map_role(raw: Any, table: dict[str, str]) -> str:
    """The contract role for a format's role name (case-insensitive); UnknownRole when it has none."""
    if not isinstance(raw, str) or raw.lower() not in table:
        raise UnknownRole(f"unknown role {raw!r} (known: {', '.join(sorted(table))})")
    return table[raw.lower()]


def text_of(content: Any) -> str | None:
    """Text of a message content: a string, or a list of parts whose text parts are joined.

    Non-text parts (images, audio) are dropped: the models trained here are text-only.
    Returns None for a content that is neither (the adapter quarantines it as wrong_type).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "\n".join(texts)
    return None


def tools_context(tools: Any) -> str | None:
    """Tool definitions as the conversation's CONTEXT JSON (`{"tools": [...]}`), or None without tools.

    The contract has no tools column; the definitions are what the model could call, i.e. the
    authoritative context of a tool-using turn, and `prompt.render_system` shows them to the model
    the way Glaive-style data does (tools listed in the system message).
    """
    if tools in (None, "", []):
        return None
    if isinstance(tools, str):
        tools = json.loads(tools)  # ValueError for the caller to quarantine
    if not isinstance(tools, list):
        raise ValueError(f"tools must be a list, got {type(tools).__name__}")
    return json_text({"tools": tools})


def _one_call(call: Any) -> dict:
    if not isinstance(call, dict):
        raise ValueError(f"a tool call must be an object, got {type(call).__name__}")
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool call has no name: {json_text(call)[:200]}")
    if "arguments" in fn:
        args = fn["arguments"]
    elif "input" in fn:            # Anthropic tool_use blocks
        args = fn["input"]
    else:
        args = fn.get("parameters", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            pass                   # e.g. ChatGPT's code interpreter: the argument is raw Python
    call_id = call.get("id")
    return {"id": None if call_id is None else str(call_id), "type": "function",
            "function": {"name": name, "arguments": args}}


def tool_calls_json(calls: Any) -> str | None:
    """Canonical tool-call JSON from OpenAI, Glaive/ShareGPT or Anthropic shapes (one call or a list).

    Raises ValueError when a call has no name or is not an object, for the adapter to quarantine.
    """
    if calls in (None, "", []):
        return None
    if isinstance(calls, str):
        calls = json.loads(calls)
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list):
        raise ValueError(f"tool calls must be a list or an object, got {type(calls).__name__}")
    return json_text([_one_call(c) for c in calls])


def tool_link_json(tool_call_id: Any = None, name: Any = None) -> str | None:
    """On a tool message: which call it answers (None when the format does not say)."""
    if tool_call_id is None and name is None:
        return None
    return json_text({"tool_call_id": tool_call_id, "name": name})


def _merge_meta(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    ma, mb = json.loads(a), json.loads(b)
    merged = dict(ma)
    for key, value in mb.items():
        if isinstance(merged.get(key), list) and isinstance(value, list):
            merged[key] = merged[key] + value
        else:
            merged.setdefault(key, value)
    return json_text(merged)


def merge_same_role(messages: list[dict], roles: tuple[str, ...] = ("user", "assistant")) -> list[dict]:
    """Merge consecutive turns of the same role (in `roles`) into one turn.

    Chat templates and TRL expect alternating turns; exports split one turn when a user sends two
    messages in a row or an assistant writes text and then calls a tool. The merged turn keeps the
    first turn's id and time, joins the texts with a blank line, concatenates tool calls, keeps the
    last rating/note/rewrite given, and merges feedback_meta. Tool results are never merged: each
    answers its own call.
    """
    out: list[dict] = []
    for m in messages:
        prev = out[-1] if out else None
        if prev is None or prev["role"] != m["role"] or m["role"] not in roles:
            out.append(dict(m))
            continue
        prev["content"] = "\n\n".join(t for t in (prev["content"], m["content"]) if t)
        if m["tool_calls"]:
            calls = (json.loads(prev["tool_calls"]) if prev["tool_calls"] else []) + json.loads(m["tool_calls"])
            prev["tool_calls"] = json_text(calls)
        for key in ("rating", "feedback_note", "rewrite"):
            if m[key] is not None:
                prev[key] = m[key]
        prev["feedback_meta"] = _merge_meta(prev["feedback_meta"], m["feedback_meta"])
    return out


def openai_messages(turns: list) -> list[dict]:
    """OpenAI-style turns as contract messages (merged, tool links checked); raises Unfit.

    Used by messages_jsonl and openai_chat_log (a gateway request carries the same message shape).
    """
    messages, call_ids = [], set()
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise Unfit("wrong_type", f"turn {i} is not an object")
        try:
            role = map_role(turn.get("role"), OPENAI_ROLES)
        except UnknownRole as e:
            raise Unfit("unknown_role", f"turn {i}: {e}") from None
        content = text_of(turn.get("content"))
        if content is None:
            raise Unfit("wrong_type", f"turn {i}: content is {type(turn.get('content')).__name__}, not text")
        tool_calls, meta = None, None
        if role == "assistant":
            try:
                tool_calls = tool_calls_json(turn.get("tool_calls") or turn.get("function_call"))
            except ValueError as e:
                raise Unfit("broken_tool_call", f"turn {i}: {e}") from None
            call_ids.update(c["id"] for c in json.loads(tool_calls or "[]") if c["id"] is not None)
            if "weight" in turn:
                meta = {"weight": turn["weight"]}
        elif role == "tool":
            link = turn.get("tool_call_id")
            if link is not None and link not in call_ids:
                raise Unfit("orphan_reply", f"turn {i}: tool result for call {link!r}, which no earlier turn made")
            tool_calls = tool_link_json(link, turn.get("name"))
        messages.append(message(role, content, id=i, tool_calls=tool_calls, feedback_meta=meta))
    return merge_same_role(messages)


def split_transcript(text: str, labels: dict[str, str], sep: str) -> list[tuple[str, str]] | None:
    """Split a `Human: ... Assistant: ...` transcript into (role, content) turns, or None if malformed.

    `labels` maps the speaker label to a role ({"Human": "user", "Assistant": "assistant"}); `sep`
    is the text that must precede each label ("\\n\\n" for HH-RLHF, "\\n" or start for line-based
    histories). Text before the first label makes it malformed; a turn keeps its inner newlines.
    """
    alternatives = "|".join(re.escape(label) for label in labels)
    pattern = re.compile(rf"(?:^|{re.escape(sep)})({alternatives}):[ \t]?")
    matches = list(pattern.finditer(text))
    if not matches or text[:matches[0].start()].strip():
        return None
    turns = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        turns.append((labels[m.group(1)], text[m.end():end].strip()))
    return turns
