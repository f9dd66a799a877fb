"""The `augment` rewrite task (issue #18, seed 002's `--augment-existing`): the persona layer over existing
tool-use trajectories, every tool call kept byte-identical.

Takes built SFT records that hold tool steps (record_type `trajectory` or `tool_call`: Toucan, Glaive,
ShareGPT function calls, BFCL, logged agents) and asks for `rewrite.augment.variants` persona variants of
each (the five personas of `rewrite.offline.PERSONAS`, chosen by a hash of the record id and the variant):
the user turns re-said in the persona's voice, the assistant's spoken messages in AJ's voice (seed 002's
rules: at most one emoji and only for the casual persona, no robotic lines, no over-apologising). The
provider returns JSON {"turns": [{"role", "content"}, ...]} with the source's turns in the same order and
roles. Checks (one failure rejects the variant, reason counted):
  - same number of turns, same roles (`shape_mismatch`);
  - every tool result turn byte-identical (`tool_result_changed`);
  - every assistant turn a canonical call value whose calls equal the source's (`tool_call_changed`);
    the variant's turn is then rebuilt from the SOURCE's calls and the new message, so the calls'
    bytes are the source's; a turn that spoke nothing in the source must be byte-identical;
  - voice rules on every spoken message; no PII in any user turn; a user turn changed at all
    (`same_as_source` when no user turn differs).
Each variant kept is an SFT record (rule `llm_persona_augment`, the source's record type and phase,
provenance `synthetic`, the source's conversation id: mix keeps it on the source session's side).
Off by default (`rewrite.augment.enabled: false`; `logtune rewrite --dry-run --augment-existing` prices it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from logtune import toolcalls
from logtune.rewrite import checks, offline
from logtune.rewrite.checks import Failed
from logtune.normalize import normalize_text

RECORD_TYPES = ("trajectory", "tool_call")
STYLE = {  # offline rule: how each persona re-says a user turn (deterministic)
    "casual": lambda t: f"hey, {t[0].lower() + t[1:]} thx",
    "senior_engineer": lambda t: t.rstrip("?.!") + ".",
    "stressed_oncall": lambda t: f"URGENT: {t}",
    "curious_learner": lambda t: f"{t} And how does that work?",
    "executive": lambda t: f"Bottom line please: {t}",
}


def persona_for(record_id: str, variant: int) -> str:
    names = sorted(offline.PERSONAS)
    digest = hashlib.sha256(f"{record_id}:{variant}".encode()).digest()
    return names[int.from_bytes(digest[:4], "big") % len(names)]


def turns_of(record: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in record["messages"] if m["role"] != "system"]


def offline_variant(turns: list[dict[str, str]], persona: str) -> str:
    """The deterministic rule: user turns in the persona's style; assistant and tool turns unchanged."""
    out = [{"role": t["role"], "content": STYLE[persona](t["content"]) if t["role"] == "user" and t["content"]
            else t["content"]} for t in turns]
    return json.dumps({"turns": out}, ensure_ascii=False)


def checked_variant(text: str, source: list[dict[str, str]], persona: str) -> list[dict[str, str]]:
    """The variant's turns, assistant turns rebuilt from the source's calls; Failed on the first problem."""
    turns = checks.parse_json_object(text, ["turns"])["turns"]
    if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("content"), str)
                                              for t in turns):
        raise Failed("unparseable_output", "turns must be {role, content} objects")
    if [t.get("role") for t in turns] != [t["role"] for t in source]:
        raise Failed("shape_mismatch", f"roles {[t.get('role') for t in turns]} != the source's")
    out = []
    for new, old in zip(turns, source):
        if old["role"] == "tool":
            if new["content"] != old["content"]:
                raise Failed("tool_result_changed", old["content"][:60])
            out.append(dict(old))
        elif old["role"] == "assistant":
            was, now = toolcalls.parse_text(old["content"]), toolcalls.parse_text(new["content"])
            if not now.is_call_form or now.calls != was.calls:
                raise Failed("tool_call_changed", new["content"][:80])
            if not (was.message or "").strip():
                if new["content"] != old["content"]:
                    raise Failed("tool_call_changed", "a turn that only called a tool must stay byte-identical")
                out.append(dict(old))
                continue
            message = (now.message or "").strip()
            if not message:
                raise Failed("empty_output", "a spoken assistant message was dropped")
            checks.check_voice(message, casual=persona == "casual")
            rebuilt = toolcalls.serialise(was.calls, message)
            # the calls' bytes are the source's: its turn re-serialised with the old message is the source turn
            if toolcalls.serialise(was.calls, was.message) != old["content"].strip():
                raise Failed("non_canonical_tool_call", "the source turn is not canonical; nothing to keep identical")
            out.append({"role": "assistant", "content": rebuilt})
        else:
            if not new["content"].strip():
                raise Failed("empty_output", "a blank user turn")
            checks.check_pii(new["content"])
            out.append({"role": old["role"], "content": new["content"]})
    if all(normalize_text(a["content"]) == normalize_text(b["content"]) for a, b in zip(out, source)
           if b["role"] == "user"):
        raise Failed("same_as_source", "no user turn was re-said")
    return out
