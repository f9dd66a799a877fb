"""The embedded default data: a generated iSPEC support-assistant SQLite log database (seed 000's shape).

iSPEC is a lab's project-tracking system; its support assistant answers staff questions grounded in a
backend CONTEXT JSON. This module writes a deterministic stand-in for that assistant's log database, so
the whole pipeline runs with no download. It is not a source adapter (that is `logtune.sources`) and it
is never used to score a model (the golden set, `logtune.sample.golden`, uses disjoint entities).

Tables (the layout the `assistant_sqlite` adapter reads by default):

``support_session``
    ``id`` INTEGER primary key; ``created_at`` TEXT (ISO-8601, UTC); ``user_ref`` TEXT (opaque staff ref);
    ``status`` TEXT ``ok`` | ``error``; ``error`` TEXT (why the session broke, else NULL);
    ``system_prompt`` TEXT (the prompt the assistant ran with; older sessions ran an older prompt);
    ``model_version`` TEXT; ``state_json`` TEXT (the backend's CONTEXT JSON: 2-4 records with id, title,
    owner, status, due and sometimes instrument; NULL when the page had no records; a few are truncated).

``support_message``
    ``id`` INTEGER primary key; ``session_id`` INTEGER (-> support_session.id); ``role`` TEXT
    ``user`` | ``assistant``; ``content`` TEXT; ``created_at`` TEXT; ``feedback`` INTEGER 1 (thumbs up),
    -1 (thumbs down) or NULL; ``feedback_note`` TEXT (the user's comment); ``feedback_meta_json`` TEXT,
    JSON like ``{"tags": ["wrong_fact"], "rewrite": "..."}``, where ``rewrite`` is a human correction of a
    down-voted reply (the correct grounded answer).

What is planted, on purpose, for the later stages to find: answerable questions (status / owner / due
date / title / instrument of a record in CONTEXT; the reply cites the id and the fact), unanswerable ones
(a record or field not in CONTEXT; the reply is a refusal matching `logtune.refusal.is_refusal`),
multi-turn follow-ups ("and who owns it?"), up- and down-votes, down-votes with human rewrites, replies
that invent an id, broken sessions (errors, empty content, no assistant reply, truncated CONTEXT), and
PII and secrets in user messages and feedback notes (emails, phone numbers, API keys).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from logtune.ids import content_id
from logtune.io import atomic_path
from logtune.prompt import compact_context
from logtune.refusal import is_refusal

# The prompt older sessions ran with, before the current `params.yaml: assistant.system_prompt`.
OLD_SYSTEM_PROMPT = "You are iSPEC's helpful assistant. Use the CONTEXT JSON to answer staff questions."
OLD_MODEL_VERSION = "tulu3-8b-ispec-2025.01"
NEW_MODEL_VERSION = "tulu3-8b-ispec-2025.04"
START = datetime(2025, 1, 6, 8, 0, 0)
MAX_CONTEXT_CHARS = 380  # the tiny model's window (~384 tokens) must also hold prompt, history and reply


@dataclass(frozen=True)
class SampleParams:
    seed: int = 7
    sessions: int = 600
    old_prompt_share: float = 0.4   # the oldest sessions ran with OLD_SYSTEM_PROMPT
    bad_reply_rate: float = 0.1     # assistant turns that are wrong (all of them get a thumbs down)
    rewrite_rate: float = 0.7       # share of down-voted bad replies that a human rewrote
    pii_rate: float = 0.06          # sessions whose first user message carries PII or a secret


# ---------------------------------------------------------------- entities

FIRST = ["Dana", "Priya", "Marcus", "Elena", "Tomas", "Aiko", "Samuel", "Grace", "Omar", "Lena", "Victor",
         "Chloe", "Ravi", "Nadia", "Jonas", "Maya", "Felix", "Ingrid", "Kwame", "Sofia", "Hugo", "Mei",
         "Daniel", "Yusuf", "Clara", "Anton", "Leila", "Pavel", "Rosa", "Ethan"]
LAST = ["Ruiz", "Patel", "Chen", "Okafor", "Novak", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Brennan",
        "Kowalski", "Sato", "Mendes", "Fischer", "Adeyemi", "Larsen", "Ivanova", "Park", "Dubois", "Romero",
        "Nguyen", "Schmidt", "Kaur", "Olsen", "Rossi", "Weber", "Ali", "Murphy", "Costa", "Berg"]
TOPIC = ["Kinase", "Plasma", "Liver", "Tumor", "Yeast", "Mitochondria", "Phospho", "Glycan", "Lipid",
         "Membrane", "Serum", "Brain", "Microbiome", "Histone", "Cardiac", "Retina", "Synapse", "Stem cell",
         "Immune", "Root"]
STUDY = ["proteome pilot", "interactome map", "time course", "dose response", "biomarker panel",
         "stability study", "enrichment run", "turnover assay", "QC series", "validation set", "atlas",
         "screen", "profiling", "crosslinking study", "method comparison"]
SAMPLE_KIND = ["lysate", "plasma", "digest", "pulldown", "fraction", "extract"]
ORDER_ITEM = ["Trypsin restock", "C18 columns", "TMT 16plex kit", "LC solvents", "Nitrogen dewar",
              "Pipette tips", "Spin filters", "Iodoacetamide", "Formic acid", "Autosampler vials",
              "Nano LC emitters", "BCA assay kit"]
INSTRUMENTS = ["Orbitrap Exploris 480", "timsTOF Pro 2", "Q Exactive HF", "Orbitrap Eclipse"]
STATUSES = {
    "PRJ": ["in progress", "on hold", "awaiting samples", "completed", "in review", "planning"],
    "SMP": ["received", "queued", "running", "completed", "failed QC", "awaiting prep"],
    "ORD": ["submitted", "approved", "shipped", "delivered", "backordered", "cancelled"],
}
KIND_NOUN = {"PRJ": "project", "SMP": "sample", "ORD": "order"}
ID_DIGITS = {"PRJ": (1000, 9999), "SMP": (10000, 99999), "ORD": (100, 999)}
LAB_DOMAINS = ["ispec-lab.org", "bio.example.edu", "proteomics.example.com"]


def in_partition(key: str, partition: str) -> bool:
    """Entities are split by hash: `golden` gets a fifth of ids, titles and people, `train` the rest,
    so no golden case can appear in the training data whatever seeds are used."""
    golden = int(content_id("entity", key), 16) % 5 == 0
    return golden if partition == "golden" else not golden


def _pick(rng: random.Random, make, partition: str) -> str:
    while True:
        value = make()
        if in_partition(value, partition):
            return value


def person(rng: random.Random, partition: str) -> str:
    return _pick(rng, lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}", partition)


def record_id(rng: random.Random, prefix: str, partition: str) -> str:
    lo, hi = ID_DIGITS[prefix]
    return _pick(rng, lambda: f"{prefix}-{rng.randint(lo, hi)}", partition)


def make_record(rng: random.Random, prefix: str, partition: str) -> dict[str, str]:
    if prefix == "PRJ":
        title = _pick(rng, lambda: f"{rng.choice(TOPIC)} {rng.choice(STUDY)}", partition)
    elif prefix == "SMP":
        title = _pick(rng, lambda: f"{rng.choice(TOPIC)} {rng.choice(SAMPLE_KIND)} batch {rng.randint(1, 40)}",
                      partition)
    else:
        title = _pick(rng, lambda: f"{rng.choice(ORDER_ITEM)} x{rng.randint(2, 24)}", partition)
    due = (datetime(2025, 2, 1) + timedelta(days=rng.randint(0, 540))).strftime("%Y-%m-%d")
    rec = {"id": record_id(rng, prefix, partition), "title": title, "owner": person(rng, partition),
           "status": rng.choice(STATUSES[prefix]), "due": due}
    if prefix == "SMP" and rng.random() < 0.6:
        rec["instrument"] = rng.choice(INSTRUMENTS)
    return rec


def make_context(rng: random.Random, partition: str) -> dict[str, Any]:
    """A CONTEXT of 2-4 records with distinct ids, kept under MAX_CONTEXT_CHARS as compact JSON."""
    n = rng.choice([2, 2, 3, 3, 3, 4])
    prefixes = ["PRJ"] + [rng.choice(["PRJ", "SMP", "SMP", "ORD"]) for _ in range(n - 1)]
    records: list[dict[str, str]] = []
    for prefix in prefixes:
        rec = make_record(rng, prefix, partition)
        if all(r["id"] != rec["id"] for r in records):
            records.append(rec)
    context = {"records": records}
    while len(compact_context(context)) > MAX_CONTEXT_CHARS and len(records) > 2:
        records.pop()
    return context


def absent_id(rng: random.Random, context: dict[str, Any] | None, partition: str) -> str:
    present = {r["id"] for r in (context or {}).get("records", [])}
    while True:
        rid = record_id(rng, rng.choice(["PRJ", "PRJ", "SMP", "ORD"]), partition)
        if rid not in present:
            return rid


# ---------------------------------------------------------------- phrasings

FIELD_WEIGHTS = {"status": 35, "owner": 25, "due": 25, "title": 10, "instrument": 5}
QUESTIONS = {
    "status": ["What's the status of {ref}?", "what is the current status of {ref}", "Any update on {ref}?",
               "Where does {ref} stand right now?", "Can you check on {ref} for me?", "Is {ref} done yet?",
               "status of {ref}?", "What state is {ref} in?", "Has there been progress on {ref}?",
               "Could you tell me how {ref} is going?", "I need the latest status for {ref}, please.",
               "hey, how's {ref} coming along?"],
    "owner": ["Who owns {ref}?", "Who is responsible for {ref}?", "Who should I contact about {ref}?",
              "Who's the owner of {ref}?", "who is in charge of {ref}", "Which person is assigned to {ref}?",
              "Can you tell me who runs {ref}?", "I need the contact person for {ref}."],
    "due": ["When is {ref} due?", "What's the due date for {ref}?", "What is the deadline on {ref}?",
            "when does {ref} need to be finished", "By what date is {ref} expected?",
            "Is there a due date set for {ref}?", "What's the target date for {ref}?"],
    "title": ["What is {ref}?", "What's the title of {ref}?", "What is {ref} called?",
              "Remind me what {ref} is about?", "What's the name on {ref}?", "Which {kind} is {ref}?"],
    "instrument": ["Which instrument is {ref} on?", "What instrument will run {ref}?",
                   "Which mass spec is {ref} booked on?"],
}
PI_QUESTIONS = ["Who is the PI on {ref}?", "Who's the PI for {ref}?"]
# Fields the CONTEXT never holds: asking for one must be refused.
ABSENT_FIELDS = {
    "budget": ["What's the budget for {ref}?", "How much budget is left on {ref}?"],
    "cost center": ["Which cost center pays for {ref}?", "What cost center is {ref} billed to?"],
    "storage location": ["Where is {ref} stored?", "Which freezer is {ref} in?"],
    "shipping address": ["Where will {ref} be shipped?", "What's the shipping address for {ref}?"],
}
FOLLOWUPS = {
    "status": ["And what's its status?", "and the status?", "Is it done yet?", "How is it going, then?"],
    "owner": ["And who owns it?", "who's the owner?", "Who should I ask about it?", "And who is responsible?"],
    "due": ["When is it due?", "and the due date?", "What's its deadline?", "When does it need to be done?"],
    "title": ["What's it called again?", "And its title?"],
}
OTHER_RECORD_FOLLOWUPS = ["What about {ref}?", "And {ref}?", "Same question for {ref}.", "how about {ref}?"]
PREFIXES = ["", "", "", "", "", "Hi, ", "Hello! ", "Quick one: ", "Sorry to bother you, ", "Morning. "]
SUFFIXES = ["", "", "", "", "", " Thanks!", " Thanks.", " I need it for a meeting.", " The PI is asking."]

ANSWERS = {
    "status": ["{id} ({title}) is currently {status}, per the record.", "The status of {id} is {status}, according to the current record.",
               "According to CONTEXT, {id} is {status}. The owner is {owner}.",
               "{id} is marked {status} in iSPEC; {owner} is the owner.", "Right now {id} ({title}) shows as {status}.",
               "{id} is {status}. Let me know if you need its due date or owner.",
               "The record for {id} lists its status as {status}.", "Current status of {id}: {status}. It is due on {due}."],
    "owner": ["{id} ({title}) is owned by {owner}.", "The owner of {id} is {owner}; they are the best contact for it.",
              "{owner} is responsible for {id} ({title}).", "According to the record, {owner} owns {id}.",
              "You can contact {owner}, who is listed as the owner of {id}.",
              "{id} is assigned to {owner}, per the current record."],
    "due": ["{id} ({title}) is due on {due}, according to CONTEXT.", "The due date for {id} is {due}, and it is currently {status}.",
            "According to CONTEXT, {id} has a deadline of {due}.", "{id} should be finished by {due}, per the record.",
            "The record lists {due} as the due date for {id}.", "{id} is due {due}; {owner} owns it, per CONTEXT."],
    "title": ["{id} is the {kind} titled \"{title}\" in iSPEC.", "{id} is titled {title}; it is owned by {owner}.",
              "The title of {id} is \"{title}\", and its status is {status}.",
              "{id} refers to the {kind} {title}, owned by {owner}."],
    "instrument": ["{id} is scheduled on the {instrument}, according to the record.",
                   "The record for {id} lists the {instrument} as its instrument.",
                   "{id} ({title}) runs on the {instrument}."],
}
# How the assistant in the sample logs replies: the id first, then the fact quoted as CONTEXT has it, with
# no "According to CONTEXT" opener (seed 001's style rule). `ANSWERS` above are the older assistant's
# phrasings, kept because the golden set's earlier turns quote them (`sample.golden`).
REPLIES = {  # each 8-30 words, as seed 001's conversational answers (and the golden persona cases) ask
    "status": ["{id} ({title}) is currently {status}, per the record.", "{id} is {status} right now; {owner} is the owner.",
               "{id} is marked {status} in iSPEC, and it is due on {due}.",
               "{id} ({title}) shows as {status} in iSPEC right now.",
               "{id} is {status}. Let me know if you need its due date or owner."],
    "owner": ["{id} ({title}) is owned by {owner}.", "{id} is owned by {owner}; they are the best contact for it.",
              "{id} is assigned to {owner}, per the current record.",
              "{id} belongs to {owner}, who is the right person to ask."],
    "due": ["{id} ({title}) is due on {due}, per the record.", "{id} is due on {due}, and it is currently {status}.",
            "{id} has a deadline of {due}; {owner} owns it.", "{id} should be finished by {due}, per the current record."],
    "title": ["{id} is the {kind} titled \"{title}\" in iSPEC.", "{id} is titled {title}; it is owned by {owner}.",
              "{id} is the {title} {kind}, owned by {owner}."],
    "instrument": ["{id} is scheduled on the {instrument}, according to the record.",
                   "{id} ({title}) runs on the {instrument}.", "{id} is booked on the {instrument} for its run."],
}
PI_REPLIES = ["{id}'s PI is {owner}, per the project record.", "{id} ({title}) has {owner} as its PI."]
PI_ANSWERS = ["The PI on {id} is {owner}, per the project record.", "{owner} is the PI for {id} ({title})."]
# Refusals never repeat an id that is not in CONTEXT: citing it would itself look like an invented id.
REFUSE_MISSING_RECORD = [
    "I couldn't find that {kind} in the current context, so I can't tell you its {field}.",
    "I don't see that {kind} in the context I was given. Please check the ID.",
    "There is no record of that {kind} in the provided context.",
    "That {kind} is not in the provided context; please double-check the ID or open it in iSPEC.",
    "Sorry, I can't find that {kind} in my current context, so I won't guess its {field}.",
    "I'm unable to find that {kind} in the context I have. Could you confirm the ID?",
    "That ID isn't in the context I was given, so I can't report its {field}.",
    "I have no information about that {kind} in the current context.",
]
REFUSE_MISSING_FIELD = [
    "I don't have {field} details for {id} in the current context.",
    "The record for {id} has no {field} listed, so I couldn't find that.",
    "I can't find the {field} for {id} in the provided context.",
    "There is no information about the {field} of {id} in the context, sorry.",
    "I'm unable to find any {field} for {id}; the record doesn't include it.",
]
REFUSE_NO_CONTEXT = [
    "I don't have any records in context right now, so I can't look that up.",
    "I couldn't find any records in the current context. Please open the record in iSPEC and ask again.",
    "I can't find any record data in my current context, so I can't answer that yet.",
]
VAGUE = ["Please check the iSPEC dashboard for the latest information on that.",
         "You may want to ask the core facility team directly about that one.",
         "That depends on several factors; the project page in iSPEC should have more."]


def ref_for(rng: random.Random, record: dict[str, str], by_title_rate: float = 0.15) -> tuple[str, bool]:
    """How the user names the record: usually its id, sometimes its title ('the Liver atlas project')."""
    if rng.random() < by_title_rate:
        return f"the {record['title']} {KIND_NOUN[record['id'][:3]]}", True
    return record["id"], False


def ask(rng: random.Random, field: str, ref: str, kind: str, decorate: bool = True) -> str:
    pool = QUESTIONS[field] + (PI_QUESTIONS if field == "owner" and kind == "project" else [])
    text = rng.choice(pool).format(ref=ref, kind=kind)
    if decorate:
        text = rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)
    return text[0].upper() + text[1:] if rng.random() < 0.7 else text


def answer(rng: random.Random, field: str, record: dict[str, str]) -> str:
    kind = KIND_NOUN[record["id"][:3]]
    pool = ANSWERS[field] + (PI_ANSWERS if field == "owner" and kind == "project" else [])
    return rng.choice(pool).format(kind=kind, **record)


def reply(rng: random.Random, field: str, record: dict[str, str]) -> str:
    """The sample assistant's grounded reply (`REPLIES`); `answer` is the older phrasing the golden set quotes."""
    kind = KIND_NOUN[record["id"][:3]]
    pool = REPLIES[field] + (PI_REPLIES if field == "owner" and kind == "project" else [])
    return rng.choice(pool).format(kind=kind, **record)


