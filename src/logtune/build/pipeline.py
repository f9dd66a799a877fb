"""Building training records from curated conversations, routed by each reply's feedback.

Every assistant reply of every conversation is seen once and has exactly one outcome:
  rating +1          -> one SFT example (rule `upvoted_reply`)
  unrated            -> one SFT example (rule `unrated_reply`)
  rating -1, rewrite -> one DPO pair (rule `rewrite_pair`) AND one SFT example of the rewrite (`rewrite_sft`)
  rating -1, none    -> rejected `downvoted_no_rewrite` (its record keeps prompt + completion for KTO later)
  otherwise          -> rejected with a reason (golden_overlap, broken_context, tool_call_reply, ...)
Ledger identity, asserted before the metrics are returned:
  replies_seen == sft[upvoted_reply] + sft[unrated_reply] + preference_pairs + rejected
  sft[rewrite_sft] == preference_pairs
Golden cases stay out here too: a reply whose CONTEXT and answered user turn equal a golden case's
final turn is rejected (`golden_overlap`), whatever its rating.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from logtune.build.preference import preference_pair
from logtune.build.replies import Reply, iter_replies
from logtune.build.sft import prompt_messages, sft_example
from logtune.curate.decontaminate import golden_turn_keys, turn_key
from logtune.curate.normalize import context_is_valid
from logtune.curate.sessions import Reject
from logtune.ids import content_id

SFT_RULES = ["upvoted_reply", "unrated_reply", "rewrite_sft"]
REASONS = ["broken_context", "downvoted_no_rewrite", "empty_reply", "golden_overlap", "invalid_rating",
           "no_user_turn", "tool_call_reply"]


@dataclass(frozen=True)
class BuildParams:
    history_turns: int = 3
    system_prompt: str | None = None   # None: each session's logged prompt; a text: every example under it

    def __post_init__(self) -> None:
        if not isinstance(self.history_turns, int) or self.history_turns < 0:
            raise ValueError(f"build.history_turns must be an integer >= 0, got {self.history_turns!r}")


@dataclass
class Built:
    sft: list[dict[str, Any]] = field(default_factory=list)          # records.SFT_EXAMPLE rows
    preference: list[dict[str, Any]] = field(default_factory=list)   # records.PREFERENCE_PAIR rows
    rejected: list[dict[str, Any]] = field(default_factory=list)     # records.REJECTED rows
    metrics: dict[str, Any] = field(default_factory=dict)


def rejected_reply(conversation: dict[str, Any], message: dict[str, Any], reject: Reject,
                   reply: Reply | None = None) -> dict[str, Any]:
    """A records.REJECTED row for one reply; with the prompt when there is one (KTO needs it)."""
    record = {"conversation_id": conversation["id"], "message_id": message.get("id"),
              "completion": [{"role": "assistant", "content": message.get("content")}],
              "rating": message.get("rating"), "feedback_note": message.get("feedback_note"),
              "task_type": conversation.get("task_type"), "provenance": conversation.get("provenance")}
    if reply is not None:
        record["prompt"] = prompt_messages(reply)
        record["message_ids"] = [str(m["id"]) for m in reply.prompt] + [str(message.get("id"))]
    return {"id": content_id(conversation["id"], message.get("id"), reject.reason), "stage": "build",
            "reason": reject.reason, "detail": reject.detail,
            "record": json.dumps(record, sort_keys=True, ensure_ascii=False)}


def route(reply: Reply, golden_keys: dict) -> tuple[list[dict], list[dict], Reject | None]:
    """(sft rows, preference rows, reject) for one reply, by golden overlap then feedback."""
    conv, msg = reply.conversation, reply.message
    case_id = golden_keys.get(turn_key(conv.get("context"), reply.prompt[-1]["content"]))
    if case_id is not None:
        return [], [], Reject("golden_overlap", f"answers golden case {case_id}'s final turn")
    rating, rewrite = msg.get("rating"), (msg.get("rewrite") or "").strip()
    if rating == 1:
        return [sft_example(reply, msg["content"], "upvoted_reply")], [], None
    if rating is None:
        return [sft_example(reply, msg["content"], "unrated_reply")], [], None
    if rating == -1 and rewrite:
        return [sft_example(reply, msg["rewrite"], "rewrite_sft")], [preference_pair(reply)], None
    if rating == -1:
        return [], [], Reject("downvoted_no_rewrite", msg.get("feedback_note") or "")
    return [], [], Reject("invalid_rating", f"rating={rating}")


def build(conversations: Iterable[dict[str, Any]], params: BuildParams, golden: list[dict[str, Any]]) -> Built:
    """SFT examples, preference pairs and rejected replies, each list sorted by id."""
    golden_keys = golden_turn_keys(golden)
    out = Built()
    read = replies_seen = 0
    for conv in conversations:
        read += 1
        if params.system_prompt is not None:
            conv = {**conv, "system_prompt": params.system_prompt}
        context_ok = context_is_valid(conv.get("context"))
        for message, item in iter_replies(conv, params.history_turns):
            replies_seen += 1
            if not context_ok:
                item = Reject("broken_context", "context is not valid JSON")
            if isinstance(item, Reject):
                out.rejected.append(rejected_reply(conv, message, item))
                continue
            sft, pairs, reject = route(item, golden_keys)
            out.sft += sft
            out.preference += pairs
            if reject is not None:
                out.rejected.append(rejected_reply(conv, message, reject, item))
    for rows in (out.sft, out.preference, out.rejected):
        rows.sort(key=lambda r: r["id"])
        assert len({r["id"] for r in rows}) == len(rows), "two built records share an id"
    out.metrics = ledger(read, replies_seen, out)
    return out


def ledger(read: int, replies_seen: int, out: Built) -> dict[str, Any]:
    """metrics/build.json, after checking that every reply is accounted for."""
    sft_by_rule = Counter({r: 0 for r in SFT_RULES})
    sft_by_rule.update(r["rule"] for r in out.sft)
    by_reason = Counter({r: 0 for r in REASONS})
    by_reason.update(r["reason"] for r in out.rejected)
    pairs = len(out.preference)
    assert replies_seen == sft_by_rule["upvoted_reply"] + sft_by_rule["unrated_reply"] + pairs + len(out.rejected), \
        "build lost or invented a reply"
    assert sft_by_rule["rewrite_sft"] == pairs, "every rewrite pair has its rewrite SFT example"
    return {"read": read, "replies_seen": replies_seen, "sft_examples": len(out.sft),
            "sft_by_rule": dict(sorted(sft_by_rule.items())),
            "sft_by_record_type": dict(sorted(Counter(r["record_type"] for r in out.sft).items())),
            "preference_pairs": pairs, "rejected": len(out.rejected),
            "rejected_by_reason": dict(sorted(by_reason.items()))}
