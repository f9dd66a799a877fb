"""Exact-duplicate sessions: the same dialogue logged twice is trained on once.

"The same" means the same normalized text of every message (role and content, in order) and the
same normalized CONTEXT. Of a group of duplicates the best-rated one is kept (sum of its replies'
ratings, a rewrite counting as the extra signal it is), ties going to the first one read, so the
choice is deterministic. Near-duplicates are not handled here.
"""

from __future__ import annotations

from typing import Any

from logtune.curate.normalize import normalize_context, normalize_text
from logtune.curate.sessions import Reject
from logtune.ids import content_id


def duplicate_key(conversation: dict[str, Any]) -> str:
    """Content hash of the normalized CONTEXT and every message's role and normalized text."""
    parts = [normalize_context(conversation.get("context"))]
    for m in conversation.get("messages") or []:
        parts += [m.get("role") or "", normalize_text(m.get("content"))]
    return content_id("duplicate", *parts, length=32)


def feedback_score(conversation: dict[str, Any]) -> int:
    """How much the users liked this copy: sum of ratings, plus one per human rewrite."""
    msgs = conversation.get("messages") or []
    return sum(m.get("rating") or 0 for m in msgs) + sum(1 for m in msgs if m.get("rewrite"))


def split_duplicates(conversations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]:
    """(kept, [(duplicate, Reject)]): one conversation per duplicate group, in input order."""
    groups: dict[str, list[int]] = {}
    for i, conv in enumerate(conversations):
        groups.setdefault(duplicate_key(conv), []).append(i)
    keep: set[int] = set()
    dropped: list[tuple[int, Reject]] = []
    for members in groups.values():
        # max() returns the first of equal scores, and members are in input order.
        best = max(members, key=lambda i: feedback_score(conversations[i]))
        keep.add(best)
        kept_id = conversations[best].get("id")
        dropped += [(i, Reject("exact_duplicate", f"duplicate of {kept_id}")) for i in members if i != best]
    kept = [c for i, c in enumerate(conversations) if i in keep]
    return kept, [(conversations[i], r) for i, r in sorted(dropped, key=lambda x: x[0])]
