"""SFT examples in TRL's conversational format: system (prompt + CONTEXT), history, the reply.

One example per reply worth imitating; `rule` says why it was chosen (`upvoted_reply`,
`unrated_reply`, `rewrite_sft`). The record type and curriculum phase follow from the reply text:
a reply saying the answer is not in CONTEXT (`logtune.refusal`) is a `refusal` in phase `refusals`.
"""

from __future__ import annotations

from typing import Any

from logtune.build.replies import Reply
from logtune.ids import content_id
from logtune.prompt import with_system
from logtune.refusal import is_refusal


def record_kind(reply_text: str) -> tuple[str, str]:
    """(record_type, phase) of a trained reply."""
    return ("refusal", "refusals") if is_refusal(reply_text) else ("chat", "conversational")


def example_id(reply: Reply, rule: str) -> str:
    return content_id(reply.conversation["id"], reply.message.get("id"), rule)


def prompt_messages(reply: Reply) -> list[dict[str, str]]:
    """System message (the conversation's prompt + CONTEXT, via logtune.prompt) then the prompt turns."""
    conv = reply.conversation
    return with_system(reply.prompt, conv.get("system_prompt"), conv.get("context"))


def lineage_ids(reply: Reply) -> list[str]:
    """Source message ids of the prompt turns and the reply, in order."""
    return [str(m["id"]) for m in reply.prompt] + [str(reply.message.get("id"))]


def sft_example(reply: Reply, reply_text: str, rule: str) -> dict[str, Any]:
    """A records.SFT_EXAMPLE row training `reply_text` as the answer to the reply's prompt."""
    record_type, phase = record_kind(reply_text)
    conv = reply.conversation
    return {
        "id": example_id(reply, rule),
        "messages": prompt_messages(reply) + [{"role": "assistant", "content": reply_text}],
        "record_type": record_type,
        "phase": phase,
        "task_type": conv.get("task_type"),
        "provenance": conv.get("provenance"),
        "rule": rule,
        "conversation_id": conv["id"],
        "message_ids": lineage_ids(reply),
    }
