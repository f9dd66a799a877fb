"""DPO preference pairs in TRL's conversational format, from human rewrites of down-voted replies.

prompt = system (prompt + CONTEXT) + history + the user turn; chosen = the rewrite; rejected = the
reply the user down-voted. Thumbs without a rewrite are no pair (they become KTO examples later).
"""

from __future__ import annotations

from typing import Any

from logtune.build.replies import Reply
from logtune.build.sft import example_id, lineage_ids, prompt_messages, record_kind


def preference_pair(reply: Reply, rule: str = "rewrite_pair") -> dict[str, Any]:
    """A records.PREFERENCE_PAIR row: the reply's rewrite preferred over the reply itself."""
    chosen = reply.message["rewrite"]
    conv = reply.conversation
    return {
        "id": example_id(reply, rule),
        "prompt": prompt_messages(reply),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": reply.message["content"]}],
        "record_type": record_kind(chosen)[0],
        "task_type": conv.get("task_type"),
        "provenance": conv.get("provenance"),
        "rule": rule,
        "conversation_id": conv["id"],
        "message_ids": lineage_ids(reply),
    }