def refuse_missing_record(rng: random.Random, rid: str, field: str) -> str:
    return rng.choice(REFUSE_MISSING_RECORD).format(kind=KIND_NOUN[rid[:3]], field=_field_words(field))


def refuse_missing_field(rng: random.Random, rid: str, field: str) -> str:
    return rng.choice(REFUSE_MISSING_FIELD).format(id=rid, field=field)


def _field_words(field: str) -> str:
    return {"due": "due date", "owner": "owner"}.get(field, field)


def followup_field(rng: random.Random, previous: str) -> str:
    """The field a pronoun follow-up ("and who owns it?") asks, weighted like first questions."""
    fields = [f for f in FOLLOWUPS if f != previous]
    return rng.choices(fields, weights=[FIELD_WEIGHTS[f] for f in fields])[0]


def pick_field(rng: random.Random, record: dict[str, str]) -> str:
    fields = [f for f in FIELD_WEIGHTS if f in record]
    return rng.choices(fields, weights=[FIELD_WEIGHTS[f] for f in fields])[0]


# ---------------------------------------------------------------- PII

def plant_pii(rng: random.Random) -> tuple[str, str]:
    """A sentence carrying one PII value or secret, and its kind (what curation must catch)."""
    kind = rng.choice(["EMAIL", "EMAIL", "PHONE", "PHONE", "API_KEY", "AWS_KEY"])
    if kind == "EMAIL":
        value = f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}@{rng.choice(LAB_DOMAINS)}"
        text = rng.choice([" You can reach me at {v}.", " My email is {v} if you need it.", " (cc {v})"])
    elif kind == "PHONE":
        tail = rng.randint(100, 199)
        value = rng.choice([f"+1 617-555-0{tail}", f"(617) 555-0{tail}", f"617.555.0{tail}"])
        text = rng.choice([" Call me at {v} if easier.", " My number is {v}.", " Phone: {v}."])
    elif kind == "API_KEY":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        value = "sk-ant-api03-" + "".join(rng.choice(alphabet) for _ in range(40))
        text = rng.choice([" My API key is {v}, in case you need it.", " The script uses {v} and fails."])
    else:
        value = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        text = rng.choice([" Our upload key is {v} if that helps.", " The S3 job with {v} also broke."])
    return text.format(v=value), kind


