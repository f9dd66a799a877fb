"""Generator of the golden set (`golden/golden.jsonl`): held-out support cases the models are scored on.

Cases use the same question and CONTEXT styles the sample database teaches (`logtune.sample.db`), but
entities from the `golden` partition (`sample.in_partition`: ids, titles and people the sample DB never
uses) and a different seed, so no golden case is in the training data. The file is generated once and
committed; regenerate with `python -m logtune.sample.golden golden/golden.jsonl`. Not used for training.

Two parts, each from its own seeded RNG so that growing one never changes the other:
- the core 120 (`golden_cases(120)`, the first version of the set, unchanged): ~50% answerable
  single-turn, ~30% must-refuse (record or field absent from CONTEXT, or no CONTEXT), ~20% follow-ups
  whose answer depends on the earlier turn;
- the extended cases (`extended_cases`): seed 002's five personas, seed 004's hard cases (ambiguity,
  conflicting priorities, stress, long follow-ups, a false premise) and tool cases (a `tools` list, an
  expected call in the canonical format, or `"none"` when CONTEXT already answers).
Every case carries `case_type` and tags (`answerable`/`refusal`, `multi_turn`, `persona:<name>`,
`hard:<kind>`, `tool`, `task:support`, the field asked) so metrics can be read per tag.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from logtune.sample import db as sample
from logtune.golden.contract import PERSONAS
from logtune.io import write_jsonl

GOLDEN_SEED = 20250601  # not the sample DB's seed: different draws as well as different entities


TASK_TAG = "task:support"   # the embedded default's only task type (build writes task_type "support")


def _case(context: dict | None, messages: list[dict[str, str]], contains: list[str], must_refuse: bool,
          tags: list[str], case_type: str, **expected: Any) -> dict[str, Any]:
    """One case object; `expected` adds answer/tool_call/persona/min_words/... to the expected block."""
    allowed = [r["id"] for r in (context or {}).get("records", [])]
    tools = expected.pop("tools", None)
    case: dict[str, Any] = {"case_type": case_type, "context": context, "messages": messages}
    if tools:
        case["tools"] = tools
    case["expected"] = {"contains": contains, "must_refuse": must_refuse, "allowed_ids": allowed,
                        **{k: v for k, v in expected.items() if v is not None}}
    case["tags"] = tags + [TASK_TAG]
    return case


def answerable_case(rng: random.Random) -> dict[str, Any]:
    context = sample.make_context(rng, "golden")
    rec = rng.choice(context["records"])
    field = sample.pick_field(rng, rec)
    ref, by_title = sample.ref_for(rng, rec, 0.0 if field == "title" else 0.15)
    question = sample.ask(rng, field, ref, sample.KIND_NOUN[rec["id"][:3]])
    tags = ["answerable", field] + (["by_title"] if by_title else [])
    return _case(context, [{"role": "user", "content": question}], [rec["id"], rec[field]], False, tags, "answer",
                 answer=[rec[field]])


def refusal_case(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.1:
        rid = sample.absent_id(rng, None, "golden")
        field = rng.choice(["status", "owner", "due"])
        question = sample.ask(rng, field, rid, sample.KIND_NOUN[rid[:3]])
        return _case(None, [{"role": "user", "content": question}], [], True, ["refusal", "no_context", field],
                     "refusal")
    context = sample.make_context(rng, "golden")
    if roll < 0.7:
        rid = sample.absent_id(rng, context, "golden")
        field = rng.choice(["status", "owner", "due", "title"])
        question = sample.ask(rng, field, rid, sample.KIND_NOUN[rid[:3]])
        return _case(context, [{"role": "user", "content": question}], [], True, ["refusal", "missing_record", field],
                     "refusal")
    rec = rng.choice(context["records"])
    field = rng.choice(sorted(sample.ABSENT_FIELDS))
    question = rng.choice(sample.PREFIXES) + rng.choice(sample.ABSENT_FIELDS[field]).format(ref=rec["id"])
    return _case(context, [{"role": "user", "content": question}], [], True,
                 ["refusal", "missing_field", field.replace(" ", "_")], "refusal")


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
        return _case(context, messages, [rec["id"], rec[field]], False,
                     ["followup", "multi_turn", field, "same_record"], "multi_turn", answer=[rec[field]])
    # "what about SMP-123?": the field is named only in the earlier turn
    other = rng.choice(others)
    messages.append({"role": "user", "content": rng.choice(sample.OTHER_RECORD_FOLLOWUPS).format(ref=other["id"])})
    return _case(context, messages, [other["id"], other[first]], False,
                 ["followup", "multi_turn", first, "other_record"], "multi_turn", answer=[other[first]])


# ---------------------------------------------------------------- extended cases (personas, hard, tools)

# seed 002's persona table: how each kind of user asks, per field. The reply should match their energy.
PERSONA_QUESTIONS = {
    "casual": {"status": ["yo what's up with {ref}?", "hey hey, how's {ref} doing lol"],
               "owner": ["yo who's got {ref}?", "hey who's on {ref} these days?"],
               "due": ["sooo when's {ref} due? \U0001F642", "hey when do we need {ref} done by"]},
    "senior_engineer": {"status": ["status {ref}", "{ref} state?"],
                        "owner": ["owner {ref}", "{ref} owner? need a name"],
                        "due": ["due {ref}", "{ref} deadline, date only"]},
    "stressed_oncall": {"status": ["HELP - {ref} status NOW, the run is blocked", "urgent!! need status of {ref} asap, PI on the phone"],
                        "owner": ["URGENT who owns {ref}?? need to call them now", "help, who do I page for {ref}"],
                        "due": ["HELP when is {ref} due, am I already late??", "asap: {ref} deadline??"]},
    "curious_learner": {"status": ["I'm new here, how do I read the status of {ref}, and what is it now?",
                                   "How does status tracking work? What does {ref} show?"],
                        "owner": ["How do I find out who owns {ref}? Who is it?", "I'm learning the system: who is responsible for {ref}?"],
                        "due": ["How are deadlines tracked here? When is {ref} due?", "I'm new, where do I see the due date of {ref} and what is it?"]},
    "executive": {"status": ["Status update on {ref}?", "TL;DR on {ref}?"],
                  "owner": ["Who's accountable for {ref}?", "Quick: who owns {ref}? One line."],
                  "due": ["Are we on track for {ref}? When is it due?", "Bottom line: when is {ref} due?"]},
}
# seed 001: conversational answers are 8-30 words; a senior engineer asked for terse, so no minimum.
PERSONA_WORDS = {"senior_engineer": (None, 30)}
AMBIGUOUS_QUESTIONS = {"status": ["What's the status of the {kind}?", "Can you check how the {kind} is going?"],
                       "owner": ["Who owns the {kind}?", "Who should I talk to about the {kind}?"],
                       "due": ["When is the {kind} due?", "What's the deadline for the {kind}?"]}
PRIORITY_QUESTIONS = ["I only have time for one today: {a} or {b}. Which one is due first?",
                      "My PI says {a} comes first, but which of {a} and {b} actually has the earlier deadline?",
                      "{a} and {b} are both on my plate. Which deadline is closer?"]
STRESS_QUESTIONS = {"owner": ["URGENT!!! instrument down, need owner of {ref} asap asap, who do i call",
                              "pls pls who owns {ref}?? boss is yelling and i cant find it"],
                    "status": ["everything is on fire. is {ref} ok or not?? just tell me the status",
                               "3am, pager going off, what state is {ref} in, quick"],
                    "due": ["panicking a bit: when is {ref} due?? did we miss it", "quick!! deadline for {ref}, need it for the incident report"]}
BACK_REFERENCES = ["Going back to the first one: {q}", "Back to the one I asked about first. {q}",
                   "Ok, and the first {kind} again: {q}"]
FALSE_PREMISE = ["Why was {id} cancelled?", "Who cancelled {id}, and why?", "Since {id} is finished, who signed it off?"]

TOOLS = {
    "lookup_record": {"name": "lookup_record", "description": "fetch a record not in CONTEXT",
                      "parameters": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^(PRJ|SMP|ORD)-[0-9]+$"}},
                                     "required": ["id"], "additionalProperties": False}},
    "notify_owner": {"name": "notify_owner", "description": "message a record's owner",
                     "parameters": {"type": "object", "properties": {"id": {"type": "string"}, "message": {"type": "string"}},
                                    "required": ["id", "message"], "additionalProperties": False}},
    "open_ticket": {"name": "open_ticket", "description": "open a facility ticket",
                    "parameters": {"type": "object", "properties": {"summary": {"type": "string"},
                                                                    "priority": {"enum": ["low", "normal", "high"]}},
                                   "required": ["summary", "priority"], "additionalProperties": False}},
}
LOOKUP_QUESTIONS = ["Can you pull up {id}? I need its status.", "Please look up {id} for me, who owns it?",
                    "{id} isn't on my screen, can you fetch it?"]
NOTIFY_QUESTIONS = ["Please let the owner of {id} know the samples arrived.", "Can you ping whoever owns {id} that the data is ready?",
                    "Tell the owner of {id} that their run finished."]
TICKET_QUESTIONS = ["The {instrument} is down again, please open a high priority ticket.",
                    "Open a ticket: the {instrument} lost vacuum. It's urgent, high priority.",
                    "Can you file a low priority ticket, the {instrument} needs a calibration check?"]


def small_context(rng: random.Random, n: int, prefixes: list[str] | None = None) -> dict[str, Any]:
    """A CONTEXT of `n` golden-partition records with distinct ids (the tool cases keep it small: the
    tool definitions share the tiny model's window)."""
    records: list[dict[str, str]] = []
    while len(records) < n:
        prefix = prefixes[len(records)] if prefixes else rng.choice(["PRJ", "SMP", "ORD"])
        rec = sample.make_record(rng, prefix, "golden")
        if all(r["id"] != rec["id"] and r["title"] != rec["title"] for r in records):
            records.append(rec)
    return {"records": records}


def persona_case(rng: random.Random, persona: str) -> dict[str, Any]:
    context = sample.make_context(rng, "golden")
    rec = rng.choice(context["records"])
    field = rng.choice(["status", "owner", "due"])
    question = rng.choice(PERSONA_QUESTIONS[persona][field]).format(ref=rec["id"])
    lo, hi = PERSONA_WORDS.get(persona, (8, 30))
    return _case(context, [{"role": "user", "content": question}], [rec["id"], rec[field]], False,
                 ["answerable", f"persona:{persona}", field], "persona", answer=[rec[field]], persona=persona,
                 min_words=lo, max_words=hi)


def ambiguity_case(rng: random.Random) -> dict[str, Any]:
    # two records of one kind and a question that names only the kind: list both (or ask which)
    prefix = rng.choice(["PRJ", "PRJ", "SMP"])
    context = small_context(rng, 3, [prefix, prefix, "ORD"])
    field = rng.choice(["status", "owner", "due"])
    kind = sample.KIND_NOUN[prefix]
    question = rng.choice(AMBIGUOUS_QUESTIONS[field]).format(kind=kind)
    both = [r["id"] for r in context["records"][:2]]
    return _case(context, [{"role": "user", "content": question}], both, False,
                 ["answerable", "hard:ambiguity", field], "hard")


def priority_case(rng: random.Random) -> dict[str, Any]:
    # conflicting priorities: the user's framing points one way, the CONTEXT's deadlines decide
    while True:
        context = small_context(rng, 2, ["PRJ", "PRJ"])
        a, b = context["records"]
        if a["due"] != b["due"]:
            break
    first = min((a, b), key=lambda r: r["due"])
    question = rng.choice(PRIORITY_QUESTIONS).format(a=a["id"], b=b["id"])
    return _case(context, [{"role": "user", "content": question}], [first["id"], first["due"]], False,
                 ["answerable", "hard:conflicting_priorities", "due"], "hard", answer=[first["id"]])


def stress_case(rng: random.Random) -> dict[str, Any]:
    context = sample.make_context(rng, "golden")
    rec = rng.choice(context["records"])
    field = rng.choice(["owner", "status", "due"])
    question = rng.choice(STRESS_QUESTIONS[field]).format(ref=rec["id"])
    return _case(context, [{"role": "user", "content": question}], [rec["id"], rec[field]], False,
                 ["answerable", "hard:stress", "persona:stressed_oncall", field], "hard", answer=[rec[field]],
                 persona="stressed_oncall", max_words=30)


def long_followup_case(rng: random.Random) -> dict[str, Any]:
    # the answer depends on the turn BEFORE the previous one: two records asked about, then "the first one"
    context = small_context(rng, 2, [rng.choice(["PRJ", "SMP"]), "PRJ"])
    a, b = context["records"]
    f1, f2 = rng.choice(["status", "owner", "due"]), rng.choice(["status", "owner", "due"])
    f3 = sample.followup_field(rng, f1)
    kind = sample.KIND_NOUN[a["id"][:3]]
    messages = [{"role": "user", "content": sample.ask(rng, f1, a["id"], kind)},
                {"role": "assistant", "content": sample.answer(rng, f1, a)},
                {"role": "user", "content": sample.ask(rng, f2, b["id"], sample.KIND_NOUN[b["id"][:3]])},
                {"role": "assistant", "content": sample.answer(rng, f2, b)},
                {"role": "user", "content": rng.choice(BACK_REFERENCES).format(
                    q=rng.choice(sample.FOLLOWUPS[f3]), kind=kind)}]
    return _case(context, messages, [a["id"], a[f3]], False, ["answerable", "multi_turn", "hard:followup", f3],
                 "multi_turn", answer=[a[f3]])


def false_premise_case(rng: random.Random) -> dict[str, Any]:
    # the question assumes a status the record does not have: the reply must state the real one
    while True:
        context = sample.make_context(rng, "golden")
        rec = rng.choice(context["records"])
        if rec["status"] not in ("cancelled", "completed", "delivered"):
            break
    question = rng.choice(FALSE_PREMISE).format(id=rec["id"])
    return _case(context, [{"role": "user", "content": question}], [rec["id"], rec["status"]], False,
                 ["answerable", "hard:false_premise", "status"], "hard", answer=[rec["status"]])


def tool_case(rng: random.Random, kind: str) -> dict[str, Any]:
    """A case offering tools: the call it must make (lookup/notify/ticket), or none when CONTEXT answers."""
    context = small_context(rng, 2)
    rec = rng.choice(context["records"])
    if kind == "lookup":
        rid = sample.absent_id(rng, context, "golden")
        tools = [TOOLS["lookup_record"], TOOLS["notify_owner"]]
        question = rng.choice(LOOKUP_QUESTIONS).format(id=rid)
        call = {"name": "lookup_record", "arguments": {"id": rid}}
        contains = ["lookup_record", rid]
    elif kind == "notify":
        tools = [TOOLS["notify_owner"], TOOLS["lookup_record"]]
        question = rng.choice(NOTIFY_QUESTIONS).format(id=rec["id"])
        call = {"name": "notify_owner", "arguments": {"id": rec["id"]}}
        contains = ["notify_owner", rec["id"]]
    elif kind == "ticket":
        tools = [TOOLS["open_ticket"], TOOLS["lookup_record"]]
        template = rng.choice(TICKET_QUESTIONS)
        priority = "low" if "low priority" in template else "high"
        question = template.format(instrument=rng.choice(sample.INSTRUMENTS))
        call = {"name": "open_ticket", "arguments": {"priority": priority}}
        contains = ["open_ticket", priority]
    elif kind == "none":
        tools = [TOOLS["lookup_record"], TOOLS["notify_owner"]]
        field = rng.choice(["status", "owner", "due"])
        question = sample.ask(rng, field, rec["id"], sample.KIND_NOUN[rec["id"][:3]])
        return _case(context, [{"role": "user", "content": question}], [rec["id"], rec[field]], False,
                     ["answerable", "tool", "tool:none", field], "tool", tools=tools, tool_call="none",
                     answer=[rec[field]])
    else:  # "followup": the id to look up was named two turns earlier
        rid = sample.absent_id(rng, context, "golden")
        tools = [TOOLS["lookup_record"], TOOLS["notify_owner"]]
        field = rng.choice(["status", "owner", "due"])
        messages = [{"role": "user", "content": sample.ask(rng, field, rid, sample.KIND_NOUN[rid[:3]])},
                    {"role": "assistant", "content": sample.refuse_missing_record(rng, rid, field)},
                    {"role": "user", "content": rng.choice(["Can you look it up then?", "ok, fetch it please",
                                                            "Could you pull that record?"])}]
        return _case(context, messages, ["lookup_record", rid], False, ["tool", "tool:lookup_record", "multi_turn"],
                     "tool", tools=tools, tool_call={"name": "lookup_record", "arguments": {"id": rid}})
    return _case(context, [{"role": "user", "content": question}], contains, False, ["tool", f"tool:{call['name']}"],
                 "tool", tools=tools, tool_call=call)


# how many of each extended kind: 20 persona (4 x 5), 28 hard, 22 tool cases
EXTENDED_PLAN = ([("persona", p) for p in PERSONAS for _ in range(4)]
                 + [("ambiguity", None)] * 6 + [("priority", None)] * 6 + [("stress", None)] * 6
                 + [("long_followup", None)] * 6 + [("false_premise", None)] * 4
                 + [("tool", k) for k in ["lookup"] * 6 + ["notify"] * 4 + ["ticket"] * 4 + ["none"] * 6 + ["followup"] * 2])


def extended_cases(seed: int = GOLDEN_SEED) -> list[dict[str, Any]]:
    """The persona, hard and tool cases (EXTENDED_PLAN), each kind from its own RNG stream, in a seeded order."""
    makers = {"persona": persona_case, "ambiguity": ambiguity_case, "priority": priority_case, "stress": stress_case,
              "long_followup": long_followup_case, "false_premise": false_premise_case, "tool": tool_case}
    rngs = {kind: random.Random(f"{seed}:{kind}") for kind in makers}
    cases = []
    for kind, arg in EXTENDED_PLAN:
        rng = rngs[kind]
        cases.append(makers[kind](rng, arg) if arg is not None else makers[kind](rng))
    random.Random(f"{seed}:order").shuffle(cases)
    return cases


def golden_set(seed: int = GOLDEN_SEED) -> list[dict[str, Any]]:
    """The committed golden set: the core 120 (g001-g120), then the extended cases (g121-)."""
    core = golden_cases(120, seed)
    return core + [{"id": f"g{i:03d}", **c} for i, c in enumerate(extended_cases(seed), start=len(core) + 1)]


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
    ap.add_argument("--seed", type=int, default=GOLDEN_SEED)
    args = ap.parse_args(argv)
    n = write_jsonl(args.out, golden_set(args.seed))
    print(f"golden: {n} cases -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
