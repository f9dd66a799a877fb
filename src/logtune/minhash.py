"""Word 3-gram shingles and MinHash signatures for many texts at once, vectorised with numpy.

Near-duplicate search (curate's `dedup`) and the benchmark use it; it replaces per-shingle Python
hashing (datasketch's `MinHash.update`) by array arithmetic over every shingle of a batch of texts:
- a word hashes to crc32 + 1 (cached; 0 is the padding word), so hashes are the same in every run
  and process (Python's `hash` is salted per process);
- a shingle is three consecutive words of ONE message (a message of 1-2 words is one padded
  shingle; shingles never span two messages), hashed to 64 bits by mixing the three word hashes;
- signature row k of a document is min over its shingles of (a_k * x + b_k) mod 2^32, x the low 32
  bits of the (well mixed) shingle hash, a_k odd, a_k and b_k seeded random: a random-looking order
  of the shingles per row in uint32 arithmetic, half the memory traffic of 64-bit (measured on
  synthetic pairs: Jaccard estimates unbiased within 0.003, deviation as 64-bit multiply-shift);
- LSH bands: b bands of r rows share a band with probability 1 - (1 - s^r)^b at Jaccard s.
  `bands_for(threshold)` picks the most rows that still catch 99% of pairs AT the threshold (at 0.9:
  12 x 10, 0.994 at s=0.9, 1.0000 at 0.95, 0.012 at 0.5), since templated logs have many pairs at
  Jaccard 0.5-0.8 and each false candidate costs an exact check. (16 x 8 proposes 6% of s=0.5 pairs.)
MinHash only proposes candidates; callers decide on the exact Jaccard of the shingle hash sets
(`jaccard`), so a pair below the threshold is never called a duplicate.
"""

from __future__ import annotations

import re
import zlib
from typing import Sequence

import numpy as np

NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SEED = 1
SHINGLE_WORDS = 3
EMPTY_SHINGLE = np.uint64(0x9E3779B97F4A7C15)  # the one shingle of a document with no words at all

MIN_BAND_RECALL = 0.99   # `bands_for`: chance that a pair exactly at the threshold becomes a candidate
# A candidate whose signatures agree on fewer than threshold - this share of rows is not verified: the
# agreement estimates Jaccard with standard deviation sqrt(J(1-J)/128) = 0.027 at J=0.9 (0.035 at
# J=0.8), so a pair at the threshold falls below it with a chance under 1e-3.
ESTIMATE_SLACK = 0.1

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|\n")
_K = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_word_cache: dict[str, int] = {}


def _word_hashes(tokens: list[str]) -> list[int]:
    """crc32 + 1 of each word ("\n", the message separator, is 0), through a cache of known words."""
    cache = _word_cache
    if len(cache) > 2_000_000:   # bound memory on huge vocabularies (the hashes do not change)
        cache.clear()
    cache["\n"] = 0
    get = cache.get
    out = [get(w) for w in tokens]
    if None in out:   # new words: hash each once, then look the batch up again
        for w in set(tokens).difference(cache):
            cache[w] = zlib.crc32(w.encode("utf-8")) + 1
        out = [cache[w] for w in tokens]
    return out


def _crc_table() -> np.ndarray:
    # the byte table of zlib's crc32 (reflected polynomial 0xEDB88320)
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & np.uint32(1), (crc >> np.uint32(1)) ^ np.uint32(0xEDB88320), crc >> np.uint32(1))
    return crc.astype(np.uint32)


_CRC_TABLE = _crc_table()
_WORD_BYTE = np.zeros(256, dtype=bool)   # what `\w` matches in ASCII text: [0-9A-Za-z_]
for _c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_":
    _WORD_BYTE[_c] = True


