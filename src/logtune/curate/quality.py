"""The judge's data-quality score as a curate filter (issue #17, `curate.judge_min_quality`).

Every assistant reply with text in a surviving session is asked the judge's `quality` question (the
conversation before it, the reply, the session's CONTEXT: the same question whose agreement with the
logged thumbs the judge stage measures). A session is as good as its worst reply, since build trains on
each one: a reply scored below `judge_min_quality` rejects the session with reason `judge_low_quality`;
a reply whose score the judge's answer does not give rejects it with `judge_unparsed` (a judge that
cannot answer does not silently keep data). Replies with no text (a tool call only) are not asked; a
session with none is kept, counted as `sessions_unscored`. Runs after redaction and deduplication: the
judge (an API, maybe) never sees PII, and is not asked about copies that leave anyway.
"""

from __future__ import annotations

from typing import Any

from logtune.judge.core import FILTER_REASONS, Judge, QualityItem, context_text, transcript
from logtune.rejects import Reject

REASONS = list(FILTER_REASONS)


def reply_items(conversation: dict[str, Any]) -> list[QualityItem]:
    """One judge question per assistant reply with text, id `<session id>:<message id or index>`."""
    messages = conversation.get("messages") or []
    context = context_text(conversation.get("context"))
    return [QualityItem(f"{conversation.get('id')}:{m.get('id') or i}", transcript(messages[:i]), m["content"], context)
            for i, m in enumerate(messages)
            if m.get("role") == "assistant" and isinstance(m.get("content"), str) and m["content"].strip()]


def judge_sessions(conversations: list[dict[str, Any]], judge: Judge, min_quality: float
                   ) -> tuple[dict[int, Reject], dict[str, Any]]:
    """({index of conversation: Reject}, stats) for the sessions whose worst reply fails `min_quality`."""
    items, owner = [], []
    for ci, conv in enumerate(conversations):
        for item in reply_items(conv):
            items.append(item)
            owner.append(ci)
    scores = judge.quality(items) if items else []
    worst: dict[int, tuple[float | None, str]] = {}       # index -> (lowest score, reply id); None sorts first
    for item, ci, score in zip(items, owner, scores):
        have = worst.get(ci)
        if have is None or (have[0] is not None and (score is None or score < have[0])):
            worst[ci] = (score, item.id)
    rejects = {}
    for ci, (score, reply) in sorted(worst.items()):
        if score is None:
            rejects[ci] = Reject("judge_unparsed", f"reply {reply}: the answer of {judge.name} gave no score")
        elif score < min_quality:
            rejects[ci] = Reject("judge_low_quality",
                                 f"reply {reply} scored {score:.3f} < {min_quality} by {judge.name}")
    stats = {"judge": judge.name, "stand_in": judge.stand_in, "min_quality": min_quality,
             "sessions_scored": len(worst), "sessions_unscored": len(conversations) - len(worst),
             "replies_scored": sum(s is not None for s in scores),
             "replies_unparsed": sum(s is None for s in scores),
             "replies_below": sum(s is not None and s < min_quality for s in scores)}
    return rejects, stats
