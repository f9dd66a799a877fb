"""Curate: turn exported conversations into a clean, deduplicated, PII-free, golden-free set.

`pipeline.curate` is the entry point; `sessions` holds the per-session filters (broken sessions and
the params filters), `logtune.rules` the auto-rules, `logtune.golden.overlap` the golden-set overlap (exact
and near), `dedup` exact and near duplicates (on `logtune.minhash`, a numpy MinHash), `redact` PII
redaction (through `logtune.pii`), `quality` the judge's data-quality filter (`judge_min_quality`).
"""

from logtune.curate.pipeline import CurateParams, Curated, curate, curate_files, exported_files, read_exported

__all__ = ["CurateParams", "Curated", "curate", "curate_files", "exported_files", "read_exported"]