def _ascii_token_hashes(joined: str) -> np.ndarray:
    """`_word_hashes(_TOKEN.findall(joined))` for ASCII text, without a Python object per word.

    Words are the runs of word bytes of the encoded text; each one's crc32 is computed for all words
    at once, one byte position at a time (words sorted longest first, so the words still running at
    position j are a prefix), with zlib's table: the same value as `zlib.crc32`, then + 1.
    """
    buf = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    is_word = np.zeros(len(buf) + 2, dtype=np.int8)
    is_word[1:-1] = _WORD_BYTE[buf]
    edges = np.flatnonzero(np.diff(is_word))
    starts, ends = edges[0::2], edges[1::2]
    lengths = ends - starts
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    if len(starts):
        longest = int(lengths.max())
        # longest first; as 16-bit keys numpy's stable sort is a radix sort (4x faster than int64)
        order = np.argsort((longest - lengths).astype(np.uint16 if longest < 1 << 16 else np.int64), kind="stable")
        s = starts[order]
        # running[j] = how many words are longer than j bytes
        running = len(starts) - np.cumsum(np.bincount(lengths, minlength=longest + 1))
        table, mask, eight = _CRC_TABLE, np.uint32(0xFF), np.uint32(8)
        for j in range(longest):
            k = int(running[j])
            c = crc[:k]
            b = buf[s[:k] + j]
            c[:] = table[(c ^ b) & mask] ^ (c >> eight)
        out = np.empty(len(starts), dtype=np.uint64)
        out[order] = (crc ^ np.uint32(0xFFFFFFFF)).astype(np.uint64) + np.uint64(1)
    else:
        out = np.zeros(0, dtype=np.uint64)
    # the "\n" tokens (hash 0) go between the words, in text order
    newlines = np.flatnonzero(buf == 10)
    return np.insert(out, np.searchsorted(starts, newlines), np.uint64(0))


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: spreads the combined word hashes over all 64 bits
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def message_shingles(texts: Sequence[str | None], batch: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes uint64, offsets): message i's shingles are hashes[offsets[i]:offsets[i+1]].

    Texts should already be normalized (`curate.normalize.normalize_text`); a text without words has
    no shingles. Works through `batch` texts at a time: the word tokens of a whole batch are Python
    objects (~90 bytes a word), so a million messages at once would hold ~1 GB of them.
    """
    if len(texts) <= batch:
        return _message_shingles(texts)
    parts = [_message_shingles(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for hashes, part_offsets in parts:
        offsets.append(part_offsets[1:] + base)
        base += len(hashes)
    return np.concatenate([h for h, _ in parts]), np.concatenate(offsets)


def _message_shingles(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    if not texts:
        return np.zeros(0, dtype=np.uint64), np.zeros(1, dtype=np.int64)
    # One regex pass and one hash-lookup pass over the whole batch: each message ends in "\n" (a
    # normalized text has no newline of its own; any other is made a space), the token that splits them.
    joined = "\n".join(t or "" for t in texts) + "\n"
    if joined.count("\n") != len(texts):
        joined = "\n".join((t or "").replace("\n", " ") for t in texts) + "\n"
    if joined.isascii():   # the common case: word hashes straight from the bytes (same values)
        words = _ascii_token_hashes(joined)
    else:
        words = np.array(_word_hashes(_TOKEN.findall(joined)), dtype=np.uint64)
    ends = np.flatnonzero(words == 0)                       # one per message, in order
    n_words = np.diff(np.concatenate([[-1], ends])) - 1
    words = np.insert(words, ends + 1, np.uint64(0))       # every message now ends in two padding words
    starts = np.concatenate([[0], ends[:-1] + 1]) + np.arange(len(texts))
    counts = np.where(n_words > 0, np.maximum(1, n_words - SHINGLE_WORDS + 1), 0)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return np.zeros(0, dtype=np.uint64), offsets
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], counts) + np.repeat(starts, counts)
    mixed = words[pos] * _K[0] + words[pos + 1] * _K[1] + words[pos + 2] * _K[2]
    return _mix(mixed), offsets


def group_shingles(hashes: np.ndarray, offsets: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regroup message shingles into documents: `groups` are message offsets (document d = messages
    groups[d]:groups[d+1]). A document without shingles gets the one EMPTY_SHINGLE."""
    bounds = offsets[groups]
    counts = np.diff(bounds)
    empty = np.flatnonzero(counts == 0)
    if len(empty) == 0:
        return hashes[bounds[0]:bounds[-1]], bounds - bounds[0]
    # insert one EMPTY_SHINGLE at the start of each empty document's (empty) range
    out = np.insert(hashes[bounds[0]:bounds[-1]], bounds[empty] - bounds[0], EMPTY_SHINGLE)
    counts = counts.copy()
    counts[empty] = 1
    new_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    return out, new_offsets


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = NUM_PERM, seed: int = SEED,
               chunk_shingles: int = 1 << 13) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) of documents hashes[offsets[d]:offsets[d+1]].

    Every document must have at least one shingle (see `group_shingles`). Work goes in chunks of
    whole documents of about `chunk_shingles` shingles: at 8192 x 128 x 4 bytes the work stays in
    cache (measured 6x faster than chunks of 131072).
    """
    n_docs = len(offsets) - 1
    out = np.empty((n_docs, num_perm), dtype=np.uint32)
    if n_docs == 0:
        return out
    a, b = _permutations(num_perm, seed)
    x = hashes.astype(np.uint32)   # the low 32 bits of the mixed 64-bit shingle hash
    doc = 0
    while doc < n_docs:
        end = int(np.searchsorted(offsets, offsets[doc] + chunk_shingles, side="right")) - 1
        end = min(max(end, doc + 1), n_docs)
        lo, hi = int(offsets[doc]), int(offsets[end])
        # permutations x shingles: each row's reduceat then runs over contiguous memory (6x faster)
        h = np.multiply.outer(a, x[lo:hi])
        h += b[:, None]
        out[doc:end] = np.minimum.reduceat(h, offsets[doc:end] - lo, axis=1).T
        doc = end
    return out


def band_keys(sigs: np.ndarray, bands: int = BANDS, salt: np.ndarray | None = None) -> np.ndarray:
    """One uint64 key per document and band (n_docs x bands); equal keys = same band values.

    `salt` (one uint64 per document) is mixed into every key, so documents with different salts
    (e.g. different CONTEXT) never share a bucket.
    """
    n, perms = sigs.shape
    rows = perms // bands
    rng = np.random.default_rng(SEED + 1)
    weights = rng.integers(1, 1 << 63, size=rows, dtype=np.uint64) | np.uint64(1)
    s = sigs.reshape(n, bands, rows)
    # one multiply-add per row over all documents and bands (a sum over the short last axis is 30x slower)
    acc = np.arange(bands, dtype=np.uint64) + np.zeros((n, 1), dtype=np.uint64)
    for r in range(rows):
        acc += s[:, :, r].astype(np.uint64) * weights[r]
    keys = _mix(acc)
    if salt is not None:
        keys = _mix(keys ^ salt[:, None])
    return keys


def candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """Every pair (i < j) of documents sharing a band key (keys: n_docs x bands), as an m x 2 array,
    each pair once, sorted. All-pairs search; curate's greedy de-duplication uses buckets instead."""
    n, bands = keys.shape
    codes = []
    for band in range(bands):
        order = np.argsort(keys[:, band], kind="stable")
        col = keys[order, band]
        # the d-th neighbour in sorted order is in the same bucket while the keys are equal
        d = 1
        while d < n:
            same = np.flatnonzero(col[d:] == col[:-d])
            if len(same) == 0:
                break
            a, b = order[same], order[same + d]
            codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
            d += 1
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(codes))
    return np.stack([unique // n, unique % n], axis=1)


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Chance that two documents of Jaccard `s` share at least one of `bands` bands of `rows` rows."""
    return 1 - (1 - s ** rows) ** bands


def bands_for(threshold: float, num_perm: int = NUM_PERM, min_recall: float = MIN_BAND_RECALL) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) that still propose a pair of
    Jaccard exactly `threshold` with probability >= min_recall (pairs above it: more). 0.9 -> 12 x 10,
    0.8 -> 21 x 6, 0.7 -> 32 x 4; uses bands x rows <= num_perm of the signature."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= min_recall:
            return bands, rows
    return num_perm, 1


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two shingle hash arrays (duplicates within an array count once)."""
    a, b = np.unique(a), np.unique(b)
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0
