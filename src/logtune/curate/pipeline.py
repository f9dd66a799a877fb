"""Curation of exported conversations: every session leaves kept, or rejected with its reason.

Order, first reason wins: the session filters (`sessions.SESSION_FILTERS`: broken sessions, then
the params filters task_types / min_confidence / exclude_rejected), the auto-rules file
(`logtune.rules`, reason `auto_rule:<name>`) and exact golden-set overlap look at the text as
logged; then every session, kept or rejected, is PII-redacted (rejects are written out too and must
not leak what training data may not hold); then, among the survivors, on redacted text: near
golden overlap (when `golden_near_threshold` is set), exact duplicates (copies differing only in a
redacted value count as the same), near-duplicates (when `near_duplicate_threshold` is set), and
last the judge's data-quality score of every reply (when `judge_min_quality` is set: `quality`). A
duplicate is rejected but its feedback is not: the kept copy holds every copy's ratings, notes and
rewrites (`dedup`, `logtune.feedback`), counted in the metrics' `merged_feedback`.
Invariant, asserted before the metrics are returned: read = kept + rejected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from logtune.feedback import MERGE_COUNTS
from logtune.runtime import no_cyclic_gc
from logtune.golden.overlap import golden_conversation_keys, golden_near_overlaps, golden_overlap
from logtune.curate.dedup import split_duplicates, split_near_duplicates
from logtune.curate.quality import REASONS as JUDGE_REASONS, judge_sessions
from logtune.judge.core import Judge
from logtune.normalize import normalize_context, normalize_text
from logtune.curate.redact import redact_conversation
from logtune.pii import PiiParams
from logtune.curate.sessions import SESSION_FILTERS, first_reject
from logtune.rejects import Reject, rejected_row
from logtune.io import read_rows
from logtune.rules import REASON_PREFIX, Rules

# Every reason this stage can give, so metrics list zeros too and `dvc metrics diff` stays aligned
# (plus `auto_rule:<name>` for each reject rule of the rules file in use).
REASONS = [f.__name__ for f in SESSION_FILTERS] + ["golden_overlap", "golden_near_overlap", "exact_duplicate",
                                                   "near_duplicate"] + JUDGE_REASONS


@dataclass(frozen=True)
class CurateParams:
    drop_statuses: tuple[str, ...] = ("error",)
    min_confidence: float | None = None
    exclude_rejected: bool = True
    task_types: tuple[str, ...] | None = None        # None: every task type
    rules: str | None = None                          # auto-rules YAML path; None: no auto-rules
    near_duplicate_threshold: float | None = None     # None: exact duplicates only
    golden_near_threshold: float | None = None        # None: exact golden overlap only
    pii: PiiParams = PiiParams()                      # phone regions; names/addresses engine (off)
    judge_min_quality: float | None = None            # None: no judge filter; else the `judge` section's judge scores
                                                      # every reply and a session whose worst is below this leaves

    def __post_init__(self) -> None:
        for name in ("near_duplicate_threshold", "golden_near_threshold", "min_confidence", "judge_min_quality"):
            t = getattr(self, name)
            if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1
                                  or (t == 0 and name not in ("min_confidence", "judge_min_quality"))):
                raise ValueError(f"curate.{name} must be in (0, 1] or null, got {t!r}")
        if not isinstance(self.exclude_rejected, bool):
            raise ValueError(f"curate.exclude_rejected must be true or false, got {self.exclude_rejected!r}")


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


def auto_rule(conversation: dict[str, Any], rules: Rules) -> Reject | None:
    """The rules file's verdict (`logtune.rules`): a reject rule that matches names the reason."""
    keep, name = rules.decide(conversation)
    return None if keep else Reject(REASON_PREFIX + name, f"auto-rule {name} matched")


def curate(conversations: Iterable[dict[str, Any]], params: CurateParams, golden: list[dict[str, Any]],
           rules: Rules | None = None, judge: Judge | None = None) -> Curated:
    """Filter, decontaminate, redact, deduplicate and (with `judge_min_quality`) judge; kept and rejected both
    sorted by id. `judge`: the `judge` section's judge (`logtune.judge.core.make_judge`), needed only then."""
    if params.judge_min_quality is not None and judge is None:
        raise ValueError("curate.judge_min_quality is set but no judge was given")
    with no_cyclic_gc():
        return _curate(conversations, params, golden, rules or Rules(), judge)


def _curate(conversations: Iterable[dict[str, Any]], params: CurateParams, golden: list[dict[str, Any]],
            rules: Rules, judge: Judge | None) -> Curated:
    golden_keys = golden_conversation_keys(golden)
    survivors: list[dict[str, Any]] = []
    contexts: list[str] = []
    rejects: list[tuple[dict[str, Any], Reject]] = []
    redacted_by_kind: Counter = Counter()
    conversations_redacted = read = 0
    for conv in conversations:
        read += 1
        reject = first_reject(conv, params) or auto_rule(conv, rules) or golden_overlap(conv, golden_keys)
        conv, kinds = redact_conversation(conv, params.pii)
        if kinds:
            redacted_by_kind.update(kinds)
            conversations_redacted += 1
        if reject is None:
            survivors.append(conv)
            contexts.append(normalize_context(conv.get("context")))   # valid: broken_context passed it
        else:
            rejects.append((conv, reject))
    # normalized once, shared by the three cross-session steps below
    texts = [[normalize_text(m.get("content")) for m in c.get("messages") or []] for c in survivors]
    if params.golden_near_threshold is not None:
        near_golden = golden_near_overlaps(survivors, golden, params.golden_near_threshold, texts)
        rejects += [(survivors[i], r) for i, r in sorted(near_golden.items())]
        keep = [i for i in range(len(survivors)) if i not in near_golden]
        survivors, texts, contexts = [survivors[i] for i in keep], [texts[i] for i in keep], [contexts[i] for i in keep]
    merged: dict[str, int] = {k: 0 for k in MERGE_COUNTS}
    kept, duplicates = split_duplicates(survivors, contexts, texts, merged)
    rejects += duplicates
    if params.near_duplicate_threshold is not None:
        dropped_ids = {id(c) for c, _ in duplicates}
        keep = [i for i, c in enumerate(survivors) if id(c) not in dropped_ids]
        kept, near = split_near_duplicates(kept, params.near_duplicate_threshold,
                                           [contexts[i] for i in keep], [texts[i] for i in keep], merged)
        rejects += near
    judged = None
    if params.judge_min_quality is not None:
        low, judged = judge_sessions(kept, judge, params.judge_min_quality)
        rejects += [(kept[i], r) for i, r in sorted(low.items())]
        kept = [c for i, c in enumerate(kept) if i not in low]

    out = Curated(kept=sorted(kept, key=lambda c: c["id"]),
                  rejected=sorted((rejected_row(c.get("id"), "curate", r, c) for c, r in rejects),
                                  key=lambda r: (r["id"], r["reason"])))
    by_reason = Counter({reason: 0 for reason in REASONS + rules.reject_reasons})
    by_reason.update(r["reason"] for r in out.rejected)
    assert read == len(out.kept) + len(out.rejected), "curate lost or invented a record"
    out.metrics = {"read": read, "kept": len(out.kept), "rejected": len(out.rejected),
                   "rejected_by_reason": dict(sorted(by_reason.items())),
                   "redacted_by_kind": dict(sorted(redacted_by_kind.items())),
                   "conversations_redacted": conversations_redacted,
                   "merged_feedback": dict(sorted(merged.items())),
                   "judge_quality": judged}
    return out
