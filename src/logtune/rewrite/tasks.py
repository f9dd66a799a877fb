"""The five rewrite tasks: which built records each takes, what it asks, and the records it makes.

A task = `select` (Items from the built records, in id order, at most `limit`), the template values of
an Item (prompts/<task>.txt), its offline rule (`rewrite.offline`) and `make`: the provider's text ->
new records, after the checks (`rewrite.checks`; a failure raises `Failed` with the reason). Every
record made carries provenance `synthetic`, `generated_by` {provider, model, task, prompt_version},
the source record's conversation id (so mix keeps it on its source session's side of the split) and
a `rule` naming the task:
  conversational  extractive SFT answer (seed 001)   -> SFT `llm_conversational` (qa, phase conversational)
  refusal         refusal SFT record (seed 001)      -> SFT `llm_refusal` (refusal, phase refusals)
  downvote        thumbs-down KTO example (seed 000) -> DPO pair `llm_downvote_pair`: the revision chosen,
                                                        the down-voted reply rejected
  persona         none: `count` plans (seed 002)     -> SFT `llm_persona` (trajectory, ~30% multi-turn)
  corrections     correction pair (seed 002)         -> (multiply - 1) variations, each a DPO pair
                                                        `llm_correction_pair` + SFT `llm_correction_sft`
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from logtune import toolcalls
from logtune.ids import content_id
from logtune.prompt import render_system, split_system
from logtune.refusal import is_refusal
from logtune.rewrite import checks, offline
from logtune.normalize import normalize_text
from logtune.rewrite.checks import Failed
from logtune.rewrite.params import RewriteParams



@dataclass(frozen=True)
class Item:
    task: str
    source_id: str | None          # the built record it came from (None: made from a plan)
    variant: int                   # 0, or which variation (corrections)
    values: dict[str, str]         # template placeholders
    data: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Inputs:
    sft: list[dict[str, Any]]
    preference: list[dict[str, Any]]
    kto: list[dict[str, Any]]
    notes: dict[tuple[str, str], str] = field(default_factory=dict)      # (conversation, message id) -> note
    patterns: dict[tuple[str, str], str] = field(default_factory=dict)   # ... -> seed 002 error pattern


@dataclass
class Made:
    sft: list[dict[str, Any]] = field(default_factory=list)
    preference: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    name: str
    select: Callable[[Inputs, RewriteParams], list[Item]]
    offline: Callable[[Item, RewriteParams], str]
    make: Callable[[Item, str, dict[str, Any], RewriteParams], Made]


# -------------------------------------------------------------------------------------------- helpers
def parts(messages: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None, list[dict[str, Any]]]:
    """(system message or None, CONTEXT text, the other turns)."""
    system = messages[0] if messages and messages[0]["role"] == "system" else None
    _, context = split_system(system["content"] if system else None)
    return system, context, [m for m in messages if m["role"] != "system"]


def grounding(messages: list[dict[str, Any]]) -> str:
    """What an output may cite: the CONTEXT and everything the user typed."""
    _, context, turns = parts(messages)
    return "\n".join([context or ""] + [m["content"] for m in turns if m["role"] == "user"])


def last_user(messages: list[dict[str, Any]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def shown_context(context: str | None) -> str:
    return context if context is not None else "(none)"


def generated_record(item: Item, source: dict[str, Any] | None, gen: dict[str, Any], rule: str,
                     record_type: str, phase: str, **payload: Any) -> dict[str, Any]:
    src = source or {}
    return {"id": content_id("rewrite", item.task, item.source_id, item.variant, rule), **payload,
            "record_type": record_type, "phase": phase, "task_type": payload.pop("task_type", None)
            or src.get("task_type"), "provenance": "synthetic", "rule": rule,
            "conversation_id": src.get("conversation_id"), "message_ids": list(src.get("message_ids") or []),
            "generated_by": json.dumps(gen, sort_keys=True)}


def limited(rows: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: r["id"])   # ids are content hashes: a limit takes an unbiased spread
    return rows if limit is None else rows[:limit]


# ------------------------------------------------------------------------------------ conversational
def _select_conversational(inputs: Inputs, p: RewriteParams) -> list[Item]:
    out = []
    for row in limited([r for r in inputs.sft if r["record_type"] == "extractive"], p.conversational.limit):
        _, context, _ = parts(row["messages"])
        answer = row["messages"][-1]["content"]
        question = last_user(row["messages"])
        out.append(Item("conversational", row["id"], 0, {"context": shown_context(context), "question": question,
                                                         "answer": answer}, {"row": row}))
    return out


def _make_conversational(item: Item, text: str, gen: dict[str, Any], p: RewriteParams) -> Made:
    row, text = item.data["row"], text.strip()
    q = p.conversational
    checks.check_text(text, min_words=q.min_words, max_words=q.max_words, grounding=grounding(row["messages"]),
                      patterns=p.id_patterns, refusal=False)
    # "No new facts" can't be proven; "the answer is still there" can: most of its words must survive.
    answer_words = set(re.findall(r"\w+", item.values["answer"].casefold()))
    kept = answer_words & set(re.findall(r"\w+", text.casefold()))
    if answer_words and len(kept) * 2 < len(answer_words):
        raise Failed("answer_missing", f"keeps {len(kept)} of {len(answer_words)} answer words")
    messages = row["messages"][:-1] + [{"role": "assistant", "content": text}]
    return Made(sft=[generated_record(item, row, gen, "llm_conversational", "qa", "conversational",
                                      messages=messages)])


# ----------------------------------------------------------------------------------------- refusal
def _select_refusal(inputs: Inputs, p: RewriteParams) -> list[Item]:
    out = []
    for row in limited([r for r in inputs.sft if r["record_type"] == "refusal"], p.refusal.limit):
        _, context, _ = parts(row["messages"])
        out.append(Item("refusal", row["id"], 0, {"context": shown_context(context),
                                                  "question": last_user(row["messages"]),
                                                  "refusal": row["messages"][-1]["content"]}, {"row": row}))
    return out


def _offline_refusal(item: Item, p: RewriteParams) -> str:
    ids = sorted(checks.find_ids(item.values["question"], p.id_patterns))
    return offline.refusal(item.values["question"], ids, p.seed, item.source_id or "")


def _make_refusal(item: Item, text: str, gen: dict[str, Any], p: RewriteParams) -> Made:
    row, text = item.data["row"], text.strip()
    checks.check_text(text, min_words=p.refusal.min_words, max_words=p.refusal.max_words,
                      grounding=grounding(row["messages"]), patterns=p.id_patterns, refusal=True)
    if normalize_text(text) == normalize_text(item.values["refusal"]):
        raise Failed("same_as_source", "the rewrite repeats the refusal it was given")
    messages = row["messages"][:-1] + [{"role": "assistant", "content": text}]
    return Made(sft=[generated_record(item, row, gen, "llm_refusal", "refusal", "refusals", messages=messages)])


# ---------------------------------------------------------------------------------------- downvote
def _select_downvote(inputs: Inputs, p: RewriteParams) -> list[Item]:
    out = []
    for row in limited([r for r in inputs.kto if r["label"] is False], p.downvote.limit):
        _, context, turns = parts(row["prompt"])
        message_id = (row.get("message_ids") or [None])[-1]
        note = inputs.notes.get((row.get("conversation_id"), message_id)) or "(no note)"
        dialogue = "\n".join(f"{m['role']}: {m['content']}" for m in turns)
        out.append(Item("downvote", row["id"], 0, {"context": shown_context(context), "dialogue": dialogue,
                                                   "reply": row["completion"][0]["content"], "note": note},
                        {"row": row, "context": context, "users": [m["content"] for m in turns
                                                                   if m["role"] == "user"]}))
    return out


def _offline_downvote(item: Item, p: RewriteParams) -> str:
    context = json.loads(item.data["context"]) if item.data["context"] else None
    return offline.downvote(context, item.data["users"], item.values["reply"], item.values["note"],
                            list(p.id_patterns))


def _make_downvote(item: Item, text: str, gen: dict[str, Any], p: RewriteParams) -> Made:
    row, text = item.data["row"], text.strip()
    checks.check_text(text, min_words=p.downvote.min_words, max_words=p.downvote.max_words,
                      grounding=grounding(row["prompt"]), patterns=p.id_patterns)
    if normalize_text(text) == normalize_text(item.values["reply"]):
        raise Failed("identical_pair", "the revision says what the down-voted reply said")
    refusal = is_refusal(text)
    record_type = "refusal" if refusal else ("chat" if row["record_type"] == "refusal" else row["record_type"])
    return Made(preference=[generated_record(
        item, row, gen, "llm_downvote_pair", record_type, "refusals" if refusal else "conversational",
        prompt=row["prompt"], chosen=[{"role": "assistant", "content": text}], rejected=row["completion"])])


# ----------------------------------------------------------------------------------------- persona
def _select_persona(inputs: Inputs, p: RewriteParams) -> list[Item]:
    n = p.persona.count
    multi = set(random.Random(p.seed).sample(range(n), round(n * p.persona.multi_turn_ratio))) if n else set()
    out = []
    for i in range(n):
        plan = offline.persona_plan(i, p.seed, i in multi)
        hint, *_ = offline.SCENARIOS[plan["scenario"]]
        shape = ("multi-turn: the user asks, AJ calls a tool, the tool answers, AJ replies; then the user follows "
                 f"up about another agent and the same happens again (agents {', '.join(plan['hosts'])})"
                 if plan["multi_turn"] else
                 f"one exchange: the user asks about {plan['hosts'][0]}, AJ calls a tool, the tool answers, AJ replies")
        out.append(Item("persona", None, i, {
            "context": json.dumps(plan["context"], sort_keys=True), "persona": plan["persona"],
            "persona_hint": offline.PERSONAS[plan["persona"]], "scenario": plan["scenario"],
            "scenario_hint": hint, "shape": shape}, {"plan": plan}))
    return out


def _make_persona(item: Item, text: str, gen: dict[str, Any], p: RewriteParams) -> Made:
    plan = item.data["plan"]
    turns = checks.parse_json_object(text, ["turns"])["turns"]
    if not isinstance(turns, list) or not all(isinstance(t, dict) and t.get("role") in ("user", "assistant", "tool")
                                              and isinstance(t.get("content"), str) for t in turns):
        raise Failed("unparseable_output", "turns must be {role: user|assistant|tool, content: text} objects")
    turns = [{"role": t["role"], "content": t["content"]} for t in turns]
    if not turns or turns[0]["role"] != "user" or turns[-1]["role"] != "assistant":
        raise Failed("bad_turn_order", "a conversation starts with the user and ends with AJ")
    users = sum(t["role"] == "user" for t in turns)
    if plan["multi_turn"] != (users >= 2):
        raise Failed("shape_mismatch", f"{users} user turns, multi-turn asked: {plan['multi_turn']}")
    agents = set(plan["context"]["agents"])
    offered = {t["name"] for t in plan["context"]["tools"]}
    for t in turns:
        checks.check_pii(t["content"])
        if t["role"] != "assistant":
            continue
        parsed = checks.check_tool_turn(t["content"], offered)
        for call in parsed.calls:
            host = call.args.get("host")
            if host is not None and host not in agents:
                raise Failed("agent_not_in_context", f"{call.tool} on {host!r}")
        checks.check_voice(parsed.message or "", casual=plan["persona"] == "casual")
    system = render_system(p.persona.system_prompt, plan["context"])
    return Made(sft=[generated_record(
        item, {"conversation_id": content_id("persona", p.seed, plan["index"])}, gen, "llm_persona", "trajectory",
        "conversational", messages=[{"role": "system", "content": system}] + turns, task_type="agent")])


# ------------------------------------------------------------------------------------- corrections
def _select_corrections(inputs: Inputs, p: RewriteParams) -> list[Item]:
    out = []
    rows = [r for r in inputs.preference if r["rule"] == "correction_pair" and last_user(r["prompt"])]
    for row in limited(rows, p.corrections.limit):
        _, context, _ = parts(row["prompt"])
        message_id = (row.get("message_ids") or [None])[-1]
        pattern = inputs.patterns.get((row.get("conversation_id"), message_id)) or "(unnamed)"
        for variant in range(1, p.corrections.multiply):
            out.append(Item("corrections", row["id"], variant, {
                "context": shown_context(context), "pattern": pattern, "question": last_user(row["prompt"]),
                "wrong": row["rejected"][0]["content"], "fixed": row["chosen"][0]["content"],
                "variant": str(variant)}, {"row": row, "context": context}))
    return out


def _make_corrections(item: Item, text: str, gen: dict[str, Any], p: RewriteParams) -> Made:
    row = item.data["row"]
    obj = checks.parse_json_object(text, ["user", "wrong", "fixed"])
    user, wrong, fixed = (str(obj[k]).strip() for k in ("user", "wrong", "fixed"))
    if not user:
        raise Failed("empty_output", "no user request")
    if normalize_text(user) == normalize_text(item.values["question"]):
        raise Failed("same_as_source", "the variation repeats the original request")
    system, context, _ = parts(row["prompt"])
    ground = "\n".join([context or "", user])
    checks.check_ids(fixed + "\n" + user, "\n".join([grounding(row["prompt"]), ground]), p.id_patterns)
    checks.check_pii(user)
    parsed = checks.check_tool_turn(fixed, toolcalls.offered_tools(context))
    checks.check_voice(parsed.message or "", casual=False)
    if normalize_text(wrong) == normalize_text(fixed):
        raise Failed("identical_pair", "the wrong output is the fixed one")
    try:
        checks.check_tool_turn(wrong, toolcalls.offered_tools(context))
    except Failed:
        pass                                   # good: the wrong side really is wrong
    else:
        raise Failed("wrong_is_correct", "the wrong output is a canonical, valid call")
    prompt = ([system] if system else []) + [{"role": "user", "content": user}]
    common = dict(record_type=row["record_type"], phase=row["phase"])
    return Made(
        preference=[generated_record(item, row, gen, "llm_correction_pair", prompt=prompt,
                                     chosen=[{"role": "assistant", "content": fixed}],
                                     rejected=[{"role": "assistant", "content": wrong}], **common)],
        sft=[generated_record(item, row, gen, "llm_correction_sft",
                              messages=prompt + [{"role": "assistant", "content": fixed}], **common)])


TASKS = {
    "conversational": Task("conversational", _select_conversational,
                           lambda i, p: offline.conversational(i.values["question"], i.values["answer"]),
                           _make_conversational),
    "refusal": Task("refusal", _select_refusal, _offline_refusal, _make_refusal),
    "downvote": Task("downvote", _select_downvote, _offline_downvote, _make_downvote),
    "persona": Task("persona", _select_persona, lambda i, p: offline.persona(i.data["plan"]), _make_persona),
    "corrections": Task("corrections", _select_corrections,
                        lambda i, p: offline.correction(i.values["question"], i.values["wrong"], i.values["fixed"],
                                                        i.variant), _make_corrections),
}
TASK_ORDER = ("conversational", "refusal", "downvote", "persona", "corrections")
