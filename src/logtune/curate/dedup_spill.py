"""Exact and near duplicates of one CONTEXT group too large for memory (issue 19): the decisions of
`dedup.split_duplicates` then `dedup.split_near_duplicates` on the group, with the rows, signatures and
LSH band buckets on disk.

`curate_files` sends a CONTEXT group of more than `runtime.spill_rows` survivors here (real exports without
a CONTEXT are one such group: the whole input); smaller groups keep the in-memory code. Same kept copies,
rejects (reason and text), merged feedback and counts, because each step replays the in-memory rule:

1. Exact: rows sorted on disk by (duplicate key, input position) (`logtune.spill.SortedSpill`); each key's
   run keeps its first best-rated copy, which takes the run's feedback (`feedback.merge_into`). Memory: one
   run of exact copies of one dialogue.
2. Sketch: the exact survivors, in input order (position `pos`), in batches of `runtime.batch_rows` on the
   engine's workers (`engine.map_tasks`: forked processes, or one Ray task per batch, its texts handed over):
   shingles, MinHash signature, band keys salted with the CONTEXT key, as `split_near_duplicates` computes them. Each
   session's visit rank (best-rated first, ties by position) comes from a histogram of the scores
   (O(distinct scores)). Signatures (512 B) and unique shingles are written to files by rank; band rows
   (band key, rank) to hash partitions of the band key.
3. Band-bucket shuffle: each partition sorted by (band key, rank); a bucket of at most `BUCKET_MAX`
   sessions gives its candidate pairs (earlier rank, later rank); a larger ("giant") bucket gives its
   members instead (below). With `runtime.engine: ray` this step is a Ray Data `groupby(part).map_groups`
   over the band rows (`_ray_bucket_pairs`), the same pairs. Pairs go to files by range of the later rank.
4. Greedy, in visit order: a session is dropped when a KEPT earlier candidate's signature agreement is
   >= threshold - `minhash.ESTIMATE_SLACK` and exact shingle Jaccard >= threshold (named: the most
   similar, ties the first in input order), as in memory. Candidates that were themselves dropped are
   never compared (A~B~C with B dropped: C is compared with A only). Held in memory: one byte per
   session ("still kept", indexed by rank), the pairs of one rank range, and for each giant bucket the
   ranks of its kept members so far (what the in-memory buckets hold; 8 bytes each).
5. Join: dropped sessions sorted on disk by (kept position, rank); one more pass in input order gives
   each kept session its near-duplicates' feedback (in visit order) and writes their rejects.

Time: the in-memory work plus on-disk sorts of the rows (by duplicate key, by position) and three reads of
them (measured 1.6x curate's CPU on 300k- and 1M-message logs without CONTEXTs, benchmarks/README.md). Files: one
open file per shuffle partition and per rank range (about sessions x bands / PART_ROWS and sessions /
RANGE_SESSIONS).

Giant buckets (many sessions sharing one band value, e.g. a templated exchange logged 100,000 times with a
word changed): all pairs of a bucket of k would be k(k-1)/2 on disk and as many checks, where the
in-memory code compares each session only with the bucket's kept members. So a bucket of more than
`BUCKET_MAX` sessions is not expanded into pairs: the greedy pass keeps its kept members and compares each
later member with them, the in-memory cost and memory (8 bytes a kept member) for those buckets only.

Not done out of core: the CONTEXT equality test of `split_near_duplicates` (one group shares one 64-bit
CONTEXT key; two CONTEXTs with the same key, chance ~ n^2 / 2^64, would be treated as one here).
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa

from logtune import feedback, minhash, records
from logtune.curate.dedup import context_salt, dialogue_shingles, duplicate_key, feedback_score
from logtune.engine import RuntimeParams, map_tasks, ray_connect
from logtune.normalize import normalize_context, normalize_text
from logtune.rejects import Reject
from logtune.spill import SortedSpill

SEQ = "_seq"   # a row's input position in the stage (curate's working column)
_KEY, _SCORE, _XPOS, _YRANK, _JACCARD = "_dupkey", "_score", "_xpos", "_yrank", "_jaccard"
WORKING = (_KEY, _SCORE, _XPOS, _YRANK, _JACCARD)

BUCKET_MAX = 64           # a band bucket of more sessions is "giant": compared with its kept members, not paired
PART_ROWS = 1 << 21       # band rows per shuffle partition, sorted in memory at once (16 B each: 32 MB)
RANGE_SESSIONS = 1 << 14  # sessions per rank (or position) range of the pair and drop files: at most
                          #   RANGE_SESSIONS x bands x (BUCKET_MAX - 1) pairs in memory (24 B each; typically ~0)

PAIR = np.dtype([("y", "<i8"), ("x", "<i8"), ("g", "<u8")])   # x = -1: y is a member of giant bucket g
DROP = np.dtype([("ypos", "<i8"), ("xpos", "<i8"), ("yrank", "<i8"), ("jaccard", "<f8")])
INDEX = np.dtype([("offset", "<i8"), ("count", "<i8"), ("pos", "<i8")])   # a session's shingles and position


def bucket_pairs(keys: np.ndarray, ranks: np.ndarray, bucket_max: int | None = None) -> np.ndarray:
    """PAIR rows of band rows (keys, ranks): every pair (x < y) of ranks sharing a key, for buckets of at most
    `bucket_max` (None: BUCKET_MAX) sessions; one membership row (y, -1, key) per session of a larger bucket.
    Any input order."""
    bucket_max = BUCKET_MAX if bucket_max is None else bucket_max
    order = np.lexsort((ranks, keys))
    keys, ranks = keys[order], ranks[order]
    n = len(keys)
    if n == 0:
        return np.zeros(0, PAIR)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [n]]))
    giant = np.repeat(sizes > bucket_max, sizes)
    out = [np.zeros(int(giant.sum()), PAIR)]
    out[0]["y"], out[0]["x"], out[0]["g"] = ranks[giant], -1, keys[giant]
    k, r = keys[~giant], ranks[~giant]
    d = 1
    while d < len(k):
        # the d-th neighbour within a bucket (sorted by rank): an earlier rank, the same key
        same = np.flatnonzero(k[d:] == k[:-d])
        if len(same) == 0:
            break
        x, y = r[same], r[same + d]
        keep = x < y   # one session twice in a bucket (two of its bands with one key) pairs with nobody
        pairs = np.zeros(int(keep.sum()), PAIR)
        pairs["y"], pairs["x"] = y[keep], x[keep]
        out.append(pairs)
        d += 1
    return np.concatenate(out)


def _ray_bucket_pairs(batch: dict[str, np.ndarray], bucket_max: int) -> dict[str, np.ndarray]:
    """Ray Data `map_groups` over one shuffle partition of band rows: `bucket_pairs` of its rows."""
    pairs = bucket_pairs(batch["key"].astype(np.uint64), batch["rank"].astype(np.int64), bucket_max)
    return {"y": pairs["y"], "x": pairs["x"], "g": pairs["g"]}


def sketch_batch(items: list[tuple[int, list[str | None], str | None]], state: dict[str, Any]) -> dict[str, Any]:
    """Signatures, band keys and unique shingles of (rank, message contents, CONTEXT) items, as
    `split_near_duplicates` computes them. Runs in the stage's process or a worker."""
    bands, rows = state["bands"], state["rows"]
    texts = [[normalize_text(c) for c in contents] for _, contents, _ in items]
    hashes, offsets = dialogue_shingles([{}] * len(items), texts)
    sigs = minhash.signatures(hashes, offsets)
    salts = np.array([context_salt(normalize_context(ctx)) for _, _, ctx in items], dtype=np.uint64)
    keys = minhash.band_keys(sigs[:, :bands * rows], bands, salt=salts)
    unique = [np.unique(hashes[offsets[i]:offsets[i + 1]]) for i in range(len(items))]
    return {"ranks": np.array([rank for rank, _, _ in items], dtype=np.int64), "sigs": sigs, "keys": keys,
            "shingles": unique}


