"""Which DPO pairs preference training reads: the offline pairs, the best-of-n on-policy pairs, or both.

`preference.pairs` (issue #17): `offline` (data/train/preference.parquet: rewrites, corrections, ranks,
the rewrite stage's better answers), `best_of_n` (data/bestofn/pairs.parquet, sampled from the SFT model
itself) or `both`. The best-of-n pairs come after mix and validate (they need the SFT model), so they are
schema-checked by the bestofn stage itself.
"""

from __future__ import annotations

from typing import Any

from logtune.params import ParamsError

PAIR_SOURCES = ("offline", "best_of_n", "both")


def training_pairs(offline: list[dict[str, Any]], best_of_n: list[dict[str, Any]] | None, mode: str
                   ) -> list[dict[str, Any]]:
    if mode not in PAIR_SOURCES:
        raise ParamsError(f"params section 'preference.pairs': expected one of {', '.join(PAIR_SOURCES)}, got {mode!r}")
    if mode != "offline" and best_of_n is None:
        raise ParamsError(f"preference.pairs is {mode!r} but no best-of-n pairs were given (--best-of-n)")
    return {"offline": offline, "best_of_n": best_of_n, "both": [*offline, *(best_of_n or [])]}[mode]
