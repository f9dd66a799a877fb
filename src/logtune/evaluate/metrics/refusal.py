"""Refusal correctness (seeds 000, 001): refuse when the answer is absent, answer when it is present.

A reply refuses when `logtune.refusal.is_refusal` says so (the one definition shared with the sample
generator and curation). Per case, as numbers the gate can average and bootstrap:
- `refusal_accuracy`: 1 when the reply refused exactly when the case says it must (`must_refuse`);
- `refusal_precision`: on cases the reply refused, 1 when it had to, 0 when it refused an answerable
  case; None (not applicable) when it did not refuse. Its mean = refused-and-must / refused;
- `refusal_recall`: on must-refuse cases, 1 when the reply refused; None elsewhere. Its mean =
  refused-and-must / must.
A model that never refuses has precision None (undefined), not a made-up 0 or 1.
"""

from __future__ import annotations

from logtune.refusal import is_refusal


def refused(reply: str | None) -> bool:
    return is_refusal(reply or "")


def refusal_scores(did_refuse: bool, must_refuse: bool) -> dict[str, float | None]:
    return {
        "refusal_accuracy": float(did_refuse == must_refuse),
        "refusal_precision": float(must_refuse) if did_refuse else None,
        "refusal_recall": float(did_refuse) if must_refuse else None,
    }