# ---------------------------------------------------------------- sessions

def _turn(rng: random.Random, context: dict | None, prev: dict | None) -> dict[str, Any]:
    """One user question and its correct reply. `prev` (the last turn) enables follow-ups."""
    records = (context or {}).get("records", [])
    if not records:
        rid = absent_id(rng, None, "train")
        field = rng.choice(["status", "owner", "due"])
        q = ask(rng, field, rid, KIND_NOUN[rid[:3]])
        return {"q": q, "a": rng.choice(REFUSE_NO_CONTEXT), "kind": "no_context", "field": field, "record": None}
    if prev is not None and prev.get("record") is not None and rng.random() < 0.8:
        rec = prev["record"]
        if rng.random() < 0.6:
            field = followup_field(rng, prev["field"])
            return {"q": rng.choice(FOLLOWUPS[field]), "a": reply(rng, field, rec), "kind": "followup",
                    "field": field, "record": rec}
        field = prev["field"] if prev["field"] in FOLLOWUPS else "status"
        if rng.random() < 0.25:
            rid = absent_id(rng, context, "train")
            return {"q": rng.choice(OTHER_RECORD_FOLLOWUPS).format(ref=rid),
                    "a": refuse_missing_record(rng, rid, field), "kind": "refusal", "field": field,
                    "record": None, "asked_id": rid}
        others = [r for r in records if r["id"] != rec["id"]]
        other = rng.choice(others) if others else rec
        return {"q": rng.choice(OTHER_RECORD_FOLLOWUPS).format(ref=other["id"]), "a": reply(rng, field, other),
                "kind": "followup", "field": field, "record": other}
    roll = rng.random()
    if roll < 0.2:
        rid = absent_id(rng, context, "train")
        field = rng.choice(["status", "owner", "due", "title"])
        return {"q": ask(rng, field, rid, KIND_NOUN[rid[:3]]), "a": refuse_missing_record(rng, rid, field),
                "kind": "refusal", "field": field, "record": None, "asked_id": rid}
    rec = rng.choice(records)
    if roll < 0.28:
        field = rng.choice(sorted(ABSENT_FIELDS))
        q = rng.choice(PREFIXES) + rng.choice(ABSENT_FIELDS[field]).format(ref=rec["id"])
        return {"q": q, "a": refuse_missing_field(rng, rec["id"], field), "kind": "refusal", "field": field,
                "record": None}
    field = pick_field(rng, rec)
    ref, _ = ref_for(rng, rec, 0.0 if field == "title" else 0.15)
    return {"q": ask(rng, field, ref, KIND_NOUN[rec["id"][:3]]), "a": reply(rng, field, rec),
            "kind": "answer", "field": field, "record": rec}


