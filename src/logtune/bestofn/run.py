"""The bestofn stage's logic: select prompts, sample, grade (rules, and the judge when given), pair, check.

Every prompt read leaves as a pair, or skipped (`select`) or dropped (`pairs`, or `schema: ...`) with a
reason; the metrics say how many of each, and `run` asserts nothing went missing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Callable

from logtune.bestofn.pairs import context_of, make_pairs, user_text
from logtune.bestofn.params import BestOfNParams
from logtune.bestofn.sample import sample_from_dir
from logtune.bestofn.select import select_prompts
from logtune.io import read_rows
from logtune.judge.core import QualityItem
from logtune.schema_check import RecordCheck

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "preference_pair.v1.schema.json"


def judge_candidates(judge: Any, prompts: list[dict[str, Any]], candidates: list[list[str]]) -> list[list[float | None]]:
    return [judge.quality([QualityItem(f"{q['id']}:{k}", user_text(q["prompt"]), c, context_of(q["prompt"]))
                           for k, c in enumerate(cands)]) for q, cands in zip(prompts, candidates)]


def run(model_dir: str | Path, train_dir: str | Path, params: BestOfNParams, judge: Any = None,
        sample: Callable[..., list[list[str]]] = sample_from_dir
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(schema-valid PREFERENCE_PAIR rows, per-prompt grading records, metrics)."""
    train_dir = Path(train_dir)
    prompts, skipped = select_prompts(read_rows(train_dir / "preference.parquet"), read_rows(train_dir / "kto.parquet"),
                                      read_rows(train_dir / "sft.parquet"), params.max_prompts)
    candidates = sample(model_dir, prompts, params) if prompts else []
    scores = judge_candidates(judge, prompts, candidates) if judge is not None else None
    pairs, graded, dropped = make_pairs(prompts, candidates, params, str(model_dir), scores)
    check, kept = RecordCheck(SCHEMA), []
    for pair in pairs:
        if (error := check(pair)) is not None:
            dropped[f"schema: {error}"] += 1
        else:
            kept.append(pair)
    margins = [g["margin"] for g in graded if not g["dropped"]]
    metrics = {"prompts_read": len(prompts) + sum(skipped.values()), "prompts_sampled": len(prompts),
               "skipped_by_reason": dict(sorted(skipped.items())), "n": params.n, "pairs": len(kept),
               "dropped_by_reason": dict(sorted(Counter(dropped).items())),
               "judge": judge.name if judge is not None else None,
               "mean_margin": round(sum(margins) / len(margins), 4) if margins else None}
    assert metrics["prompts_sampled"] == len(kept) + sum(dropped.values()), "best-of-n lost a prompt"
    return kept, graded, metrics
