"""SFT examples in TRL's conversational format: system (prompt + CONTEXT), history, the reply.

One example per reply worth imitating; `rule` says which build rule chose it (`upvoted_reply`,
`unrated_reply`, `rewrite_sft`, `correction_sft`, `extractive_answer`, `unanswerable_refusal`,
`top_ranked_reply`). Record type and phase come from `kinds.record_kind`. Also home of what every
built record shares: its content-hash id, its prompt messages and its lineage ids.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from logtune.build.replies import Reply
from logtune.ids import content_id
from logtune.prompt import render_system


def example_id(reply: Reply, rule: str, *more: object) -> str:
    return content_id(reply.conversation["id"], reply.message.get("id"), rule, *more)


# A conversation's replies share one system message; rendering it (CONTEXT JSON parsed and re-dumped)
# once per conversation instead of once per record is most of build's time on long sessions.
_render_system = lru_cache(maxsize=1024)(render_system)


def prompt_messages(reply: Reply) -> list[dict[str, str]]:
    """System message (the conversation's prompt + CONTEXT, via logtune.prompt) then the prompt turns.

    The same messages as `prompt.with_system(reply.prompt, system_prompt, context)`, with the system
    message rendered once per (prompt, CONTEXT).
    """
    conv = reply.conversation
    context = conv.get("context")
    system = _render_system(conv.get("system_prompt"), context if context is None or isinstance(context, str)
                            else json.dumps(context, sort_keys=True))
    out = [{"role": "system", "content": system}] if system else []
    return out + [{"role": m["role"], "content": m["content"]} for m in reply.prompt if m["role"] != "system"]


def lineage_ids(reply: Reply) -> list[str]:
    """Source message ids of the prompt turns and the reply, in order."""
    return [str(m["id"]) for m in reply.prompt] + [str(reply.message.get("id"))]


def lineage(reply: Reply, rule: str, kind: tuple[str, str], provenance: str | None = None) -> dict[str, Any]:
    """The columns every built record carries after its payload: kind, task, provenance, rule, ids."""
    conv = reply.conversation
    return {"record_type": kind[0], "phase": kind[1], "task_type": conv.get("task_type"),
            "provenance": provenance or conv.get("provenance"), "rule": rule,
            "conversation_id": conv["id"], "message_ids": lineage_ids(reply)}


def sft_example(reply: Reply, reply_text: str, rule: str, kind: tuple[str, str],
                provenance: str | None = None, more: tuple = ()) -> dict[str, Any]:
    """A records.SFT_EXAMPLE row training `reply_text` as the answer to the reply's prompt
    (`more`: extra id parts, when one reply makes several examples of one rule)."""
    return {"id": example_id(reply, rule, *more),
            "messages": prompt_messages(reply) + [{"role": "assistant", "content": reply_text}],
            **lineage(reply, rule, kind, provenance)}
