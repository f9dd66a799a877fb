"""Duplicate sessions: the same (or nearly the same) dialogue logged twice is trained on once.

"The same" means the same normalized text of every message (role and content, in order) and the
same normalized CONTEXT. Of a group of duplicates the best-rated one is kept (sum of its replies'
ratings, a rewrite counting as the extra signal it is), ties going to the first one read, so the
choice is deterministic.

Near-duplicates (seed 004: templated sessions that differ in a word or two) are sessions under the
same CONTEXT whose word 3-gram sets (`curate.minhash`: shingles within each message) have a Jaccard
similarity at or above a threshold. The CONTEXT must be equal, not similar: two questions about
different records of one CONTEXT look alike as text but teach different answers. A numpy MinHash
with 16 bands x 8 rows only proposes candidates (it finds 99.99% of pairs at Jaccard 0.9, 95% at
0.8); the exact Jaccard of the shingle sets decides, so no pair below the threshold is ever dropped.
Sessions are visited best-rated first, so the better copy of a near-duplicate pair is kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from logtune import minhash
from logtune.normalize import normalize_context, normalize_text
from logtune.rejects import Reject
from logtune.ids import content_id


def duplicate_key(conversation: dict[str, Any], context: str | None = None, texts: list[str] | None = None) -> str:
    """Content hash of the normalized CONTEXT and every message's role and normalized text.

    `context` and `texts` (the normalized CONTEXT and message texts) may be passed when already known."""
    messages = conversation.get("messages") or []
    parts = [normalize_context(conversation.get("context")) if context is None else context]
    if texts is None:
        texts = [normalize_text(m.get("content")) for m in messages]
    for m, text in zip(messages, texts):
        parts += [m.get("role") or "", text]
    return content_id("duplicate", *parts, length=32)


def feedback_score(conversation: dict[str, Any]) -> int:
    """How much the users liked this copy: sum of ratings, plus one per human rewrite."""
    msgs = conversation.get("messages") or []
    return sum(m.get("rating") or 0 for m in msgs) + sum(1 for m in msgs if m.get("rewrite"))


def split_duplicates(conversations: list[dict[str, Any]], contexts: list[str] | None = None,
                     texts: list[list[str]] | None = None) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]:
    """(kept, [(duplicate, Reject)]): one conversation per duplicate group, in input order.

    `contexts` / `texts`: each conversation's normalized CONTEXT / message texts, when already known."""
    groups: dict[str, list[int]] = {}
    for i, conv in enumerate(conversations):
        key = duplicate_key(conv, contexts[i] if contexts else None, texts[i] if texts else None)
        groups.setdefault(key, []).append(i)
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


def context_salt(normalized_context: str) -> int:
    """64-bit key of a normalized CONTEXT: documents under different CONTEXTs never share an LSH bucket."""
    return int.from_bytes(hashlib.blake2b(normalized_context.encode("utf-8"), digest_size=8).digest(), "little")


def dialogue_shingles(conversations: list[dict[str, Any]], texts: list[list[str]] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes, offsets) of each conversation's normalized messages (word 3-grams per message)."""
    if texts is None:
        texts = [[normalize_text(m.get("content")) for m in c.get("messages") or []] for c in conversations]
    flat: list[str] = []
    groups = [0]
    for conversation_texts in texts:
        flat += conversation_texts
        groups.append(len(flat))
    hashes, msg_offsets = minhash.message_shingles(flat)
    return minhash.group_shingles(hashes, msg_offsets, np.array(groups, dtype=np.int64))


def split_near_duplicates(conversations: list[dict[str, Any]], threshold: float, contexts: list[str] | None = None,
                          texts: list[list[str]] | None = None
                          ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]:
    """(kept, [(near-duplicate, Reject)]), kept in input order; best-rated copies win.

    Conversations are visited best-rated first (ties: input order); each is dropped when a kept one
    under the same CONTEXT shares an LSH band with it and its exact shingle Jaccard is >= threshold
    (the most similar such one is named), else kept and added to the buckets. Bands and rows come
    from the threshold (`minhash.bands_for`); a candidate whose signature agreement is far below the
    threshold (`minhash.ESTIMATE_SLACK`) is not verified, to spare the exact Jaccard.
    `contexts` / `texts`: each conversation's normalized CONTEXT / message texts, when already known.
    """
    n = len(conversations)
    if n == 0:
        return [], []
    hashes, offsets = dialogue_shingles(conversations, texts)
    if contexts is None:
        contexts = [normalize_context(c.get("context")) for c in conversations]
    salts = np.array([context_salt(ctx) for ctx in contexts], dtype=np.uint64)
    sigs = minhash.signatures(hashes, offsets)
    bands, rows = minhash.bands_for(threshold)
    keys = minhash.band_keys(sigs[:, :bands * rows], bands, salt=salts).tolist()
    unique: dict[int, np.ndarray] = {}

    def shingle_set(i: int) -> np.ndarray:
        if i not in unique:
            unique[i] = np.unique(hashes[offsets[i]:offsets[i + 1]])
        return unique[i]

    buckets: dict[int, list[int]] = {}
    keep: set[int] = set()
    dropped: list[tuple[int, Reject]] = []
    floor = threshold - minhash.ESTIMATE_SLACK
    for i in sorted(range(n), key=lambda i: (-feedback_score(conversations[i]), i)):
        candidates = {j for k in keys[i] for j in buckets.get(k, ())}
        best = None
        if candidates:
            cand = np.array(sorted(candidates))
            estimates = (sigs[cand] == sigs[i]).mean(axis=1)
            for j in cand[estimates >= floor].tolist():
                if contexts[j] != contexts[i]:
                    continue
                a, b = shingle_set(i), shingle_set(j)
                inter = len(np.intersect1d(a, b, assume_unique=True))
                score = inter / (len(a) + len(b) - inter)
                if score >= threshold and (best is None or score > best[0]):
                    best = (score, j)
        if best is not None:
            dropped.append((i, Reject("near_duplicate", f"near-duplicate of {conversations[best[1]].get('id')} "
                                                        f"(jaccard {best[0]:.3f})")))
            unique.pop(i, None)
            continue
        keep.add(i)
        for k in keys[i]:
            buckets.setdefault(k, []).append(i)
    kept = [c for i, c in enumerate(conversations) if i in keep]
    return kept, [(conversations[i], r) for i, r in sorted(dropped, key=lambda x: x[0])]
