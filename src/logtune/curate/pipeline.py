"""Curation of exported conversations: every session leaves kept, or rejected with its reason.

Order, first reason wins: the session filters (`sessions.SESSION_FILTERS`) and golden-set overlap
look at the text as logged; then every session, kept or rejected, is PII-redacted (rejects are
written out too and must not leak what training data may not hold); then exact duplicates are
dropped among the survivors, on redacted text, so copies differing only in a redacted value count
as the same, then (when a threshold is set) near-duplicates. Invariant, asserted before the metrics
are returned: read = kept + rejected.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from logtune.curate.decontaminate import golden_conversation_keys, golden_overlap
from logtune.curate.dedup import split_duplicates, split_near_duplicates
from logtune.curate.redact import redact_conversation
from logtune.curate.sessions import SESSION_FILTERS, Reject, first_reject
from logtune.io import read_rows

# Every reason this stage can give, so metrics list zeros too and `dvc metrics diff` stays aligned.
REASONS = [f.__name__ for f in SESSION_FILTERS] + ["golden_overlap", "exact_duplicate", "near_duplicate"]


@dataclass(frozen=True)
class CurateParams:
    drop_statuses: tuple[str, ...] = ("error",)
    min_confidence: float | None = None
    drop_approvals: tuple[str, ...] = ("rejected",)
    near_duplicate_threshold: float | None = None   # None: exact duplicates only

    def __post_init__(self) -> None:
        t = self.near_duplicate_threshold
        if t is not None and not 0 < t <= 1:
            raise ValueError(f"curate.near_duplicate_threshold must be in (0, 1] or null, got {t!r}")


@dataclass
class Curated:
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)   # records.REJECTED rows
    metrics: dict[str, Any] = field(default_factory=dict)


def read_exported(directory: str | Path) -> list[dict[str, Any]]:
    """Every conversation of every *.parquet in `directory`, files in name order."""
    files = sorted(Path(directory).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{directory}: no *.parquet files to curate")
    return [row for f in files for row in read_rows(f)]


def rejected_row(conversation: dict[str, Any], reject: Reject, stage: str = "curate") -> dict[str, Any]:
    return {"id": conversation.get("id"), "stage": stage, "reason": reject.reason, "detail": reject.detail,
            "record": json.dumps(conversation, sort_keys=True, ensure_ascii=False)}


def curate(conversations: Iterable[dict[str, Any]], params: CurateParams, golden: list[dict[str, Any]]) -> Curated:
    """Filter, decontaminate, redact and deduplicate; kept and rejected both sorted by id."""
    golden_keys = golden_conversation_keys(golden)
    survivors: list[dict[str, Any]] = []
    rejects: list[tuple[dict[str, Any], Reject]] = []
    redacted_by_kind: Counter = Counter()
    conversations_redacted = read = 0
    for conv in conversations:
        read += 1
        reject = first_reject(conv, params) or golden_overlap(conv, golden_keys)
        conv, kinds = redact_conversation(conv)
        redacted_by_kind.update(kinds)
        conversations_redacted += bool(kinds)
        if reject is None:
            survivors.append(conv)
        else:
            rejects.append((conv, reject))
    kept, duplicates = split_duplicates(survivors)
    rejects += duplicates
    if params.near_duplicate_threshold is not None:
        kept, near = split_near_duplicates(kept, params.near_duplicate_threshold)
        rejects += near

    out = Curated(kept=sorted(kept, key=lambda c: c["id"]),
                  rejected=sorted((rejected_row(c, r) for c, r in rejects), key=lambda r: (r["id"], r["reason"])))
    by_reason = Counter({reason: 0 for reason in REASONS})
    by_reason.update(r["reason"] for r in out.rejected)
    assert read == len(out.kept) + len(out.rejected), "curate lost or invented a record"
    out.metrics = {"read": read, "kept": len(out.kept), "rejected": len(out.rejected),
                   "rejected_by_reason": dict(sorted(by_reason.items())),
                   "redacted_by_kind": dict(sorted(redacted_by_kind.items())),
                   "conversations_redacted": conversations_redacted}
    return out
