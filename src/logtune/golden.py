"""Generator of the golden set (`golden/golden.jsonl`): held-out support cases the models are scored on.

Cases use the same question and CONTEXT styles the sample database teaches (`logtune.sample`), but
entities from the `golden` partition (`sample.in_partition`: ids, titles and people the sample DB never
uses) and a different seed, so no golden case is in the training data. The file is generated once and
committed; regenerate with `python -m logtune.golden golden/golden.jsonl`. Not used for training.

Mix: ~50% answerable single-turn, ~30% must-refuse (record or field absent from CONTEXT, or no
CONTEXT at all), ~20% multi-turn follow-ups whose answer depends on the earlier turn.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from logtune import sample
from logtune.io import write_jsonl

GOLDEN_SEED = 20250601  # not the sample DB's seed: different draws as well as different entities


def _case(context: dict | None, messages: list[dict[str, str]], contains: list[str], must_refuse: bool,
          tags: list[str]) -> dict[str, Any]:
    allowed = [r["id"] for r in (context or {}).get("records", [])]
    return {"context": context, "messages": messages,
            "expected": {"contains": contains, "must_refuse": must_refuse, "allowed_ids": allowed}, "tags": tags}


def answerable_case(rng: random.Random) -> dict[str, Any]:
    context = sample.make_context(rng, "golden")
    rec = rng.choice(context["records"])
    field = sample.pick_field(rng, rec)
    ref, by_title = sample.ref_for(rng, rec, 0.0 if field == "title" else 0.15)
    question = sample.ask(rng, field, ref, sample.KIND_NOUN[rec["id"][:3]])
    tags = ["answerable", field] + (["by_title"] if by_title else [])
    return _case(context, [{"role": "user", "content": question}], [rec["id"], rec[field]], False, tags)


def refusal_case(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.1:
        rid = sample.absent_id(rng, None, "golden")
        field = rng.choice(["status", "owner", "due"])
        question = sample.ask(rng, field, rid, sample.KIND_NOUN[rid[:3]])
        return _case(None, [{"role": "user", "content": question}], [], True, ["refusal", "no_context", field])
    context = sample.make_context(rng, "golden")
    if roll < 0.7:
        rid = sample.absent_id(rng, context, "golden")
        field = rng.choice(["status", "owner", "due", "title"])
        question = sample.ask(rng, field, rid, sample.KIND_NOUN[rid[:3]])
        return _case(context, [{"role": "user", "content": question}], [], True, ["refusal", "missing_record", field])
    rec = rng.choice(context["records"])
    field = rng.choice(sorted(sample.ABSENT_FIELDS))
    question = rng.choice(sample.PREFIXES) + rng.choice(sample.ABSENT_FIELDS[field]).format(ref=rec["id"])
    return _case(context, [{"role": "user", "content": question}], [], True,
                 ["refusal", "missing_field", field.replace(" ", "_")])


def followup_case(rng: random.Random) -> dict[str, Any]:
    context = sample.make_context(rng, "golden")
    rec = rng.choice(context["records"])
    first = rng.choice(["status", "owner", "due"])
    kind = sample.KIND_NOUN[rec["id"][:3]]
    messages = [{"role": "user", "content": sample.ask(rng, first, rec["id"], kind)},
                {"role": "assistant", "content": sample.answer(rng, first, rec)}]
    others = [r for r in context["records"] if r["id"] != rec["id"]]
    if rng.random() < 0.6 or not others:
        # "and who owns it?": the record is named only in the earlier turn
        field = sample.followup_field(rng, first)
        messages.append({"role": "user", "content": rng.choice(sample.FOLLOWUPS[field])})
        return _case(context, messages, [rec["id"], rec[field]], False, ["followup", field, "same_record"])
    # "what about SMP-123?": the field is named only in the earlier turn
    other = rng.choice(others)
    messages.append({"role": "user", "content": rng.choice(sample.OTHER_RECORD_FOLLOWUPS).format(ref=other["id"])})
    return _case(context, messages, [other["id"], other[first]], False, ["followup", first, "other_record"])


def golden_cases(n: int = 120, seed: int = GOLDEN_SEED) -> list[dict[str, Any]]:
    """`n` cases: 50% answerable, 30% refusal, 20% follow-up, in a seeded shuffled order, ids g001..."""
    rng = random.Random(seed)
    n_refuse, n_follow = round(n * 0.3), round(n * 0.2)
    plan = ["refusal"] * n_refuse + ["followup"] * n_follow + ["answerable"] * (n - n_refuse - n_follow)
    rng.shuffle(plan)
    make = {"answerable": answerable_case, "refusal": refusal_case, "followup": followup_case}
    cases = []
    for i, kind in enumerate(plan, start=1):
        case = make[kind](rng)
        cases.append({"id": f"g{i:03d}", **case})
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the golden set (JSON Lines).")
    ap.add_argument("out", type=Path)
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--seed", type=int, default=GOLDEN_SEED)
    args = ap.parse_args(argv)
    n = write_jsonl(args.out, golden_cases(args.cases, args.seed))
    print(f"golden: {n} cases -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
