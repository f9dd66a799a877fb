"""Curate + build benchmark on 1,000,000 logged messages, and near-duplicate search against datasketch.

Usage: python benchmarks/curate_bench.py [--messages N] [--workdir DIR] [--keep] [--threshold 0.9] [--skip-build]

Generates a support-assistant log the way the `sample` stage does (`logtune.sample.db.generate`: real
templates, ~4 messages a session, ratings, rewrites, planted PII, broken sessions), scaled to N messages,
and exports it with the real `export` path (`logtune.sources.export.export_source`) to one exported Parquet
file (cached in --workdir between runs). Then, each in its own child process so generation does not
count and each child's peak RSS (`ru_maxrss`) is its own:
  1. curate, then build: what `dvc repro` runs for the two stages, each in its own process as dvc runs
     them: read the exported Parquet, `logtune.curate.curate` with params.yaml's `curate` section, its
     rules file and the golden set, write conversations.parquet + rejected.parquet; then read that
     file, `logtune.build.build`, write sft / preference / rejected. Prints messages/s (wall and CPU)
     of each and of the two together, and each one's peak RSS (the pipeline's: the larger).
  2. near-duplicates on the same texts: every exported conversation's normalized dialogue, exact
     duplicates removed first (as curate does). Ours: `logtune.minhash` (bands x rows from
     `bands_for(threshold)`: 12 x 10 at 0.9) candidate pairs, signature-agreement pre-filter; the reference: datasketch `MinHash.bulk` + `MinHashLSH(threshold)` insert and
     query, on the same word 3-gram shingles. Both verify candidates by exact Jaccard, so both report
     only true pairs; recall of each = its pairs / all pairs with Jaccard >= threshold among the union
     of both methods' candidates.
Exit status 0 when every target is met (see TARGETS). Not a test: a few minutes.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120          # 1M messages curated + built (wall)
TARGET_RSS_MB = 3072
TARGET_SPEEDUP = 4.0          # near-dup search vs datasketch


def generate(work: Path, n_messages: int) -> Path:
    """The exported Parquet of a sample-stage log of about `n_messages` messages (cached by size)."""
    from logtune.sources.export import ExportParams, SourceParams, export_source
    from logtune.params import read_params
    from logtune.sample.db import SampleParams, build_sample_db

    exported = work / f"exported-{n_messages}"
    if (exported / "bench.parquet").exists():
        return exported
    system_prompt = read_params(ROOT / "params.yaml")["assistant"]["system_prompt"]
    db = work / "assistant.db"
    # the sample log averages ~3.9 messages a session
    build_sample_db(db, SampleParams(seed=11, sessions=max(1, round(n_messages / 3.89))), system_prompt)
    export_source(SourceParams(name="bench", kind="assistant_sqlite", path=str(db)), exported, ExportParams())
    db.unlink()
    return exported


def child_curate(exported: Path, out: Path) -> dict:
    """The curate stage's work (`stages/curate.py`): read, curate, write kept + rejected."""
    from logtune import records
    from logtune.curate import CurateParams, curate, read_exported
    from logtune.golden.overlap import load_golden
    from logtune.io import write_rows
    from logtune.params import load_params
    from logtune.rules import load_rules

    start, cpu = time.perf_counter(), time.process_time()
    params = load_params(ROOT / "params.yaml", "curate", CurateParams)
    rules = load_rules(ROOT / params.rules) if params.rules else None
    conversations = read_exported(exported)
    messages = sum(len(c["messages"]) for c in conversations)
    times = {"read": time.perf_counter() - start}
    curated = curate(conversations, params, load_golden(ROOT / "golden" / "golden.jsonl"), rules)
    times["curate"] = time.perf_counter() - start - times["read"]
    write_rows(out / "curated" / "conversations.parquet", curated.kept, records.CONVERSATION)
    write_rows(out / "curated" / "rejected.parquet", curated.rejected, records.REJECTED)
    times["write"] = time.perf_counter() - start - times["read"] - times["curate"]
    return {"messages": messages, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "times": times, "metrics": curated.metrics}


def child_build(out: Path) -> dict:
    """The build stage's work (`stages/build.py`): read the curated file, build, write the three sets."""
    from logtune import records
    from logtune.build import BuildParams, build
    from logtune.golden.overlap import load_golden
    from logtune.io import read_rows, write_rows
    from logtune.params import load_params

    start, cpu = time.perf_counter(), time.process_time()
    conversations = read_rows(out / "curated" / "conversations.parquet")
    messages = sum(len(c["messages"]) for c in conversations)
    times = {"read": time.perf_counter() - start}
    built = build(conversations, load_params(ROOT / "params.yaml", "build", BuildParams),
                  load_golden(ROOT / "golden" / "golden.jsonl"))
    times["build"] = time.perf_counter() - start - times["read"]
    write_rows(out / "built" / "sft.parquet", built.sft, records.SFT_EXAMPLE)
    write_rows(out / "built" / "preference.parquet", built.preference, records.PREFERENCE_PAIR)
    write_rows(out / "built" / "rejected.parquet", built.rejected, records.REJECTED)
    times["write"] = time.perf_counter() - start - times["read"] - times["build"]
    return {"messages": messages, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "times": times, "metrics": built.metrics}