class _Store:
    """Fixed-size records in one file, read and written at any index (pread/pwrite: no mapping, so the
    pages are the OS cache's, not this process's)."""

    def __init__(self, path: Path, itemsize: int):
        self.fd, self.itemsize = os.open(path, os.O_RDWR | os.O_CREAT, 0o600), itemsize

    def write(self, index: int, data: bytes) -> None:
        os.pwrite(self.fd, data, index * self.itemsize)

    def read(self, index: int, count: int = 1) -> bytes:
        return os.pread(self.fd, count * self.itemsize, index * self.itemsize)

    def close(self) -> None:
        os.close(self.fd)


class _Partitions:
    """Numpy records appended to `n` files by partition number, read back one partition at a time."""

    def __init__(self, folder: Path, n: int, dtype: np.dtype):
        folder.mkdir()
        self.paths = [folder / f"{i:05d}.bin" for i in range(n)]
        self.files = [open(p, "ab") for p in self.paths]
        self.dtype = dtype

    def add(self, part: np.ndarray, rows: np.ndarray) -> None:
        order = np.argsort(part, kind="stable")
        part, rows = part[order], rows[order]
        bounds = np.flatnonzero(np.diff(part)) + 1
        for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(rows)]])):
            if hi > lo:
                rows[lo:hi].tofile(self.files[int(part[lo])])

    def read(self, i: int) -> np.ndarray:
        self.files[i].flush()
        return np.fromfile(self.paths[i], dtype=self.dtype)

    def close(self) -> None:
        for f in self.files:
            f.close()


