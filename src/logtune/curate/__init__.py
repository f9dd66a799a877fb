"""Curate: turn exported conversations into a clean, deduplicated, PII-free, golden-free set.

`pipeline.curate` is the entry point; `sessions` holds the per-session filters, `decontaminate`
the golden-set overlap, `dedup` exact duplicates, `redact` PII redaction (through `logtune.pii`).
"""

from logtune.curate.pipeline import CurateParams, Curated, curate, read_exported

__all__ = ["CurateParams", "Curated", "curate", "read_exported"]
