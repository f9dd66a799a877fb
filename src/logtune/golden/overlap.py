"""Keeping the golden set out of training: what a golden case looks like once normalized.

Two granularities. Curate drops a whole conversation whose user turns and CONTEXT equal a golden
case's (`golden_overlap`); build drops a single reply whose CONTEXT and final user turn equal a golden
case's final turn (a golden question asked inside a longer session). Both compare normalized text
(`logtune.normalize`), so case and spacing do not hide a leak.

Near overlap (`golden_near_overlaps`): a session with a user turn whose word 3-gram set
(`curate.minhash` shingles) has Jaccard >= a threshold with a golden case's final user turn, under
any CONTEXT (a reworded golden question is a leak whatever records sit beside it). The golden set
is small, so this is exact, not MinHash: every user turn's shingles are looked up in the golden
shingles at once (numpy `isin`), and only turns sharing one are scored. Turns of fewer than
`NEAR_MIN_WORDS` words are left to the exact check: "who owns it?" is in many sessions and in a
golden follow-up, and is no leak without its CONTEXT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from logtune import minhash
from logtune.golden.contract import read_cases
from logtune.normalize import normalize_context, normalize_text
from logtune.rejects import Reject

ConversationKey = tuple[str, tuple[str, ...]]
TurnKey = tuple[str, str]


def load_golden(path: str | Path) -> list[dict[str, Any]]:
    """The golden cases (golden/golden.jsonl, `contract.read_cases`); a case without user turns is an error."""
    cases = read_cases(path)
    for case in cases:
        if not any(m.get("role") == "user" for m in case.get("messages") or []):
            raise ValueError(f"{path}: golden case {case.get('id')!r} has no user turn")
    return cases


def _user_texts(messages: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(normalize_text(m.get("content")) for m in messages if m.get("role") == "user")


def conversation_key(context: Any, messages: list[dict[str, Any]]) -> ConversationKey:
    """(normalized CONTEXT, normalized user turns in order): what a golden case fixes of a session."""
    return normalize_context(context), _user_texts(messages)


def turn_key(context: Any, user_text: str | None) -> TurnKey:
    """(normalized CONTEXT, normalized user turn): one question asked against one CONTEXT."""
    return normalize_context(context), normalize_text(user_text)


def golden_conversation_keys(cases: list[dict[str, Any]]) -> dict[ConversationKey, str]:
    """conversation_key -> golden case id, for every case."""
    return {conversation_key(c.get("context"), c["messages"]): c["id"] for c in cases}


def golden_turn_keys(cases: list[dict[str, Any]]) -> dict[TurnKey, str]:
    """turn_key of each case's final user turn -> golden case id."""
    keys = {}
    for c in cases:
        last_user = [m for m in c["messages"] if m.get("role") == "user"][-1]
        keys[turn_key(c.get("context"), last_user.get("content"))] = c["id"]
    return keys


def golden_overlap(conversation: dict[str, Any], golden_keys: dict[ConversationKey, str]) -> Reject | None:
    """Reject a session that replays a golden case (same CONTEXT, same user turns)."""
    key = conversation_key(conversation.get("context"), conversation.get("messages") or [])
    case_id = golden_keys.get(key)
    if case_id is not None:
        return Reject("golden_overlap", f"same user turns and CONTEXT as golden case {case_id}")
    return None


NEAR_MIN_WORDS = 5


def _shingle_sets(texts: list[str]) -> list[np.ndarray]:
    hashes, offsets = minhash.message_shingles(texts)
    return [np.unique(hashes[offsets[i]:offsets[i + 1]]) for i in range(len(texts))]


def _near_matches(hashes: np.ndarray, offsets: np.ndarray, probes: list[int], targets: list[np.ndarray],
                  threshold: float) -> dict[int, tuple[float, int]]:
    """{probe: (best Jaccard, target index)} for probes (documents hashes[offsets[p]:offsets[p+1]]) whose
    Jaccard with some target is >= threshold.

    One vectorised pass bounds every probe's Jaccard from above by (its shingles found in any target)
    / (its shingles); probes whose bound reaches the threshold get MinHash signatures, compared with
    every target's at once; only (probe, target) pairs whose signatures agree on at least
    threshold - ESTIMATE_SLACK of their rows are scored exactly."""
    if not targets or not probes or len(hashes) == 0:
        return {}
    vocabulary = np.unique(np.concatenate(targets))
    hits = np.concatenate([[0], np.cumsum(np.isin(hashes, vocabulary))])
    probes_arr = np.array(probes, dtype=np.int64)
    lo, hi = offsets[probes_arr], offsets[probes_arr + 1]
    sizes = hi - lo
    bound = np.where(sizes > 0, (hits[hi] - hits[lo]) / np.maximum(sizes, 1), 0.0)
    passed = probes_arr[bound >= threshold - 1e-9]
    if len(passed) == 0:
        return {}
    # MinHash agreement with every target, vectorised, before any exact Jaccard
    pieces = [hashes[offsets[p]:offsets[p + 1]] for p in passed.tolist()]
    piece_offsets = np.concatenate([[0], np.cumsum([len(x) for x in pieces])])
    probe_sigs = minhash.signatures(np.concatenate(pieces), piece_offsets)
    target_offsets = np.concatenate([[0], np.cumsum([len(t) for t in targets])])
    target_sigs = minhash.signatures(np.concatenate(targets), target_offsets)
    out: dict[int, tuple[float, int]] = {}
    floor = threshold - minhash.ESTIMATE_SLACK
    for lo in range(0, len(passed), 1024):
        agree = (probe_sigs[lo:lo + 1024, None, :] == target_sigs[None, :, :]).mean(axis=2)
        for row, g in zip(*np.nonzero(agree >= floor)):
            p = int(passed[lo + row])
            score = minhash.jaccard(pieces[lo + row], targets[g])
            if score >= threshold and (p not in out or score > out[p][0]):
                out[p] = (score, int(g))
    return out


