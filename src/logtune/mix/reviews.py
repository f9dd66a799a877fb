"""The latest human review (reviews/<date>.jsonl, `logtune review-data`) applied to the mixed training sets.

After the split and the mix table: a record marked `reject` leaves training with reason `human_review`
(into dropped.parquet, counted in the set's metrics: read = train_records + heldout + dropped still
holds); a `fix` replaces the target, and for SFT also adds a DPO pair (`rule: human_edit`, counted as
`added_by_review` in the preference set's metrics, not as read). The version of the data the marks apply to (`reviews.data_version`
of the sets BEFORE the marks) is returned for `data/train/review.json`, so `validate.review` and the next
`logtune review-data` compare against the data the reviewer saw, not the data the marks changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa

from logtune.rejects import Reject, rejected_row
from logtune.reviews import apply_marks, data_version, latest_review, read_marks

REASON = "human_review"


def apply_review(mixed: dict[str, Any], reviews_dir: str | Path | None) -> dict[str, Any]:
    """Apply the latest review in `reviews_dir` to `mixed` (set name -> mix.pipeline.Mixed) in place."""
    rows = {name: m.train.to_pylist() for name, m in mixed.items()}
    version = data_version(rows)
    review = latest_review(reviews_dir) if reviews_dir is not None else None
    if review is None:
        return {"data_version": version, "review": None}
    marks = [m for m in read_marks(review) if m.get("data_version") == version]
    new, rejected, pairs = apply_marks(rows, marks)
    if "preference" in new:
        new["preference"] = [*new["preference"], *pairs]
    counts = {}
    for name, m in mixed.items():
        dropped = review_drops(r for r in rejected if r[0] == name)
        m.dropped += dropped
        m.train = pa.Table.from_pylist(new[name], schema=m.train.schema)
        counts[name] = reviewed(m.metrics, name, m.train.num_rows, len({r["id"] for r in new[name]}),
                                len(dropped), marks, len(pairs))
    return summary(version, review, marks, counts)


def review_drops(rejected: Iterable[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
    """`apply_marks`' rejected rows of one set as dropped rows (reason human_review), one per id, by id."""
    gone = {row["id"]: (row, reason) for _, row, reason in rejected}
    return [rejected_row(rid, "mix", Reject(REASON, reason), row) for rid, (row, reason) in sorted(gone.items())]


def reviewed(met: dict[str, Any], name: str, train_rows: int, train_ids: int, gone: int,
             marks: list[dict[str, Any]], pairs: int) -> dict[str, int]:
    """Update one set's mix metrics after the review (in place); return its `applied` counts."""
    met["train"], met["train_records"] = train_rows, train_ids
    met["dropped"] = met.get("dropped", 0) + gone
    met.setdefault("dropped_by_reason", {})[REASON] = gone
    fixed = sum(1 for k in marks if k["set"] == name and k["mark"] == "fix")
    counts = {"rejected": gone, "fixed": fixed}
    if name == "preference":
        counts["human_edit_pairs"] = pairs
        met["added_by_review"] = pairs   # read + added_by_review = train_records + heldout + dropped
    return counts


def summary(version: str, review: Path, marks: list[dict[str, Any]], counts: dict[str, Any]) -> dict[str, Any]:
    return {"data_version": version, "review": review.name, "marks": len(marks),
            "stale_marks": len(read_marks(review)) - len(marks), "applied": counts}
