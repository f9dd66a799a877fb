"""Which prompts best-of-n answers: logged prompts of the training side whose reply SFT did not train on.

Candidates are the prompts of `data/train`'s preference pairs and KTO examples (replies people rated,
routed away from SFT); a prompt whose text is also the prompt of an SFT example is skipped
(`used_for_sft`), so on-policy pairs teach something SFT has not already imitated; repeats of one prompt
count once (`duplicate_prompt`). Held-out sessions are never read: they stay for evaluation.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from logtune.normalize import normalize_text


def prompt_key(messages: list[dict[str, Any]]) -> str:
    return json.dumps([[m["role"], normalize_text(m.get("content"))] for m in messages])


def sft_prompt_keys(sft_rows: list[dict[str, Any]]) -> set[str]:
    return {prompt_key(list(r["messages"])[:-1]) for r in sft_rows if r.get("messages")}


def select_prompts(pairs: list[dict[str, Any]], kto: list[dict[str, Any]], sft_rows: list[dict[str, Any]],
                   max_prompts: int) -> tuple[list[dict[str, Any]], Counter]:
    """([{id, prompt, conversation_id, task_type}], skipped by reason), sorted by id, at most max_prompts."""
    used = sft_prompt_keys(sft_rows)
    seen: set[str] = set()
    chosen, skipped = [], Counter()
    for row in sorted([*pairs, *kto], key=lambda r: r["id"]):
        prompt = [{"role": m["role"], "content": m["content"]} for m in row.get("prompt") or []]
        key = prompt_key(prompt)
        if not prompt or prompt[-1]["role"] != "user":
            skipped["no_user_turn"] += 1
        elif key in used:
            skipped["used_for_sft"] += 1
        elif key in seen:
            skipped["duplicate_prompt"] += 1
        elif len(chosen) >= max_prompts:
            skipped["over_max_prompts"] += 1
        else:
            seen.add(key)
            chosen.append({"id": row["id"], "prompt": prompt, "conversation_id": row.get("conversation_id"),
                           "task_type": row.get("task_type")})
    return chosen, skipped
