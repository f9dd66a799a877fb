"""The assistant replies of a conversation, each with the dialogue it answered.

A `Reply` is one assistant message plus its prompt turns: up to `history_turns` earlier exchanges
(an exchange = a user turn and everything up to the next one, tool calls and results included),
then the user turn it answers, then the steps of the current exchange that came before it (its own
earlier tool calls and their results: a tool trajectory is trained one step at a time). In that
history an assistant turn that was down-voted and rewritten by a human shows its rewrite: the model
should learn to continue from good answers, not from the ones users rejected; assistant turns are
shown the way they are trained (`targets.render_assistant`: canonical tool calls). A reply that
cannot be trained on as a turn (it answers no user turn, it is empty) comes back as a `Reject`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from logtune.build.targets import feedback_meta, is_tool_conversation, offered_tools, shown_text
from logtune.rejects import Reject


@dataclass(frozen=True)
class Reply:
    conversation: dict[str, Any]
    message: dict[str, Any]                 # the assistant message being trained on
    prompt: list[dict[str, Any]]            # history + answered user turn + earlier steps: {"id", "role", "content"}
    tool_conversation: bool = False         # the conversation offers or uses tools
    exchange_steps: int = 0                 # tool calls + tool results in this reply's whole exchange
    offered: frozenset[str] | None = None   # tool names the CONTEXT offers (None: it lists none)

    @property
    def user_turn(self) -> dict[str, Any]:
        """The user turn this reply answers (the last user turn of the prompt)."""
        return next(m for m in reversed(self.prompt) if m["role"] == "user")


def is_downvoted_rewrite(message: dict[str, Any]) -> bool:
    return message.get("role") == "assistant" and message.get("rating") == -1 \
        and bool((message.get("rewrite") or "").strip())


def shown_content(message: dict[str, Any], tool_conversation: bool = False, no_call_form: str = "tool_none",
                  offered: set[str] | None = None) -> str:
    """What a turn contributes as history: a down-voted reply's rewrite replaces it; calls are canonical."""
    if message.get("role") != "assistant":
        return message.get("content") or ""
    if is_downvoted_rewrite(message):
        return shown_text({}, message["rewrite"], tool_conversation=tool_conversation, no_call_form=no_call_form,
                          offered=offered)
    return shown_text(message, message.get("content"), tool_conversation=tool_conversation,
                      no_call_form=no_call_form, offered=offered)


def history_window(earlier: list[dict[str, Any]], history_turns: int) -> list[dict[str, Any]]:
    """The last `history_turns` exchanges of `earlier`, starting on a user turn."""
    dialogue = [m for m in earlier if m.get("role") in ("user", "assistant", "tool")]
    starts = [i for i, m in enumerate(dialogue) if m.get("role") == "user"]
    if history_turns <= 0 or not starts:
        return []
    return dialogue[starts[max(0, len(starts) - history_turns)]:]


def _is_step(message: dict[str, Any]) -> bool:
    return message.get("role") == "tool" or (message.get("role") == "assistant" and bool(message.get("tool_calls")))


def iter_replies(conversation: dict[str, Any], history_turns: int,
                 no_call_form: str = "tool_none") -> Iterator[tuple[dict[str, Any], Reply | Reject]]:
    """(assistant message, Reply or Reject) for every assistant message, in conversation order."""
    turns = [m for m in conversation.get("messages") or [] if m.get("role") != "system"]
    offered = offered_tools(conversation.get("context"))
    tool_conv = is_tool_conversation(conversation, offered)
    users = [i for i, m in enumerate(turns) if m.get("role") == "user"]
    for i, message in enumerate(turns):
        if message.get("role") != "assistant":
            continue
        u = max((j for j in users if j < i), default=None)
        between = turns[u + 1:i] if u is not None else []
        unanswerable = feedback_meta(message).get("unanswerable") is True
        if u is None or any(m.get("role") == "assistant" and not m.get("tool_calls") for m in between):
            yield message, Reject("no_user_turn", f"message {message.get('id')} does not follow a user turn")
        elif not (message.get("content") or "").strip() and not message.get("tool_calls") and not unanswerable:
            yield message, Reject("empty_reply", f"message {message.get('id')} is empty")
        else:
            end = min((j for j in users if j > i), default=len(turns))
            steps = sum(1 for m in turns[u + 1:end] if _is_step(m))
            prompt = history_window(turns[:u], history_turns) + [turns[u]] + between
            shown = [{"id": m.get("id"), "role": m["role"],
                      "content": shown_content(m, tool_conv, no_call_form, offered)} for m in prompt]
            yield message, Reply(conversation, message, shown, tool_conv, steps,
                                 frozenset(offered) if offered else None)
