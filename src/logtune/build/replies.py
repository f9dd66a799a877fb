"""The assistant replies of a conversation, each with the dialogue it answered.

A `Reply` is one assistant message plus its prompt turns: up to `history_turns` earlier
user/assistant exchanges, then the user turn it answers. In that history an assistant turn that
was down-voted and rewritten by a human shows its rewrite: the model should learn to continue from
good answers, not from the ones users rejected. A reply that cannot be trained on as a chat turn
(it answers no user turn, it only calls tools, it is empty) comes back as a `Reject` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from logtune.curate.sessions import Reject


@dataclass(frozen=True)
class Reply:
    conversation: dict[str, Any]
    message: dict[str, Any]                 # the assistant message being trained on
    prompt: list[dict[str, Any]]            # history + answered user turn: {"id", "role", "content"}


def shown_content(message: dict[str, Any]) -> str:
    """What a turn contributes as history: a down-voted reply's rewrite replaces it."""
    if message.get("role") == "assistant" and message.get("rating") == -1 and (message.get("rewrite") or "").strip():
        return message["rewrite"]
    return message.get("content") or ""


def history_window(earlier: list[dict[str, Any]], history_turns: int) -> list[dict[str, Any]]:
    """The last `history_turns` user/assistant exchanges of `earlier`, starting on a user turn."""
    dialogue = [m for m in earlier if m.get("role") in ("user", "assistant") and not m.get("tool_calls")]
    window = dialogue[-2 * history_turns:] if history_turns > 0 else []
    while window and window[0].get("role") != "user":
        window = window[1:]
    return window


def iter_replies(conversation: dict[str, Any], history_turns: int) -> Iterator[tuple[dict[str, Any], Reply | Reject]]:
    """(assistant message, Reply or Reject) for every assistant message, in conversation order."""
    turns = [m for m in conversation.get("messages") or [] if m.get("role") != "system"]
    for i, message in enumerate(turns):
        if message.get("role") != "assistant":
            continue
        if message.get("tool_calls"):
            # Tool trajectories need the canonical tool-call format: a later build rule, not a chat turn.
            yield message, Reject("tool_call_reply", f"message {message.get('id')} calls tools")
        elif not (message.get("content") or "").strip():
            yield message, Reject("empty_reply", f"message {message.get('id')} is empty")
        elif i == 0 or turns[i - 1].get("role") != "user":
            yield message, Reject("no_user_turn", f"message {message.get('id')} does not follow a user turn")
        else:
            prompt = history_window(turns[:i - 1], history_turns) + [turns[i - 1]]
            shown = [{"id": m.get("id"), "role": m["role"], "content": shown_content(m)} for m in prompt]
            yield message, Reply(conversation, message, shown)
