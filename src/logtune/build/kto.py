"""KTO examples in TRL's unpaired preference format: prompt, completion, label (records.KTO_EXAMPLE).

A reply with a thumb and no rewrite has no partner to form a DPO pair, but the thumb is still a
signal: up-voted -> label true (rule `thumbs_up`, the reply is also an SFT example), down-voted ->
label false (rule `thumbs_down`). TRL's KTOTrainer reads exactly these three columns.
"""

from __future__ import annotations

from typing import Any

from logtune.build.replies import Reply
from logtune.build.sft import example_id, lineage, prompt_messages


def kto_example(reply: Reply, completion: str, label: bool, rule: str, kind: tuple[str, str]) -> dict[str, Any]:
    """A records.KTO_EXAMPLE row: `completion` as the answer to the reply's prompt, desirable or not."""
    return {"id": example_id(reply, rule), "prompt": prompt_messages(reply),
            "completion": [{"role": "assistant", "content": completion}], "label": label,
            **lineage(reply, rule, kind)}
