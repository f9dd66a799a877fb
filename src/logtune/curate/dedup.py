"""Duplicate sessions: the same (or nearly the same) dialogue logged twice is trained on once.

"The same" means the same normalized text of every message (role and content, in order) and the
same normalized CONTEXT. Of a group of duplicates the best-rated one is kept (sum of its replies'
ratings, a rewrite counting as the extra signal it is), ties going to the first one read, so the
choice is deterministic.

Near-duplicates (seed 004: templated sessions that differ in a word or two) are sessions under the
same CONTEXT whose dialogue word 3-gram sets have a Jaccard similarity at or above a threshold. The
CONTEXT must be equal, not similar: two questions about different records of one CONTEXT look alike
as text but teach different answers. MinHash LSH (datasketch, seeded, so deterministic) only proposes
candidates, at a looser threshold so pairs just above the bar are rarely missed; the exact Jaccard of
the shingle sets decides, so no pair below the threshold is ever dropped. Sessions are visited
best-rated first, so the better copy of a near-duplicate pair is kept.
"""

from __future__ import annotations

import re
from typing import Any

from datasketch import MinHash, MinHashLSH

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


_WORD = re.compile(r"\w+")
SHINGLE_WORDS = 3
NUM_PERM = 128
LSH_SLACK = 0.2   # candidates are proposed this far below the threshold (LSH recall is soft near it)


def shingles(conversation: dict[str, Any]) -> set[str]:
    """Word 3-grams of the normalized dialogue, every message in order (a short text is one shingle)."""
    text = " ".join(normalize_text(m.get("content")) for m in conversation.get("messages") or [])
    words = _WORD.findall(text)
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)}
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def split_near_duplicates(conversations: list[dict[str, Any]], threshold: float
                          ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]:
    """(kept, [(near-duplicate, Reject)]), kept in input order; best-rated copies win."""
    sets = [shingles(c) for c in conversations]
    contexts = [normalize_context(c.get("context")) for c in conversations]
    lsh = MinHashLSH(threshold=max(0.05, threshold - LSH_SLACK), num_perm=NUM_PERM)
    keep: set[int] = set()
    dropped: list[tuple[int, Reject]] = []
    for i in sorted(range(len(conversations)), key=lambda i: (-feedback_score(conversations[i]), i)):
        mh = MinHash(num_perm=NUM_PERM, seed=1)
        for shingle in sorted(sets[i]):
            mh.update(shingle.encode("utf-8"))
        scored = [(jaccard(sets[i], sets[j]), -j, j) for j in lsh.query(mh) if contexts[j] == contexts[i]]
        best = max(scored, default=None)
        if best is not None and best[0] >= threshold:
            j = best[2]
            dropped.append((i, Reject("near_duplicate", f"near-duplicate of {conversations[j].get('id')} "
                                                        f"(jaccard {best[0]:.3f})")))
        else:
            lsh.insert(i, mh)
            keep.add(i)
    kept = [c for i, c in enumerate(conversations) if i in keep]
    return kept, [(conversations[i], r) for i, r in sorted(dropped, key=lambda x: x[0])]
