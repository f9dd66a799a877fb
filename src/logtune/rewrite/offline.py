"""The `offline` provider's rules: deterministic answers shaped like what the LLM tasks ask for.

They exist so the embedded default runs with no key and no network and still exercises every task,
check and record path; their outputs go through the same checks as Claude's (and fail them when the
rules cannot answer: an empty answer is rejected `empty_output`, never papered over). Per task:
  conversational  the extractive answer turned into a sentence answering the question ("X is Y.")
  refusal         a phrase bank of polite refusals naming what was asked, picked by a seeded hash
  downvote        the record the question is about, looked up in CONTEXT; the field it asks for
                  (status, owner, due date, ...) stated plainly; a missing record or field said so;
                  more fields when the user's note asked for more detail
  persona         seed 002's five personas x ten ops scenarios, from templates, canonical tool calls
  corrections     the same error and fix under a reworded request
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from logtune import toolcalls
from logtune.ids import content_id

# ------------------------------------------------------------------------------------ conversational
_WH = re.compile(r"^(?:what|who|which|where|when)\s+(is|are|was|were)\s+(.+?)\s*\??\s*$", re.IGNORECASE)


def conversational(question: str, answer: str) -> str:
    answer = answer.strip().rstrip(".")
    m = _WH.match(question.strip())
    if m:
        subject = m.group(2).rstrip("?. ")
        sentence = f"{subject[0].upper()}{subject[1:]} {m.group(1).lower()} {answer}."
    else:
        sentence = f"The answer is {answer}."
    if len(sentence.split()) < 8:
        sentence = f"{sentence[:-1]}, according to the passage."
    return sentence


# ----------------------------------------------------------------------------------------- refusal
REFUSALS = (
    "I couldn't find information about {topic} in the provided context.",
    "I can't find anything about {topic} in the context I was given.",
    "I don't see any information about {topic} in the context, so I can't answer that.",
    "There's no information about {topic} in the provided context.",
    "I'm unable to find {topic} in the context provided, so I can't say.",
    "I couldn't find {topic} anywhere in the context, so I can't answer that one.",
    "Unfortunately I can't find {topic} in the context I have.",
    "That isn't in the context, so I can't tell you about {topic}.",
)
_LEAD = re.compile(r"^(?:(?:hi|hello|hey|morning|quick one|sorry)[,:!.]?\s+)*(?:who|what|when|where|which|why|how"
                   r"(?: much| many)?)(?:'s|\s+(?:is|are|was|were|does|do|did|has|have|will|can|should))?\s+",
                   re.IGNORECASE)
_SWAP = {"my": "your", "i": "you", "me": "you", "mine": "yours", "our": "your", "we": "you"}


def refusal_topic(question: str, ids: list[str]) -> str:
    if ids:
        return ids[0]
    text = _LEAD.sub("", question.strip()).rstrip("?.! ")
    words = [_SWAP.get(w.lower(), w) for w in text.split()]
    return " ".join(words) if 0 < len(words) <= 8 else "that"


def refusal(question: str, ids: list[str], seed: int, source_id: str) -> str:
    template = REFUSALS[int(content_id("refusal", seed, source_id), 16) % len(REFUSALS)]
    return template.format(topic=refusal_topic(question, ids))


# ---------------------------------------------------------------------------------------- downvote
# (field, words in the question that ask for it); the first field asked for wins.
FIELD_WORDS = (
    ("owner", ("who", "whom", "owner", "responsible", "contact", "owns", "in charge", "lead")),
    ("due", ("due", "deadline", "when", "finish by", "date", "expected")),
    ("status", ("status", "progress", "update", "going", "state", "stage", "done", "finished")),
    ("instrument", ("instrument", "machine", "run on")),
    ("shipping_address", ("ship", "shipped", "address", "deliver")),
    ("cost_center", ("cost center", "cost centre", "billed")),
    ("budget", ("budget", "cost", "spend")),
    ("storage_location", ("stored", "storage", "freezer", "location")),
    ("title", ("title", "called", "name", "about", "what is")),
)
_MORE = re.compile(r"\b(?:more detail|too short|more info|elaborate|details)\b", re.IGNORECASE)


def context_records(context: Any) -> list[dict[str, Any]]:
    """Every object with an `id` anywhere in the CONTEXT (the sample's {"records": [...]} and other shapes)."""
    found: list[dict[str, Any]] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if isinstance(x.get("id"), str):
                found.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(context)
    return found


def asked_field(question: str) -> str | None:
    q = question.casefold()
    for name, cues in FIELD_WORDS:
        if any(re.search(rf"\b{re.escape(c)}\b", q) for c in cues):
            return name
    return None


def state_field(record: dict[str, Any], name: str) -> str:
    rid, value = record["id"], record.get(name)
    if value in (None, ""):
        return f"The record for {rid} has no {name.replace('_', ' ')} listed, so I couldn't find that."
    if name == "status":
        return f"{rid} is {value}."
    if name == "owner":
        return f"{value} owns {rid}."
    if name == "due":
        return f"{rid} is due {value}."
    if name == "title":
        return f"{rid} is titled \"{value}\"."
    return f"The {name.replace('_', ' ')} for {rid} is {value}."


def downvote(context: Any, user_turns: list[str], reply: str, note: str, id_patterns: list[str]) -> str:
    """A grounded answer to the last user turn, or "" when the rules cannot tell what was asked about."""
    def ids_in(text: str) -> list[str]:
        return [m.group(0) for p in id_patterns for m in re.finditer(p, text or "")]

    records = {r["id"]: r for r in context_records(context)}
    question = user_turns[-1] if user_turns else ""
    target = next(iter(ids_in(question)), None)
    if target is None:   # "What's its deadline?": the record the conversation was about
        earlier = [i for turn in reversed(user_turns[:-1]) for i in ids_in(turn)]
        target = next((i for i in earlier + ids_in(reply) if i in records), None)
    if target is None and len(records) == 1:
        target = next(iter(records))
    if target is None:
        return ""
    if target not in records:
        return f"I couldn't find {target} in the provided context, so I can't answer that."
    record = records[target]
    name = asked_field(question)
    if name is None:
        parts = [f"{target} is {record['status']}" if record.get("status") else None,
                 f"owned by {record['owner']}" if record.get("owner") else None,
                 f"due {record['due']}" if record.get("due") else None]
        parts = [p for p in parts if p]
        return (", ".join(parts) + ".") if parts else ""
    answer = state_field(record, name)
    if _MORE.search(note or "") and record.get(name) not in (None, ""):
        shown = {"title": 'titled "{}"', "status": "currently {}", "owner": "owned by {}", "due": "due {}"}
        extra = [form.format(record[k]) for k, form in shown.items() if k != name and record.get(k)]
        if extra:
            answer += f" It is {', '.join(extra[:-1]) + ' and ' if len(extra) > 1 else ''}{extra[-1]}."
    return answer


# ----------------------------------------------------------------------------------------- persona
PERSONAS = {
    "casual": "relaxed, slangy; AJ relaxed too, one emoji at most",
    "senior_engineer": "terse commands; AJ calls the tool and gives the breakdown",
    "stressed_oncall": "urgent, caps; AJ calm and quick",
    "curious_learner": "asks how things work; AJ explains and adds a pro tip",
    "executive": "wants the bottom line; AJ answers TL;DR first",
}
# name -> (hint, topic in a request, tool, args besides host, finding template)
SCENARIOS = {
    "disk_usage": ("disk space on an agent", "disk space", "ssh", {"cmd": "df -h /"},
                   "disk is at {pct}% ({used}G of {size}G)"),
    "service_status": ("whether a service runs", "nginx status", "ssh", {"cmd": "systemctl status nginx"},
                       "nginx has been up for {days} days"),
    "log_search": ("recent errors in the logs", "recent errors", "ssh", {"cmd": "journalctl -p err --since -1h"},
                   "{n} errors were logged in the last hour"),
    "restart_service": ("restarting a stuck service", "stuck worker service", "ssh",
                        {"cmd": "systemctl restart worker"}, "the worker restarted cleanly in {secs}s"),
    "cpu_load": ("CPU load", "CPU load", "ssh", {"cmd": "uptime"}, "load is {l1} (15 min average {l15})"),
    "memory_usage": ("memory pressure", "memory use", "ssh", {"cmd": "free -m"},
                     "memory use is {used} MB of {total} MB"),
    "network_check": ("reachability", "network", "ping", {}, "it answers pings in {ms} ms with no loss"),
    "deploy_status": ("which version is deployed", "deployed version", "ssh", {"cmd": "cat /srv/app/VERSION"},
                      "it runs v{major}.{minor}.{patch}"),
    "backup_check": ("the latest backup", "last backup", "ssh", {"cmd": "ls -t /backups | head -1"},
                     "the latest backup is from 2026-{mm}-{dd}"),
    "cert_expiry": ("TLS certificate expiry", "TLS cert", "ssh",
                    {"cmd": "openssl x509 -enddate -noout -in /etc/ssl/app.pem"},
                    "the certificate expires in {days} days"),
}
TOOLS = [{"name": "ssh", "description": "run a shell command on an agent", "args": {"host": "agent", "cmd": "text"}},
         {"name": "ping", "description": "check an agent answers on the network", "args": {"host": "agent"}}]
AGENTS = [f"{kind}-{n}" for kind, count in (("web", 9), ("db", 4), ("cache", 3), ("worker", 6)) for n in
          range(1, count + 1)]
REQUEST = {
    "casual": "yo can you check the {topic} on {host}?",
    "senior_engineer": "{command} on {host}",
    "stressed_oncall": "HELP {host} is acting up, need the {topic} NOW",
    "curious_learner": "How would I check the {topic} on {host}? I'd like to understand it.",
    "executive": "Status update on the {topic} for {host}?",
}
FOLLOW_UP = {"casual": "nice, what about {host}?", "senior_engineer": "same on {host}",
             "stressed_oncall": "ok now {host}!! quick",
             "curious_learner": "Thanks! Could you show the same for {host}?",
             "executive": "And {host}?"}
OPENER = {"casual": "On it! Let me see what's up...", "senior_engineer": None,
          "stressed_oncall": "Got it - checking now. Hang tight.", "curious_learner": "Let me dig into this.",
          "executive": "Checking."}
FINAL = {
    "casual": "All good on `{host}`: {finding}. Want me to check the others too? \U0001F44D",
    "senior_engineer": "Here's the breakdown: `{host}`, {finding}.",
    "stressed_oncall": "`{host}`: {finding}. Nothing else looks off; I'll keep an eye on it.",
    "curious_learner": "Here's what I found: on `{host}` {finding}. Pro tip: `{command}` shows this any time.",
    "executive": "TL;DR: `{host}` is fine; {finding}.",
}


def persona_plan(index: int, seed: int, multi_turn: bool) -> dict[str, Any]:
    """The persona, scenario and agents of example `index` (what both the prompt and the rules use)."""
    rng = random.Random(content_id("persona", seed, index))
    persona = sorted(PERSONAS)[index % len(PERSONAS)]
    scenario = sorted(SCENARIOS)[(index // len(PERSONAS) + index) % len(SCENARIOS)]
    agents = sorted(rng.sample(AGENTS, 3))
    context = {"agents": agents, "tools": TOOLS}
    return {"index": index, "persona": persona, "scenario": scenario, "multi_turn": multi_turn,
            "context": context, "hosts": rng.sample(agents, 2)}


def _finding(template: str, rng: random.Random) -> str:
    values = {"pct": rng.randint(40, 97), "size": rng.choice([50, 100, 200, 500]), "days": rng.randint(2, 90),
              "n": rng.randint(0, 40), "secs": rng.randint(1, 9), "l1": f"{rng.uniform(0.1, 7.9):.2f}",
              "l15": f"{rng.uniform(0.1, 5.0):.2f}", "total": rng.choice([4096, 8192, 16384]),
              "ms": rng.randint(1, 80), "major": rng.randint(1, 4), "minor": rng.randint(0, 20),
              "patch": rng.randint(0, 9), "mm": f"{rng.randint(1, 12):02d}", "dd": f"{rng.randint(1, 28):02d}"}
    values["used"] = rng.randint(values["total"] // 8, values["total"]) if "{used} MB" in template \
        else values["size"] * values["pct"] // 100
    return template.format(**values)


def persona(plan: dict[str, Any]) -> str:
    rng = random.Random(content_id("persona-turns", plan["index"]))
    who, (hint, topic, tool, extra, finding) = plan["persona"], SCENARIOS[plan["scenario"]]
    turns = []
    for n, host in enumerate(plan["hosts"][:2 if plan["multi_turn"] else 1]):
        command = extra.get("cmd", f"ping {host}")
        request = (REQUEST[who] if n == 0 else FOLLOW_UP[who]).format(topic=topic, host=host, command=command)
        call = toolcalls.serialise([toolcalls.ToolCall(tool, {"host": host, **extra})], OPENER[who])
        result = _finding(finding, rng)
        turns += [{"role": "user", "content": request}, {"role": "assistant", "content": call},
                  {"role": "tool", "content": json.dumps({"host": host, "output": result})},
                  {"role": "assistant", "content": toolcalls.serialise(
                      [], FINAL[who].format(host=host, finding=result, command=command))}]
    return json.dumps({"turns": turns}, ensure_ascii=False)


# ------------------------------------------------------------------------------------- corrections
REWORDINGS = ("Please {q}", "Can you {q}?", "Quick one: {q}", "Hey, {q}", "When you get a chance, {q}",
              "Urgent: {q}", "For the report, {q}", "One more: {q}", "Could you {q}", "Need this: {q}")


def correction(question: str, wrong: str, fixed: str, variant: int) -> str:
    q = question.strip().rstrip("?.")
    q = q[:1].lower() + q[1:]
    user = REWORDINGS[(variant - 1) % len(REWORDINGS)].format(q=q)
    return json.dumps({"user": user, "wrong": wrong, "fixed": fixed}, ensure_ascii=False)