def _strip(row: dict[str, Any]) -> dict[str, Any]:
    for k in WORKING:
        row.pop(k, None)
    return row


def _chunks(kept: list, rejects: list, chunk_rows: int, final: bool = False) -> Iterator[tuple[list, list]]:
    if final or len(kept) + len(rejects) >= chunk_rows:
        if kept or rejects:
            yield list(kept), list(rejects)
        kept.clear()
        rejects.clear()


def dedup_spilled(rows: Iterable[dict[str, Any]], threshold: float | None, merged: dict[str, int],
                  runtime: RuntimeParams, tmp_dir: str | Path | None = None, chunk_rows: int = 20_000
                  ) -> Iterator[tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]]:
    """(kept, [(duplicate, Reject)]) in pieces of about `chunk_rows`: `dedup.split_duplicates`, then (with a
    `threshold`) `dedup.split_near_duplicates` over `rows` (one CONTEXT group, in input order, each with SEQ),
    in bounded memory (the module docstring). `merged` gains the merged feedback as there."""
    tmp = Path(tempfile.mkdtemp(prefix="logtune-dedup-", dir=tmp_dir))
    common = dict(run_rows=runtime.spill_rows, tmp_dir=tmp)
    seq = pa.field(SEQ, pa.int64())
    spills: list[SortedSpill] = []
    try:
        by_key = SortedSpill(None, records.CONVERSATION, lambda r: (r[_KEY], r[SEQ]),
                             extra=(seq, pa.field(_KEY, pa.string())), **common)
        spills.append(by_key)
        for row in rows:
            texts = [normalize_text(m.get("content")) for m in row.get("messages") or []]
            row[_KEY] = duplicate_key(row, normalize_context(row.get("context")), texts)
            by_key.add(row)
        near = None
        if threshold is not None:
            near = SortedSpill(None, records.CONVERSATION, lambda r: r[SEQ],
                               extra=(seq, pa.field(_SCORE, pa.int64())), **common)
            spills.append(near)
        scores: Counter = Counter()
        kept: list[dict[str, Any]] = []
        rejects: list[tuple[dict[str, Any], Reject]] = []
        for _, run in itertools.groupby(by_key.merged(), key=lambda r: r[_KEY]):
            run = [_strip(r) for r in run]      # in input order; max() takes the first best
            best = max(run, key=feedback_score)
            others = [r for r in run if r is not best]
            survivor = feedback.merge_into(best, others, merged)
            rejects += [(r, Reject("exact_duplicate", f"duplicate of {best.get('id')}")) for r in others]
            if near is None:
                kept.append(survivor)
            else:
                score = feedback_score(survivor)
                scores[score] += 1
                near.add({**survivor, _SCORE: score})
            yield from _chunks(kept, rejects, chunk_rows)
        by_key.close()
        yield from _chunks(kept, rejects, chunk_rows, final=True)
        if near is not None:
            yield from _near(near, scores, threshold, merged, runtime, tmp, common, chunk_rows)
    finally:
        for spill in spills:
            spill.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _near(near: SortedSpill, scores: Counter, threshold: float, merged: dict[str, int], runtime: RuntimeParams,
          tmp: Path, common: dict[str, Any], chunk_rows: int
          ) -> Iterator[tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Reject]]]]:
    n = sum(scores.values())
    if n == 0:
        return
    bands, rows = minhash.bands_for(threshold)
    # visit rank: best-rated first, ties in input order; rank = sessions of higher score + same score seen before
    base, below = {}, 0
    for s in sorted(scores, reverse=True):
        base[s], below = below, below + scores[s]
    n_parts = max(1, math.ceil(n * bands / PART_ROWS))
    n_ranges = max(1, math.ceil(n / RANGE_SESSIONS))
    span = math.ceil(n / n_ranges)
    sigs = _Store(tmp / "sigs.bin", minhash.NUM_PERM * 4)
    index = _Store(tmp / "index.bin", INDEX.itemsize)
    shingles = _Store(tmp / "shingles.bin", 8)
    ray = runtime.engine == "ray"
    band_rows = None if ray else _Partitions(tmp / "bands", n_parts, np.dtype([("key", "<u8"), ("rank", "<i8")]))
    refs: list[Any] = []
    if ray:
        import ray as ray_module

        ray_connect(runtime.ray_address)
    pairs = _Partitions(tmp / "pairs", n_ranges, PAIR)
    drops = _Partitions(tmp / "drops", n_ranges, DROP)
    absorbed = SortedSpill(None, records.CONVERSATION, lambda r: (r[_XPOS], r[_YRANK]),
                           extra=(pa.field(SEQ, pa.int64()), pa.field(_XPOS, pa.int64()), pa.field(_YRANK, pa.int64()),
                                  pa.field(_JACCARD, pa.float64())), **common)
    try:
        # 2. sketch, in input order; signatures and shingles by rank
        seen: Counter = Counter()
        state = {"bands": bands, "rows": rows}
        band_dtype = np.dtype([("key", "<u8"), ("rank", "<i8")])
        pos = written = 0
        batches = _batched(((_rank(r[_SCORE], base, seen), [m.get("content") for m in r.get("messages") or []],
                             r.get("context")) for r in near.merged()), runtime.batch_rows)
        # the sketches on the engine's workers (local processes or Ray tasks), results in input order
        for result in map_tasks(sketch_batch, batches, state, runtime):
            ranks = result["ranks"]
            for i, rank in enumerate(ranks.tolist()):
                sigs.write(rank, result["sigs"][i].tobytes())
                u = result["shingles"][i]
                shingles.write(written, u.tobytes())
                index.write(rank, np.array([(written, len(u), pos + i)], INDEX).tobytes())
                written += len(u)
            band = np.zeros(ranks.size * bands, band_dtype)
            band["key"], band["rank"] = result["keys"].ravel(), np.repeat(ranks, bands)
            part = band["key"] % np.uint64(n_parts)
            if ray:
                refs.append(ray_module.put(pa.table({"part": part, "key": band["key"], "rank": band["rank"]})))
            else:
                band_rows.add(part.astype(np.int64), band)
            pos += len(ranks)
        # 3. the band-bucket shuffle: candidate pairs by range of the later rank
        for found in (_ray_shuffle(refs, runtime) if ray else (bucket_pairs(p["key"], p["rank"])
                                                             for p in map(band_rows.read, range(n_parts)))):
            pairs.add(found["y"] // span, found)
        if band_rows is not None:
            band_rows.close()
        # 4. greedy, in visit order
        still_kept = np.ones(n, dtype=bool)    # by rank: the one byte per session held
        giant_kept: dict[int, list[int]] = {}
        floor = threshold - minhash.ESTIMATE_SLACK
        for r in range(n_ranges):
            found = pairs.read(r)
            found = found[np.lexsort((found["x"], found["y"]))]
            ys, starts = np.unique(found["y"], return_index=True)
            dropped = []
            for y, lo, hi in zip(ys.tolist(), starts.tolist(), [*starts[1:].tolist(), len(found)]):
                xs, gs = found["x"][lo:hi], found["g"][lo:hi]
                cands = {x for x in xs[xs >= 0].tolist() if still_kept[x]}
                member_of = gs[xs < 0].tolist()
                for g in member_of:
                    cands.update(giant_kept.get(g, ()))
                best = _verify(y, cands, sigs, index, shingles, threshold, floor) if cands else None
                if best is None:
                    for g in member_of:
                        giant_kept.setdefault(g, []).append(y)
                else:
                    still_kept[y] = False
                    dropped.append((int(np.frombuffer(index.read(y), INDEX)["pos"][0]), best[1], y, best[0]))
            if dropped:
                rows_ = np.array(dropped, DROP)
                drops.add(rows_["ypos"] // span, rows_)
        del giant_kept, still_kept
        # 5. join: near-duplicates sorted by (kept position, rank), then one pass in input order
        drop_of = _drops_by_position(drops, n_ranges, span)
        for pos, row in enumerate(near.merged()):
            d = drop_of(pos)
            if d is not None:
                absorbed.add({**row, _XPOS: d[0], _YRANK: d[1], _JACCARD: d[2]})
        kept: list[dict[str, Any]] = []
        rejects: list[tuple[dict[str, Any], Reject]] = []
        theirs = _Peek(absorbed.merged())
        drop_of = _drops_by_position(drops, n_ranges, span)
        for pos, row in enumerate(near.merged()):
            if drop_of(pos) is not None:
                continue
            mine = []
            while theirs.head is not None and theirs.head[_XPOS] == pos:
                mine.append(theirs.next())
            kept_id = row.get("id")
            for m in mine:
                detail = f"near-duplicate of {kept_id} (jaccard {m[_JACCARD]:.3f})"
                rejects.append((_strip(m), Reject("near_duplicate", detail)))
            _strip(row)
            kept.append(feedback.merge_into(row, mine, merged) if mine else row)
            yield from _chunks(kept, rejects, chunk_rows)
        assert theirs.head is None, "a near-duplicate's kept copy was not found"
        yield from _chunks(kept, rejects, chunk_rows, final=True)
    finally:
        for store in (sigs, index, shingles):
            store.close()
        for parts in (pairs, drops):
            parts.close()
        absorbed.close()


def _rank(score: int, base: dict[int, int], seen: Counter) -> int:
    rank = base[score] + seen[score]
    seen[score] += 1
    return rank


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class _Peek:
    def __init__(self, it: Iterator[dict[str, Any]]):
        self._it = it
        self.head = next(it, None)

    def next(self) -> dict[str, Any]:
        head, self.head = self.head, next(self._it, None)
        return head


def _drops_by_position(drops: _Partitions, n_ranges: int, span: int):
    """pos -> (kept position, rank, jaccard) of a dropped session, None for a kept one; asked in increasing pos,
    one range of positions in memory at a time."""
    current: dict[str, Any] = {"range": -1, "map": {}}

    def lookup(pos: int) -> tuple[int, int, float] | None:
        r = pos // span
        if r != current["range"]:
            found = drops.read(r)
            current["range"] = r
            current["map"] = {int(d["ypos"]): (int(d["xpos"]), int(d["yrank"]), float(d["jaccard"])) for d in found}
        return current["map"].get(pos)

    return lookup


def _verify(y: int, cands: set[int], sigs: _Store, index: _Store, shingles: _Store, threshold: float,
            floor: float) -> tuple[float, int] | None:
    """(Jaccard, position) of the kept copy session `y` (a rank) is a near-duplicate of, or None: as
    `split_near_duplicates` decides among candidates (estimate floor, exact Jaccard, the most similar, ties the
    first in input order)."""
    info = {x: np.frombuffer(index.read(x), INDEX)[0] for x in cands}
    order = sorted(cands, key=lambda x: int(info[x]["pos"]))   # today's candidates: sorted by input position
    sig_y = np.frombuffer(sigs.read(y), np.uint32)
    cand_sigs = np.stack([np.frombuffer(sigs.read(x), np.uint32) for x in order])
    estimates = (cand_sigs == sig_y).mean(axis=1)
    y_info = np.frombuffer(index.read(y), INDEX)[0]
    a = np.frombuffer(shingles.read(int(y_info["offset"]), int(y_info["count"])), np.uint64)
    best = None
    for x, estimate in zip(order, estimates.tolist()):
        if estimate < floor:
            continue
        b = np.frombuffer(shingles.read(int(info[x]["offset"]), int(info[x]["count"])), np.uint64)
        inter = len(np.intersect1d(a, b, assume_unique=True))
        score = inter / (len(a) + len(b) - inter)
        if score >= threshold and (best is None or score > best[0]):
            best = (score, int(info[x]["pos"]))
    return best


def _ray_shuffle(refs: list[Any], runtime: RuntimeParams) -> Iterator[np.ndarray]:
    """Step 3 on Ray: the band rows (Arrow blocks in the object store) grouped by shuffle partition of the band
    key (`groupby("part").map_groups`), each partition's candidate pairs (`bucket_pairs`) streamed back."""
    import ray.data

    if not refs:
        return
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ds = ray.data.from_arrow_refs(refs).groupby("part").map_groups(
        _ray_bucket_pairs, batch_format="numpy", num_cpus=1, fn_kwargs={"bucket_max": BUCKET_MAX},
                                       **({"concurrency": runtime.workers} if runtime.workers else {}))
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        out = np.zeros(len(batch["y"]), PAIR)
        out["y"], out["x"], out["g"] = batch["y"], batch["x"], batch["g"]
        yield out