def _bad_reply(rng: random.Random, turn: dict, context: dict | None) -> tuple[str, list[str], str]:
    """A wrong reply for a turn: text, feedback tags, the user's note."""
    records = (context or {}).get("records", [])
    rec = turn["record"]
    if rec is None:
        # The assistant answered what it should have refused, inventing the facts (and often the id).
        rid = turn.get("asked_id") or absent_id(rng, context, "train")
        status = rng.choice(STATUSES[rid[:3]])
        text = rng.choice(["{id} is currently {s} and owned by {o}.", "{id} is {s}; {o} is the owner."]).format(
            id=rid, s=status, o=person(rng, "train"))
        return text, ["hallucination"], rng.choice(["That record isn't even on this page.", "Made this up."])
    roll = rng.random()
    if roll < 0.3:
        # A near-miss of the real id (the typical invention), never in CONTEXT nor in the golden partition.
        fake, step = rec["id"], rng.randint(1, 9)
        while fake == rec["id"] or any(r["id"] == fake for r in records) or not in_partition(fake, "train"):
            fake = rec["id"][:4] + str(int(rec["id"][4:]) + step)
            step += 1
        text = rng.choice(["{fake} is {status}; it belongs to {owner}.",
                           "{id} is {status}; see also {fake} for the follow-up work."]).format(fake=fake, **rec)
        return text, ["hallucinated_id"], rng.choice(["That ID doesn't exist.", f"There is no {fake}.",
                                                      "Wrong ID, nothing like that in iSPEC."])
    if roll < 0.65:
        wrong = dict(rec)
        field = turn["field"] if turn["field"] in ("status", "owner", "due") else "status"
        if field == "status":
            wrong["status"] = rng.choice([s for s in STATUSES[rec["id"][:3]] if s != rec["status"]])
        elif field == "owner":
            wrong["owner"] = person(rng, "train")
        else:
            wrong["due"] = (datetime(2025, 2, 1) + timedelta(days=rng.randint(0, 540))).strftime("%Y-%m-%d")
        return reply(rng, field, wrong), ["wrong_fact"], rng.choice(
            ["That's wrong.", f"Wrong {_field_words(field)}.", "Not what the record says.", "Incorrect, check CONTEXT."])
    if roll < 0.85:
        return refuse_missing_record(rng, rec["id"], turn["field"]), ["false_refusal"], rng.choice(
            ["It's right there on the page.", "The record is in context!", "Why can't you see it?"])
    return rng.choice(VAGUE), ["unhelpful"], rng.choice(["Not helpful.", "Just answer the question.", ""])


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_session(rng: random.Random, sid: int, params: SampleParams, system_prompt: str,
                     clock: datetime, next_msg_id: int) -> tuple[dict, list[dict], dict]:
    """One session row, its message rows and what was planted in it (for metrics and tests)."""
    old = sid <= int(params.sessions * params.old_prompt_share)
    planted: dict[str, Any] = {"pii": [], "broken": None}
    session = {"id": sid, "created_at": _stamp(clock), "user_ref": f"staff-{rng.randint(1, 80):03d}",
               "status": "ok", "error": None, "system_prompt": OLD_SYSTEM_PROMPT if old else system_prompt,
               "model_version": OLD_MODEL_VERSION if old else NEW_MODEL_VERSION, "state_json": None}
    context = None if rng.random() < 0.03 else make_context(rng, "train")
    if context is not None:
        session["state_json"] = json.dumps(context, separators=(",", ":"))
    n_turns = rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0]
    messages: list[dict] = []
    t = clock
    prev = None

    def add(role: str, content: str, **feedback: Any) -> dict:
        nonlocal t, next_msg_id
        t += timedelta(seconds=rng.randint(3, 90))
        row = {"id": next_msg_id, "session_id": sid, "role": role, "content": content, "created_at": _stamp(t),
               "feedback": None, "feedback_note": None, "feedback_meta_json": None, **feedback}
        next_msg_id += 1
        messages.append(row)
        return row

    for i in range(n_turns):
        turn = _turn(rng, context, prev)
        question = turn["q"]
        if i == 0 and rng.random() < params.pii_rate:
            sentence, kind = plant_pii(rng)
            question += ("" if question[-1] in ".?!" else ".") + sentence
            planted["pii"].append(kind)
        add("user", question)
        if rng.random() < params.bad_reply_rate:
            text, tags, note = _bad_reply(rng, turn, context)
            meta: dict[str, Any] = {"tags": tags}
            if rng.random() < params.rewrite_rate:
                meta["rewrite"] = turn["a"]
            if note and rng.random() < 0.03:
                pii, kind = plant_pii(rng)
                note += pii
                planted["pii"].append(kind)
            add("assistant", text, feedback=-1, feedback_note=note or None,
                feedback_meta_json=json.dumps(meta, sort_keys=True))
            planted.setdefault("bad", []).append(tags[0])
        else:
            roll = rng.random()
            if roll < 0.3:
                fb = {"feedback": 1, "feedback_note": rng.choice([None, None, "Thanks!", "Perfect.", "helpful"]),
                      "feedback_meta_json": json.dumps({"tags": ["helpful"]})}
            elif roll < 0.34:
                fb = {"feedback": -1, "feedback_note": rng.choice(["Too short.", "I wanted more detail.", "meh"]),
                      "feedback_meta_json": json.dumps({"tags": ["style"]})}
            else:
                fb = {}
            add("assistant", turn["a"], **fb)
        prev = turn

    # Broken sessions, as a real log has them.
    roll = rng.random()
    if roll < 0.04:
        session["status"] = "error"
        session["error"] = rng.choice(["backend timeout while building CONTEXT", "model server returned 503",
                                       "CUDA out of memory", "context_length_exceeded"])
        if messages[-1]["role"] == "assistant" and rng.random() < 0.7:
            messages.pop()
        planted["broken"] = "error"
    elif roll < 0.06:
        last = [m for m in messages if m["role"] == "assistant"][-1]
        last.update(content="", feedback=None, feedback_note=None, feedback_meta_json=None)
        planted["broken"] = "empty_content"
    elif roll < 0.09:
        del messages[1:]  # the user asked, the assistant never answered
        planted["broken"] = "no_reply"
    elif roll < 0.105 and session["state_json"]:
        session["state_json"] = session["state_json"][: len(session["state_json"]) // 2]
        planted["broken"] = "truncated_context"
    return session, messages, planted


SCHEMA_SQL = """
CREATE TABLE support_session (
  id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, user_ref TEXT, status TEXT NOT NULL, error TEXT,
  system_prompt TEXT, model_version TEXT, state_json TEXT);
CREATE TABLE support_message (
  id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT, created_at TEXT NOT NULL,
  feedback INTEGER, feedback_note TEXT, feedback_meta_json TEXT);
CREATE INDEX support_message_session ON support_message (session_id, created_at, id);
"""
SESSION_COLS = ["id", "created_at", "user_ref", "status", "error", "system_prompt", "model_version", "state_json"]
MESSAGE_COLS = ["id", "session_id", "role", "content", "created_at", "feedback", "feedback_note", "feedback_meta_json"]


def generate(params: SampleParams, system_prompt: str) -> tuple[list[dict], list[dict], list[dict]]:
    """All sessions, messages and plantings, from `random.Random(params.seed)` alone."""
    rng = random.Random(params.seed)
    sessions, messages, planted = [], [], []
    clock, next_msg_id = START, 1
    for sid in range(1, params.sessions + 1):
        clock += timedelta(minutes=rng.randint(20, 900))
        s, ms, p = generate_session(rng, sid, params, system_prompt, clock, next_msg_id)
        next_msg_id += len(ms)
        sessions.append(s)
        messages.extend(ms)
        planted.append(p)
    # Messages whose session was deleted (a retention job that cleaned one table only): export must
    # quarantine them as orphans, not drop them.
    for n in range(2):
        clock += timedelta(minutes=5)
        messages.append({"id": next_msg_id + n, "session_id": params.sessions + 1000 + n, "role": "user",
                         "content": ask(rng, "status", record_id(rng, "PRJ", "train"), "project"),
                         "created_at": _stamp(clock), "feedback": None, "feedback_note": None,
                         "feedback_meta_json": None})
    return sessions, messages, planted


def write_db(path: str | Path, sessions: list[dict], messages: list[dict]) -> None:
    """Write the tables in one transaction to a temp file, then move it in place (no half-written DB)."""
    with atomic_path(path) as tmp:
        con = sqlite3.connect(tmp)
        try:
            con.executescript(SCHEMA_SQL)
            with con:
                con.executemany(f"INSERT INTO support_session VALUES ({','.join('?' * len(SESSION_COLS))})",
                                [tuple(s[c] for c in SESSION_COLS) for s in sessions])
                con.executemany(f"INSERT INTO support_message VALUES ({','.join('?' * len(MESSAGE_COLS))})",
                                [tuple(m[c] for c in MESSAGE_COLS) for m in messages])
        finally:
            con.close()


def uniqueness_ratio(texts: list[str]) -> float:
    """Distinct texts / texts (seed 004's measure of how repetitive a dataset is)."""
    texts = [t for t in texts if t]
    return round(len(set(texts)) / len(texts), 4) if texts else 0.0


def sample_metrics(sessions: list[dict], messages: list[dict], planted: list[dict]) -> dict[str, Any]:
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    questions = [m["content"] for m in messages if m["role"] == "user"]
    pii = Counter(k for p in planted for k in p["pii"])
    ids = {s["id"] for s in sessions}
    return {
        "sessions": len(sessions),
        "messages": len(messages),
        "orphan_messages": len(messages) - sum(m["session_id"] in ids for m in messages),
        "sessions_by_status": dict(sorted(Counter(s["status"] for s in sessions).items())),
        "broken_sessions": dict(sorted(Counter(p["broken"] for p in planted if p["broken"]).items())),
        "rated_up": sum(m["feedback"] == 1 for m in messages),
        "rated_down": sum(m["feedback"] == -1 for m in messages),
        "rewrites": sum('"rewrite"' in (m["feedback_meta_json"] or "") for m in messages),
        "bad_replies": dict(sorted(Counter(b for p in planted for b in p.get("bad", [])).items())),
        "refusal_replies": sum(is_refusal(r) for r in replies if r),
        "planted_pii": sum(pii.values()),
        "planted_pii_by_kind": dict(sorted(pii.items())),
        "prompt_versions": len({s["system_prompt"] for s in sessions}),
        "reply_uniqueness": uniqueness_ratio(replies),
        "question_uniqueness": uniqueness_ratio(questions),
    }


def build_sample_db(path: str | Path, params: SampleParams, system_prompt: str) -> dict[str, Any]:
    """Generate the database at `path`; return its metrics."""
    sessions, messages, planted = generate(params, system_prompt)
    write_db(path, sessions, messages)
    return sample_metrics(sessions, messages, planted)