def golden_near_overlaps(conversations: list[dict[str, Any]], cases: list[dict[str, Any]], threshold: float,
                         texts: list[list[str]] | None = None) -> dict[int, Reject]:
    """{index of conversation: Reject("golden_near_overlap")} for sessions near a golden case.

    A single-turn case is near a session when one of the session's user turns (of at least
    NEAR_MIN_WORDS words) is near its question; a multi-turn case, whose later turns lean on the
    earlier ones ("when is it due?"), when the session's user turns together are near its user turns
    together (shingles of each turn, pooled). `texts`: each conversation's normalized message texts,
    when already known.
    """
    return {ci: Reject("golden_near_overlap", f"user turns near golden case {case_id} (jaccard {score:.3f})")
            for ci, (score, case_id) in golden_near_matches(conversations, cases, threshold, texts).items()}


def near_text_matches(texts: list[str], targets: list[str], threshold: float) -> dict[int, tuple[float, int]]:
    """{index of text: (best word 3-gram Jaccard, index of target)} for texts near one of `targets`.

    Both sides are normalized here (`normalize_text`); texts and targets of fewer than NEAR_MIN_WORDS
    words are left out (too short for their shingles to mean anything). Used by validate to find a
    golden reply (an assistant turn of a golden case) among training replies.
    """
    norm_targets = [normalize_text(t) for t in targets]
    keep = [i for i, t in enumerate(norm_targets) if len(t.split()) >= NEAR_MIN_WORDS]
    if not texts or not keep:
        return {}
    target_sets = _shingle_sets([norm_targets[i] for i in keep])
    norm = [normalize_text(t) for t in texts]
    hashes, offsets = minhash.message_shingles(norm)
    probes = [i for i, t in enumerate(norm) if len(t.split()) >= NEAR_MIN_WORDS]
    return {i: (score, keep[g]) for i, (score, g) in _near_matches(hashes, offsets, probes, target_sets,
                                                                    threshold).items()}


def golden_near_matches(conversations: list[dict[str, Any]], cases: list[dict[str, Any]], threshold: float,
                        texts: list[list[str]] | None = None) -> dict[int, tuple[float, str]]:
    """{index of conversation: (Jaccard, golden case id)}: what `golden_near_overlaps` rejects, as data."""
    singles, multis = [], []
    for c in cases:
        users = [normalize_text(m.get("content")) for m in c["messages"] if m.get("role") == "user"]
        if len(users) > 1:
            multis.append((c["id"], users))
        elif len(users[0].split()) >= NEAR_MIN_WORDS:
            singles.append((c["id"], users[0]))
    if not conversations or not (singles or multis):
        return {}
    single_sets = _shingle_sets([text for _, text in singles])
    multi_sets = [np.unique(np.concatenate(_shingle_sets(users))) for _, users in multis]

    turn_texts: list[str] = []
    turn_owner: list[int] = []
    session_turns = np.zeros(len(conversations) + 1, dtype=np.int64)
    for ci, conv in enumerate(conversations):
        messages = conv.get("messages") or []
        normalized = texts[ci] if texts is not None else [normalize_text(m.get("content")) for m in messages]
        users = [t for m, t in zip(messages, normalized) if m.get("role") == "user"]
        turn_texts += users
        turn_owner += [ci] * len(users)
        session_turns[ci + 1] = len(turn_texts)
    hashes, offsets = minhash.message_shingles(turn_texts)
    found: dict[int, tuple[float, str]] = {}
    if singles:
        long_turns = [t for t, text in enumerate(turn_texts) if text.count(" ") + 1 >= NEAR_MIN_WORDS]
        for t, (score, g) in _near_matches(hashes, offsets, long_turns, single_sets, threshold).items():
            ci = turn_owner[t]
            if ci not in found or score > found[ci][0]:
                found[ci] = (score, singles[g][0])
    if multis:
        # a session's user turns are consecutive, so its pooled shingles are one slice
        pooled_offsets = offsets[session_turns]
        for ci, (score, g) in _near_matches(hashes, pooled_offsets, list(range(len(conversations))), multi_sets,
                                            threshold).items():
            if ci not in found or score > found[ci][0]:
                found[ci] = (score, multis[g][0])
    return found
