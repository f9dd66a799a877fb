"""DPO preference pairs in TRL's conversational format (prompt / chosen / rejected).

prompt = system (prompt + CONTEXT) + history + the user turn (and earlier steps of a tool exchange);
chosen and rejected are one assistant message each. Made by four rules (`pipeline.route`):
`rewrite_pair` (a human rewrite over the down-voted reply), `correction_pair` (seed 002's tool-call
corrections: the fix over the wrong output, kept in its wrong form), `recorded_pair` (a source that
logged both replies: HH-RLHF, typed preference records) and `sibling_rank_pair` (OASST: a better-ranked
sibling over a worse one; its message_ids end with the rejected sibling's id).
"""

from __future__ import annotations

from typing import Any

from logtune.build.replies import Reply
from logtune.build.sft import example_id, lineage, prompt_messages


def preference_pair(reply: Reply, chosen: str, rejected: str, rule: str, kind: tuple[str, str],
                    rejected_id: str | None = None, more: tuple = ()) -> dict[str, Any]:
    """A records.PREFERENCE_PAIR row: `chosen` preferred over `rejected` as the answer to the reply's prompt
    (`more`: extra id parts, when one reply makes several pairs of one rule)."""
    row = {"id": example_id(reply, rule, *([rejected_id] if rejected_id is not None else []), *more),
           "prompt": prompt_messages(reply),
           "chosen": [{"role": "assistant", "content": chosen}],
           "rejected": [{"role": "assistant", "content": rejected}],
           **lineage(reply, rule, kind)}
    if rejected_id is not None:
        row["message_ids"] = row["message_ids"] + [str(rejected_id)]
    return row