def _dialogues(exported: Path) -> list[tuple[str, ...]]:
    """Each conversation's normalized messages, exact duplicate dialogues removed (first copy kept)."""
    from logtune.curate import read_exported
    from logtune.normalize import normalize_text

    seen, dialogues = set(), []
    for c in read_exported(exported):
        dialogue = tuple(normalize_text(m.get("content")) for m in c["messages"])
        if dialogue not in seen:
            seen.add(dialogue)
            dialogues.append(dialogue)
    return dialogues


def _verified(pairs: set[tuple[int, int]], sets: list[set], threshold: float) -> set[tuple[int, int]]:
    return {(i, j) for i, j in pairs if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= threshold}


def child_near_duplicates(exported: Path, threshold: float) -> dict:
    """Ours vs datasketch on the same dialogues: time to verified pairs, and each one's pairs."""
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    from logtune import minhash

    texts = _dialogues(exported)
    # Neither method makes reference cycles; the cyclic GC would only re-scan millions of live
    # objects (curate turns it off for the same reason), so both run without it.
    gc.disable()
    ours_t0 = time.perf_counter()
    steps = {}
    flat = [m for dialogue in texts for m in dialogue]
    groups = np.cumsum([0] + [len(d) for d in texts])
    hashes, offsets = minhash.group_shingles(*minhash.message_shingles(flat), groups)
    steps["shingles"] = time.perf_counter() - ours_t0
    sigs = minhash.signatures(hashes, offsets)
    steps["signatures"] = time.perf_counter() - ours_t0 - steps["shingles"]
    bands, rows = minhash.bands_for(threshold)
    keys = minhash.band_keys(sigs[:, :bands * rows], bands)
    pairs = minhash.candidate_pairs(keys)
    # as curate does: signature agreement far below the threshold is not worth an exact check
    agree = np.concatenate([(sigs[pairs[i:i + 65536, 0]] == sigs[pairs[i:i + 65536, 1]]).mean(axis=1)
                            for i in range(0, len(pairs), 65536)] or [np.zeros(0)])
    likely = pairs[agree >= threshold - minhash.ESTIMATE_SLACK].tolist()
    ours = {(i, j) for i, j in likely
            if minhash.jaccard(hashes[offsets[i]:offsets[i + 1]], hashes[offsets[j]:offsets[j + 1]]) >= threshold}
    ours_seconds = time.perf_counter() - ours_t0
    steps["lsh_and_verify"] = ours_seconds - steps["shingles"] - steps["signatures"]

    ref_t0 = time.perf_counter()
    shingle_sets = []
    for text in texts:
        grams = set()
        for message in text:
            words = minhash._WORD.findall(message)
            if words:
                grams.update(" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2)))
        shingle_sets.append(grams or {""})
    signatures = MinHash.bulk([[g.encode("utf-8") for g in s] for s in shingle_sets], num_perm=minhash.NUM_PERM)
    lsh = MinHashLSH(threshold=threshold, num_perm=minhash.NUM_PERM)
    with lsh.insertion_session() as session:
        for i, sig in enumerate(signatures):
            session.insert(i, sig)
    ref_candidates = {(min(i, j), max(i, j)) for i, sig in enumerate(signatures) for j in lsh.query(sig) if j != i}
    ref = _verified(ref_candidates, shingle_sets, threshold)
    ref_seconds = time.perf_counter() - ref_t0

    candidates = {(a, b) for a, b in pairs.tolist()}     # for the recall truth only, not timed
    union = candidates | ref_candidates
    truth = _verified(union, shingle_sets, threshold)   # the same sets as ours, as strings instead of hashes
    return {"texts": len(texts), "threshold": threshold, "ours_seconds": ours_seconds, "ref_seconds": ref_seconds,
            "ours_candidates": len(candidates), "ref_candidates": len(ref_candidates), "ours_pairs": len(ours),
            "ref_pairs": len(ref), "true_pairs": len(truth), "ref_bands_rows": [lsh.b, lsh.r],
            "ours_bands_rows": [bands, rows], "ours_steps": steps,
            "ours_recall": len(ours & truth) / len(truth) if truth else 1.0,
            "ref_recall": len(ref & truth) / len(truth) if truth else 1.0,
            "ours_only": len(ours - ref), "ref_only": len(ref - ours)}


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, help="where the log and outputs go (default: a temp folder, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the generated log (reused by the next run)")
    ap.add_argument("--threshold", type=float, default=0.9, help="near-duplicate Jaccard (params: 0.9)")
    ap.add_argument("--skip-build", action="store_true", help="time curate alone")
    ap.add_argument("--skip-near", action="store_true", help="skip the datasketch comparison")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        name, *rest = args.child
        if name == "curate":
            result = child_curate(Path(rest[0]), Path(rest[1]))
        elif name == "build":
            result = child_build(Path(rest[0]))
        else:
            result = child_near_duplicates(Path(rest[0]), float(rest[1]))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        print(json.dumps(result))
        return 0

    work = args.workdir or Path(tempfile.mkdtemp(prefix="logtune-curate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        exported = generate(work, args.messages)
        print(f"log ready in {time.perf_counter() - start:.1f}s ({exported})")
        cur = run_child("curate", str(exported), str(work / "out"))
        rows = [("curate", cur)]
        if not args.skip_build:
            rows.append(("build", run_child("build", str(work / "out"))))
        total = {"messages": cur["messages"], "seconds": sum(r["seconds"] for _, r in rows),
                 "cpu_seconds": sum(r["cpu_seconds"] for _, r in rows), "peak_rss_mb": max(r["peak_rss_mb"] for _, r in rows)}
        rows.append(("curate + build" if not args.skip_build else "curate (total)", total))
        print(f"\n{'stage (own process)':<24}{'messages':>11}{'wall s':>8}{'cpu s':>8}{'msgs/s wall':>13}{'msgs/s cpu':>12}"
              f"{'peak RSS MB':>13}")
        for name, r in rows:
            print(f"{name:<24}{r['messages']:>11,}{r['seconds']:>8.1f}{r['cpu_seconds']:>8.1f}"
                  f"{r['messages'] / r['seconds']:>13,.0f}{r['messages'] / r['cpu_seconds']:>12,.0f}{r['peak_rss_mb']:>13.0f}")
        for name, r in rows[:-1]:
            print(f"  {name}: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["times"].items()))
        m = cur["metrics"]
        print(f"  curate kept {m['kept']:,} of {m['read']:,} conversations; rejected by reason: "
              + ", ".join(f"{k} {v:,}" for k, v in m["rejected_by_reason"].items() if v))
        if not args.skip_build:
            b = rows[1][1]["metrics"]
            print(f"  build: {b['sft_examples']:,} SFT examples, {b['preference_pairs']:,} pairs, {b['rejected']:,} rejected")
        ok = total["seconds"] * 1_000_000 / total["messages"] < TARGET_SECONDS and total["peak_rss_mb"] < TARGET_RSS_MB
        if not args.skip_near:
            nd = run_child("near", str(exported), str(args.threshold))
            print(f"\nnear-duplicates, Jaccard >= {nd['threshold']} on {nd['texts']:,} distinct dialogues "
                  f"(datasketch bands x rows {nd['ref_bands_rows'][0]} x {nd['ref_bands_rows'][1]}; ours "
                  f"{nd['ours_bands_rows'][0]} x {nd['ours_bands_rows'][1]})")
            print(f"{'method':<34}{'seconds':>9}{'candidates':>12}{'pairs':>9}{'recall':>8}")
            print(f"{'logtune.minhash (numpy)':<34}{nd['ours_seconds']:>9.1f}{nd['ours_candidates']:>12,}"
                  f"{nd['ours_pairs']:>9,}{nd['ours_recall']:>8.4f}")
            print(f"{'datasketch MinHash.bulk + LSH':<34}{nd['ref_seconds']:>9.1f}{nd['ref_candidates']:>12,}"
                  f"{nd['ref_pairs']:>9,}{nd['ref_recall']:>8.4f}")
            print("  ours: " + ", ".join(f"{k} {v:.2f}s" for k, v in nd["ours_steps"].items()))
            speedup = nd["ref_seconds"] / nd["ours_seconds"]
            print(f"speed-up {speedup:.1f}x; true pairs {nd['true_pairs']:,}; found only by ours {nd['ours_only']:,}, "
                  f"only by datasketch {nd['ref_only']:,}; near-dup child peak RSS {nd['peak_rss_mb']:.0f} MB")
            ok = ok and speedup >= TARGET_SPEEDUP and nd["ours_recall"] >= nd["ref_recall"]
        print(f"\ntargets (1M messages < {TARGET_SECONDS}s wall, < {TARGET_RSS_MB} MB, near-dup >= {TARGET_SPEEDUP}x "
              f"with recall >= datasketch's): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work)


if __name__ == "__main__":
    raise SystemExit(main())
