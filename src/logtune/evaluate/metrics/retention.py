"""Context retention (seed 002 "does the model remember agents from previous turns", seed 004 follow-ups).

Per case: on multi-turn cases whose answer depends on an earlier turn (tag `multi_turn`, or case type
`multi_turn`), `context_retention` is 1 when the reply is correct (`accuracy.is_correct`: it carries
the record or the field named only in the earlier turn) and cites no ungrounded id; None on
single-turn cases. The golden generator writes these cases so the final user turn alone does not say
which record or which field is meant ("And who owns it?", "What about ORD-892?"), so only a model
that used the earlier turn can pass.
"""

from __future__ import annotations


def depends_on_earlier_turn(case) -> bool:
    return "multi_turn" in case.tags or case.case_type == "multi_turn"


def retention_score(case, passed: bool) -> dict[str, float | None]:
    return {"context_retention": float(passed) if depends_on_earlier_turn(case) else None}
