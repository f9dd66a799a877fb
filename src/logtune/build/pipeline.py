"""Building training records from curated conversations, routed by what each reply's feedback carries.

Every assistant reply of every conversation is seen once and has exactly one outcome, decided by the
first rule that matches (the `rule` column of each output names the rule that made it):
  golden case's final turn, or a reply already built from another conversation  -> rejected
  SQuAD v2 unanswerable (meta `unanswerable`)  -> SFT: a composed refusal naming the question or article
                                                 (`unanswerable_refusal`, `extractive.refusal_text`)
  a human rewrite (rating -1 or none) with meta `pattern` (seed 002's corrections)
                                              -> DPO pair: fix over wrong output  (`correction_pair`)
                                                 + SFT on the fix                 (`correction_sft`)
  a human rewrite, otherwise                  -> DPO pair (`rewrite_pair`) + SFT on the rewrite (`rewrite_sft`);
                                                 one pair and one SFT example per distinct rewrite
  a logged rejected reply (meta `rejected`: HH-RLHF, typed preference records)
                                              -> DPO pair (`recorded_pair`)
  ranked siblings (OASST meta `rank` + `siblings`)
                                              -> a DPO pair over each worse-ranked sibling (`sibling_rank_pair`)
                                                 + SFT when it is the best of them (`top_ranked_reply`);
                                                 the worst-ranked reply itself is rejected (`outranked_by_siblings`)
  rating +1                                   -> SFT (`upvoted_reply`) + KTO label true (`thumbs_up`)
  rating -1 (no rewrite)                      -> KTO label false (`thumbs_down`)
  both +1 and -1 (duplicates merged by curate: one reply, several copies' votes)
                                              -> never SFT (somebody flagged it, so it is no example to
                                                 imitate); KTO with the majority's label (`contested_up`
                                                 -> `thumbs_up`, `contested_down` -> `thumbs_down`); an
                                                 even split says nothing: rejected (`conflicting_ratings`)
  no feedback, in a transcript logged for the comparison of its final reply (a later reply carries meta
  `rejected`: HH-RLHF)                        -> rejected (`unrated_transcript_turn`): only the final reply was
                                                 rated; earlier ones are context (red-team transcripts are
                                                 full of replies nobody should imitate)
  no rating                                   -> SFT (`extractive_answer` for a SQuAD span, else `unrated_reply`)
  otherwise                                   -> rejected with a reason (invalid_rating, a tool call that
                                                 cannot be normalised, a plan printed as a Python dict, ...)
Feedback is read as the union of every entry a reply holds (`logtune.feedback.entries`: its own
columns, or every copy's after curate merged duplicates), so a vote is never one copy's alone.
The reply trained (or preferred) is rendered by `targets.render_assistant` (canonical tool calls); the
rejected side of a pair and a thumbs-down completion keep the form the user rejected.

Long conversations: each routed reply then meets `build.long_conversations` (`length`): truncated at
a turn boundary (oldest history exchanges dropped, the system prompt, the user turn and the reply
kept) until its records fit the budget, or rejected with reason `too_long`; counted in the metrics'
`long_conversations`.

Every record made is checked against its JSON Schema (schemas/*.v1.schema.json, through the compiled
`schema_check.RecordCheck`): one that breaks its contract is not kept but written to rejected with
reason `schema` and detail `<field path>: <message>` (counted per set in `schema_rejected`). `ledger`
asserts replies_seen == sum(outcomes) + rejected replies, and that each outcome made exactly the
records it promises (kept + rejected by schema).
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from logtune import records
from logtune.engine import RuntimeParams, map_files, map_rows
from logtune.runtime import no_cyclic_gc
from logtune.spill import Progress, Shards, SortedSpill
from logtune import feedback, toolcalls
from logtune.build.extractive import (DEFAULT_CLOSERS, DEFAULT_OPENERS, DEFAULT_REFUSALS, answer_in_context,
                                      check_templates, refusal_fields, refusal_text)
from logtune.build.kinds import RECORD_TYPES, record_kind
from logtune.build.kto import kto_example
from logtune.build.length import LongConversations, fit
from logtune.build.preference import preference_pair
from logtune.build.replies import Reply, iter_replies
from logtune.build.sft import prompt_messages, sft_example
from logtune.build.targets import NO_CALL_FORMS, Rendered, feedback_meta, render_assistant
from logtune.golden.overlap import golden_turn_keys, turn_key
from logtune.normalize import normalize_context, normalize_text
from logtune.rejects import Reject, rejected_row
from logtune.ids import content_id
from logtune.schema_check import RecordCheck

# outcome -> (SFT rules, pair rules, KTO rules) it makes, one record each unless marked in `ledger`
OUTCOMES = {
    "unanswerable_refusal": (["unanswerable_refusal"], [], []),
    "correction": (["correction_sft"], ["correction_pair"], []),
    "rewrite": (["rewrite_sft"], ["rewrite_pair"], []),
    "recorded_pair": ([], ["recorded_pair"], []),
    "sibling_ranks": (["top_ranked_reply"], ["sibling_rank_pair"], []),   # >= 1 pair, 0 or 1 SFT
    "upvoted": (["upvoted_reply"], [], ["thumbs_up"]),
    "downvoted": ([], [], ["thumbs_down"]),
    "contested_up": ([], [], ["thumbs_up"]),
    "contested_down": ([], [], ["thumbs_down"]),
    "extractive_answer": (["extractive_answer"], [], []),
    "unrated": (["unrated_reply"], [], []),
}
# rules that make one record per distinct rewrite of a reply (merged duplicates can hold several)
MULTI_RULES = {"rewrite_sft", "rewrite_pair", "correction_sft", "correction_pair"}
SFT_RULES = sorted(r for sft, _, _ in OUTCOMES.values() for r in sft)
PAIR_RULES = sorted(r for _, pairs, _ in OUTCOMES.values() for r in pairs)
KTO_RULES = sorted(r for _, _, kto in OUTCOMES.values() for r in kto)
REASONS = sorted(["answer_not_in_context", "broken_context", "conflicting_ratings", "duplicate_reply", "empty_reply",
                  "golden_overlap", "identical_pair", "invalid_rating", "no_user_turn", "outranked_by_siblings", "python_dict_plan",
                  "schema", "too_long", "unrated_transcript_turn", *toolcalls.REASONS])
SETS = ("sft", "preference", "kto")
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
CONTRACTS = {"sft": "sft_example.v1.schema.json", "preference": "preference_pair.v1.schema.json",
             "kto": "kto_example.v1.schema.json"}


@lru_cache(maxsize=None)
def contract(set_name: str) -> RecordCheck:
    """The schema check of one built set (loaded and compiled once per process)."""
    return RecordCheck(SCHEMAS / CONTRACTS[set_name])


def schema_rejected(set_name: str, record: dict[str, Any], problem: str) -> dict[str, Any]:
    """A records.REJECTED row for a built record that breaks its JSON Schema (`problem`: 'path: message')."""
    return rejected_row(content_id(set_name, record.get("id"), "schema"), "build",
                        Reject("schema", f"{set_name}: {problem}"), record)


@dataclass(frozen=True)
class BuildParams:
    history_turns: int = 3
    system_prompt: str | None = None   # None: each session's logged prompt; a text: every example under it
    no_call_form: str = "tool_none"    # a reply without a tool call, in a tool-using conversation
    refusal_templates: tuple[str, ...] = DEFAULT_REFUSALS   # cores; may name {question} / {title}
    refusal_openers: tuple[str, ...] = DEFAULT_OPENERS
    refusal_closers: tuple[str, ...] = DEFAULT_CLOSERS
    seed: int = 0
    long_conversations: LongConversations = LongConversations()   # truncate | reject past a budget (`length`)

    def __post_init__(self) -> None:
        if not isinstance(self.history_turns, int) or self.history_turns < 0:
            raise ValueError(f"build.history_turns must be an integer >= 0, got {self.history_turns!r}")
        if self.no_call_form not in NO_CALL_FORMS:
            raise ValueError(f"build.no_call_form must be one of {NO_CALL_FORMS}, got {self.no_call_form!r}")
        check_templates(self.refusal_templates, self.refusal_openers, self.refusal_closers)


@dataclass
class Built:
    sft: list[dict[str, Any]] = field(default_factory=list)          # records.SFT_EXAMPLE rows
    preference: list[dict[str, Any]] = field(default_factory=list)   # records.PREFERENCE_PAIR rows
    kto: list[dict[str, Any]] = field(default_factory=list)          # records.KTO_EXAMPLE rows
    rejected: list[dict[str, Any]] = field(default_factory=list)     # records.REJECTED rows
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Routed:
    outcome: str | None = None
    sft: list[dict[str, Any]] = field(default_factory=list)
    preference: list[dict[str, Any]] = field(default_factory=list)
    kto: list[dict[str, Any]] = field(default_factory=list)
    reject: Reject | None = None
    fixes: tuple[str, ...] = ()


class Unfit(Exception):
    """A reply that cannot be trained on; carries the Reject."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail)
        self.reject = Reject(reason, detail)


def rejected_reply(conversation: dict[str, Any], message: dict[str, Any], reject: Reject,
                   reply: Reply | None = None) -> dict[str, Any]:
    """A records.REJECTED row for one reply; with the prompt when there is one."""
    record = {"conversation_id": conversation["id"], "message_id": message.get("id"),
              "completion": [{"role": "assistant", "content": message.get("content")}],
              "tool_calls": message.get("tool_calls"),
              "rating": message.get("rating"), "feedback_note": message.get("feedback_note"),
              "task_type": conversation.get("task_type"), "provenance": conversation.get("provenance")}
    if message.get("feedback"):
        record["feedback"] = feedback.entries(conversation, message)
    if reply is not None:
        record["prompt"] = prompt_messages(reply)
        record["message_ids"] = [str(m["id"]) for m in reply.prompt] + [str(message.get("id"))]
    return rejected_row(content_id(conversation["id"], message.get("id"), reject.reason), "build", reject, record)


def render(reply: Reply, text: str | None, tool_calls_json: str | None, params: BuildParams) -> Rendered:
    """`text` (or logged calls) as a training target for this reply; Unfit when it cannot be one."""
    try:
        return render_assistant(text, tool_calls_json, tool_conversation=reply.tool_conversation,
                                no_call_form=params.no_call_form, offered=reply.offered)
    except toolcalls.ToolCallError as e:
        raise Unfit(e.reason, str(e)) from None
    except ValueError as e:          # tool_calls column that is not JSON
        raise Unfit("unparseable_tool_call", str(e)) from None


def trained(reply: Reply, params: BuildParams, text: str | None = None,
            tool_calls_json: str | None = None, use_message: bool = True) -> tuple[Rendered, tuple[str, str]]:
    """(rendered target, kind) of a reply text trained as a good answer; Unfit when it is not one."""
    if use_message:
        text, tool_calls_json = reply.message.get("content"), reply.message.get("tool_calls")
    rendered = render(reply, text, tool_calls_json, params)
    if rendered.calls == 0 and toolcalls.plan_as_python_dict(text):
        raise Unfit("python_dict_plan", "the reply prints a plan as a Python dict (seed 002)")
    kind = record_kind(reply, rendered.text, calls=rendered.calls)
    if kind[0] == "extractive" and not answer_in_context(rendered.text, reply.conversation.get("context")):
        raise Unfit("answer_not_in_context", f"answer {rendered.text[:60]!r} is not a span of the passage")
    return rendered, kind


def as_logged(reply: Reply, params: BuildParams) -> str:
    """The reply in the form the user rejected: its text as logged, bad forms and all.

    Only logged tool calls (no text form of their own) are rendered, canonically; when even that
    fails, their JSON is shown as it was logged.
    """
    msg = reply.message
    if not msg.get("tool_calls"):
        return msg.get("content") or ""
    try:
        return render(reply, msg.get("content"), msg.get("tool_calls"), params).text
    except Unfit:
        return msg["tool_calls"]


def route(reply: Reply, golden_keys: dict, params: BuildParams, context_key: str | None = None) -> Routed:
    """The outcome of one reply and the records it makes (module docstring: the rules, in order).

    `context_key` is normalize_context of the conversation's CONTEXT when the caller has it already
    (it is the same for every reply of a conversation, and the costliest part of the golden check).
    """
    conv, msg = reply.conversation, reply.message
    if not golden_keys:
        case_id = None
    elif context_key is None:
        case_id = golden_keys.get(turn_key(conv.get("context"), reply.user_turn["content"]))
    else:   # = turn_key(context, user turn), without normalising the CONTEXT once per reply
        case_id = golden_keys.get((context_key, normalize_text(reply.user_turn["content"])))
    if case_id is not None:
        return Routed(reject=Reject("golden_overlap", f"answers golden case {case_id}'s final turn"))
    meta = feedback_meta(msg)
    if meta.get("unanswerable") is True:
        text = refusal_text(params.refusal_templates, params.seed, conv["id"], msg.get("id"),
                            refusal_fields(reply.user_turn["content"], conv.get("context")),
                            params.refusal_openers, params.refusal_closers)
        kind = record_kind(reply, text, unanswerable=True)
        # the question and passage are real; the reply is a template, so the record is synthetic
        return Routed("unanswerable_refusal", sft=[sft_example(reply, text, "unanswerable_refusal", kind, "synthetic")])
    votes = feedback.votes(feedback.entries(conv, msg))
    if votes.invalid:
        return Routed(reject=Reject("invalid_rating", f"rating={votes.invalid[0]}"))
    try:
        return _route_feedback(reply, meta, votes, params)
    except Unfit as e:
        return Routed(reject=e.reject)


def _rewrites(reply: Reply, meta: dict[str, Any], votes: feedback.Votes, params: BuildParams) -> Routed:
    """A pair and an SFT example per distinct rewrite (the first keeps the ids a single rewrite always had)."""
    rejected = as_logged(reply, params)
    out = Routed()
    for n, (text, entry_meta) in enumerate(votes.rewrites):
        chosen, kind = trained(reply, params, text, None, use_message=False)
        if normalize_text(chosen.text) == normalize_text(rejected):
            if len(votes.rewrites) == 1:
                raise Unfit("identical_pair", "the rewrite says what the reply said")
            continue            # another copy's rewrite still makes a pair
        correction = bool(meta.get("pattern") or entry_meta.get("pattern"))
        out.outcome = out.outcome or ("correction" if correction else "rewrite")
        sft_rule, pair_rule = ("correction_sft", "correction_pair") if correction else ("rewrite_sft", "rewrite_pair")
        more = () if n == 0 else (content_id(text),)
        out.sft.append(sft_example(reply, chosen.text, sft_rule, kind, more=more))
        out.preference.append(preference_pair(reply, chosen.text, rejected, pair_rule, kind, more=more))
        out.fixes += chosen.fixes
    if out.outcome is None:
        raise Unfit("identical_pair", "every rewrite says what the reply said")
    return out


def _route_feedback(reply: Reply, meta: dict[str, Any], votes: feedback.Votes, params: BuildParams) -> Routed:
    if votes.rewrites:
        return _rewrites(reply, meta, votes, params)
    if meta.get("rejected") is not None:
        chosen, kind = trained(reply, params)
        other = meta["rejected"]
        other = other if isinstance(other, str) else json.dumps(other, ensure_ascii=False)
        if normalize_text(chosen.text) == normalize_text(other):
            raise Unfit("identical_pair", "the logged rejected reply equals the chosen one")
        return Routed("recorded_pair", preference=[preference_pair(reply, chosen.text, other, "recorded_pair", kind)],
                      fixes=chosen.fixes)
    siblings = [s for s in meta.get("siblings") or [] if isinstance(s, dict) and isinstance(s.get("rank"), int)
                and (s.get("text") or "").strip()]
    if isinstance(meta.get("rank"), int) and siblings:
        return _ranked(reply, meta["rank"], siblings, params)
    if votes.contested:
        if votes.up == votes.down:
            raise Unfit("conflicting_ratings", f"{votes.up} up- and {votes.down} down-votes on one reply")
        up = votes.up > votes.down
        completion = as_logged(reply, params)
        kind = record_kind(reply, completion, calls=1 if reply.message.get("tool_calls") else 0)
        return Routed("contested_up" if up else "contested_down",
                      kto=[kto_example(reply, completion, up, "thumbs_up" if up else "thumbs_down", kind)])
    if votes.up:
        chosen, kind = trained(reply, params)
        return Routed("upvoted", sft=[sft_example(reply, chosen.text, "upvoted_reply", kind)],
                      kto=[kto_example(reply, chosen.text, True, "thumbs_up", kind)], fixes=chosen.fixes)
    if votes.down:
        completion = as_logged(reply, params)
        kind = record_kind(reply, completion, calls=1 if reply.message.get("tool_calls") else 0)
        return Routed("downvoted", kto=[kto_example(reply, completion, False, "thumbs_down", kind)])
    chosen, kind = trained(reply, params)
    rule = "extractive_answer" if kind[0] == "extractive" else "unrated_reply"
    return Routed("extractive_answer" if rule == "extractive_answer" else "unrated",
                  sft=[sft_example(reply, chosen.text, rule, kind)], fixes=chosen.fixes)


def _ranked(reply: Reply, rank: int, siblings: list[dict[str, Any]], params: BuildParams) -> Routed:
    """OASST: pairs over every worse-ranked sibling; SFT too when no sibling ranks better."""
    worse = sorted((s for s in siblings if s["rank"] > rank), key=lambda s: (s["rank"], str(s.get("id"))))
    if not worse:
        raise Unfit("outranked_by_siblings", f"rank {rank}: no sibling ranks lower (it is the rejected side of theirs)")
    chosen, kind = trained(reply, params)
    pairs = [preference_pair(reply, chosen.text, s["text"], "sibling_rank_pair", kind, rejected_id=str(s.get("id")))
             for s in worse]
    best = all(rank < s["rank"] for s in siblings)
    sft = [sft_example(reply, chosen.text, "top_ranked_reply", kind)] if best else []
    return Routed("sibling_ranks", sft=sft, preference=pairs, fixes=chosen.fixes)


def compared_transcript(conversation: dict[str, Any]) -> bool:
    """A transcript logged for the comparison of one reply (an assistant message with meta `rejected`)."""
    return any(m.get("role") == "assistant" and m.get("feedback_meta") and feedback_meta(m).get("rejected") is not None
               for m in conversation.get("messages") or [])


def unrated_context_turn(reply: Reply) -> Reject | None:
    """Reject a reply of a compared transcript that carries no feedback of its own (module docstring)."""
    msg = reply.message
    if feedback.entries(reply.conversation, msg):
        return None
    if feedback_meta(msg):
        return None
    return Reject("unrated_transcript_turn", "an earlier turn of a transcript logged for its final reply's "
                  "comparison: nobody rated it, so it is context, not a target")


def reply_key(reply: Reply) -> str:
    """The same message answering the same turns is built once (OASST paths share their prefixes).

    Ids alone are not enough: file adapters number messages by turn index, so ids repeat across
    conversations; ids plus texts plus CONTEXT only repeat when the reply really is the same one.
    """
    msg = reply.message
    return content_id(reply.conversation.get("source"), reply.conversation.get("context"),
                      json.dumps([[m["id"], m["content"]] for m in reply.prompt], ensure_ascii=False),
                      msg.get("id"), msg.get("content"), msg.get("tool_calls"), length=32)


def build(conversations: Iterable[dict[str, Any]], params: BuildParams, golden: list[dict[str, Any]]) -> Built:
    """SFT examples, preference pairs, KTO examples and rejected replies, each list sorted by id (in memory)."""
    out = Built()
    with no_cyclic_gc():
        out.metrics = build_into({name: getattr(out, name).append for name in (*SETS, "rejected")},
                                 lambda fn, state: map_rows(fn, state, conversations), params, golden)
    for rows in (out.sft, out.preference, out.kto, out.rejected):
        rows.sort(key=lambda r: r["id"])
        assert len({r["id"] for r in rows}) == len(rows), "two built records share an id"
    return out


def build_into(sinks: dict[str, Callable[[dict[str, Any]], None]], mapper: Callable[[Callable, dict], Iterable],
               params: BuildParams, golden: list[dict[str, Any]], spill_rows: int = 50_000,
               tmp_dir: str | Path | None = None, shards: Shards | None = None) -> dict[str, Any]:
    """Build batches of conversations, handing every record to `sinks[set name]` (sft, preference, kto,
    rejected) in no particular order; return the metrics. The sinks sort (`logtune.spill.SortedSpill`).

    Each batch is routed on its own (`route_batch`, through `mapper(fn, state)`: results in input order,
    e.g. `runtime.map_files` in worker processes or on Ray);
    what ties replies across batches is decided after all of them, in input order: a reply already built
    from an earlier conversation is rejected (`duplicate_reply`) whatever batch either sits in. Issue 19:
    in bounded memory, without a set of every reply key: the routed batches go to a temporary file
    (pickled, in `tmp_dir`) and (reply key, position) pairs to an on-disk sort (`spill_rows` a run); the
    merge by key names every position that is not its key's first, sorted again by position; a second
    pass over the file hands each reply's records on, or its `duplicate_reply` row at those positions.
    With `shards` (the input files): the metrics' `shards` hold, per file, the conversations read and
    replies seen = built + rejected by reason.
    """
    state = {"params": params, "golden_keys": golden_turn_keys(golden)}
    tally = Tally()
    keys = SortedSpill(None, _KEY_SCHEMA, key=_by_key, run_rows=spill_rows, tmp_dir=tmp_dir)
    later = SortedSpill(None, _POSITION_SCHEMA, key=_by_position, run_rows=spill_rows, tmp_dir=tmp_dir)
    try:
        with tempfile.TemporaryFile(dir=tmp_dir) as routed:
            position = 0
            for reply_keys, pickled in mapper(route_batch_pickled, state):
                routed.write(pickled)          # the worker's pickle as is: this process never re-pickles it
                for key in reply_keys:
                    if key is not None:
                        keys.add({"key": key, "position": position})
                    position += 1
            previous: Any = None
            for row in keys.merged():         # by key, then position (the sort is stable)
                if row["key"] == previous:
                    later.add({"position": row["position"]})
                previous = row["key"]
            keys.close()
            duplicates = (row["position"] for row in later.merged())
            next_duplicate = next(duplicates, None)
            routed.seek(0)
            for results in _pickled(routed):
                for replies in results:
                    if shards is not None:
                        shards.count(tally.read, "read")
                    for _, fresh, duplicate in replies:
                        if tally.replies_seen == next_duplicate:
                            fresh = ReplyOut(rejected=[duplicate])
                            next_duplicate = next(duplicates, None)
                        tally.replies_seen += 1
                        tally.add(fresh, sinks)
                        if shards is not None:
                            shards.count(tally.read, "replies_seen")
                            shards.count(tally.read, "built" if fresh.outcome is not None else fresh.rejected[0]["reason"])
                    tally.read += 1
    finally:
        keys.close()
        later.close()
    metrics = ledger(tally, params)
    if shards is not None:
        metrics["shards"] = shards.ledgers(shard_ledger)
    return metrics


def shard_ledger(name: str, counts: Counter) -> dict[str, Any]:
    """One input file's conversations read and replies seen = built + rejected by reason (`build_into`)."""
    reasons = set(REASONS) | set(counts) - {"read", "replies_seen", "built"}
    by_reason = {reason: counts.get(reason, 0) for reason in sorted(reasons)}
    out = {"read": counts["read"], "replies_seen": counts["replies_seen"], "replies_built": counts["built"],
           "replies_rejected": sum(by_reason.values()), "replies_rejected_by_reason": by_reason}
    if out["replies_seen"] != out["replies_built"] + out["replies_rejected"]:
        raise AssertionError(f"build {name}: replies seen {out['replies_seen']} != built {out['replies_built']} "
                             f"+ rejected {out['replies_rejected']}")
    return out


_KEY_SCHEMA = pa.schema([("key", pa.string()), ("position", pa.int64())])
_POSITION_SCHEMA = pa.schema([("position", pa.int64())])


def _by_key(row: dict[str, Any]) -> str:
    return row["key"]


def _by_position(row: dict[str, Any]) -> int:
    return row["position"]


def _pickled(f: Any) -> Iterator[Any]:
    while True:
        try:
            yield pickle.load(f)
        except EOFError:
            return


@dataclass
class ReplyOut:
    """What one reply made: records per set, rejected rows, and the counts behind the metrics."""
    outcome: str | None = None
    sft: list[dict[str, Any]] = field(default_factory=list)
    preference: list[dict[str, Any]] = field(default_factory=list)
    kto: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    fixes: tuple[str, ...] = ()
    schema: list[tuple[str, str]] = field(default_factory=list)   # (set, rule) of records their schema rejected
    truncated: int = 0                                            # history messages dropped to fit (0: not truncated)


@dataclass
class Tally:
    """The counts the build metrics are made of, summed over replies as they are handed to the sinks."""
    read: int = 0
    replies_seen: int = 0
    outcomes: Counter = field(default_factory=Counter)
    fixes: Counter = field(default_factory=Counter)
    schema_rejects: Counter = field(default_factory=Counter)      # (set, rule) -> records rejected by their schema
    long_stats: Counter = field(default_factory=lambda: Counter({"truncated": 0, "history_messages_dropped": 0}))
    rows: Counter = field(default_factory=Counter)                # set -> records
    columns: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    # (set, column) -> value counts

    def add(self, out: ReplyOut, sinks: dict[str, Callable[[dict[str, Any]], None]]) -> None:
        if out.outcome is not None:
            self.outcomes[out.outcome] += 1
        if out.fixes:
            self.fixes.update(out.fixes)
        if out.schema:
            self.schema_rejects.update(out.schema)
        if out.truncated:
            self.long_stats["truncated"] += 1
            self.long_stats["history_messages_dropped"] += out.truncated
        for name in (*SETS, "rejected"):
            rows = getattr(out, name)
            if not rows:
                continue
            self.rows[name] += len(rows)
            sink = sinks[name]
            for row in rows:
                for column in (("reason",) if name == "rejected" else ("rule", "record_type", "phase", "provenance")):
                    self.columns[(name, column)][str(row[column])] += 1
                sink(row)

    def counts(self, name: str, column: str, known: Iterable[str] = ()) -> dict[str, int]:
        c = Counter({k: 0 for k in known})
        c.update(self.columns.get((name, column), Counter()))
        return dict(sorted(c.items()))

    def merged(self, column: str) -> dict[str, int]:
        """Counts of `column` over all three sets."""
        c: Counter = Counter()
        for set_name in SETS:
            c.update(self.columns.get((set_name, column), Counter()))
        return dict(sorted(c.items()))


DUPLICATE_REPLY = Reject("duplicate_reply", "built from an earlier conversation")


def route_batch_pickled(conversations: list[dict[str, Any]], state: dict[str, Any]) -> tuple[list[str | None], bytes]:
    """`route_batch` as `build_into` takes it from a worker: (each reply's key or None, in order; the pickled
    results), so the stage's process writes the worker's bytes to its temporary file without unpickling
    and pickling them again (that was a third of its CPU with 2 workers)."""
    results = route_batch(conversations, state)
    return ([key for replies in results for key, _, _ in replies],
            pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))


def route_batch(conversations: list[dict[str, Any]], state: dict[str, Any]
                ) -> list[list[tuple[str | None, ReplyOut, dict[str, Any] | None]]]:
    """Per conversation, per reply: (reply key or None, what it makes when first seen, its rejected row
    when another conversation built it first). `state`: params and golden_keys (`build_into`)."""
    params: BuildParams = state["params"]
    golden_keys = state["golden_keys"]
    checks = {name: contract(name) for name in SETS}
    out = []
    for conv in conversations:
        if params.system_prompt is not None:
            conv = {**conv, "system_prompt": params.system_prompt}
        try:
            context_key: str | None = normalize_context(conv.get("context"))
        except (ValueError, TypeError):
            context_key = None
        context_ok = context_key is not None
        compared = compared_transcript(conv)
        replies = []
        for message, item in iter_replies(conv, params.history_turns, params.no_call_form):
            if not context_ok:
                item = Reject("broken_context", "context is not valid JSON")
            elif compared and isinstance(item, Reply):
                item = unrated_context_turn(item) or item
            if isinstance(item, Reject):
                replies.append((None, ReplyOut(rejected=[rejected_reply(conv, message, item)]), None))
                continue
            replies.append((reply_key(item), _made(conv, message, item, golden_keys, params, context_key, checks),
                            rejected_reply(conv, message, DUPLICATE_REPLY, item)))
        out.append(replies)
    return out


def _made(conv: dict[str, Any], message: dict[str, Any], item: Reply, golden_keys: dict, params: BuildParams,
          context_key: str | None, checks: dict[str, RecordCheck]) -> ReplyOut:
    routed = route(item, golden_keys, params, context_key)
    made = ReplyOut()
    if routed.reject is None:
        fitted = fit(item, routed, params.long_conversations, lambda r: route(r, golden_keys, params, context_key))
        item, routed = fitted.reply, fitted.routed
        if fitted.too_long is not None:
            routed = Routed(reject=Reject("too_long", fitted.too_long))
        elif fitted.dropped and routed.reject is None:
            made.truncated = fitted.dropped
    if routed.reject is not None:
        made.rejected.append(rejected_reply(conv, message, routed.reject, item))
        return made
    made.outcome, made.fixes = routed.outcome, routed.fixes
    for name in SETS:
        for record in getattr(routed, name):
            problem = checks[name](record)
            if problem is None:
                getattr(made, name).append(record)
            else:
                made.rejected.append(schema_rejected(name, record, problem))
                made.schema.append((name, record.get("rule")))
    return made


def ledger(tally: Tally, params: BuildParams) -> dict[str, Any]:
    """metrics/build.json, after checking that every reply is accounted for and each outcome made its records.

    `tally.schema_rejects`: (set, rule) -> records made but rejected by their JSON Schema; they count towards
    what their outcome made (the reply was routed), and as rows of rejected (not as rejected replies).
    """
    schema_rejects, read, replies_seen, fixes = tally.schema_rejects, tally.read, tally.replies_seen, tally.fixes
    by_outcome = {o: tally.outcomes.get(o, 0) for o in sorted(OUTCOMES)}
    n_rejected = tally.rows["rejected"]
    sft, pairs, kto = (tally.counts("sft", "rule", SFT_RULES), tally.counts("preference", "rule", PAIR_RULES),
                       tally.counts("kto", "rule", KTO_RULES))
    made_sft, made_pairs, made_kto = (
        {r: n + sum(v for (s, rule), v in schema_rejects.items() if s == name and rule == r) for r, n in c.items()}
        for name, c in (("sft", sft), ("preference", pairs), ("kto", kto)))
    schema_total = sum(schema_rejects.values())
    assert replies_seen == sum(by_outcome.values()) + n_rejected - schema_total, \
        "build lost or invented a reply"
    expected: dict[tuple[str, str], int] = Counter()   # (set, rule) -> replies whose outcome makes it
    for outcome, rules in OUTCOMES.items():
        for name, rule_list in zip(SETS, rules):
            for rule in rule_list:
                expected[name, rule] += by_outcome[outcome]
    made = {"sft": made_sft, "preference": made_pairs, "kto": made_kto}
    assert made_pairs["sibling_rank_pair"] >= by_outcome["sibling_ranks"] >= made_sft["top_ranked_reply"], \
        "every ranked reply made >= 1 pair and at most one SFT example"
    for (name, rule), n in expected.items():
        if rule in ("sibling_rank_pair", "top_ranked_reply"):
            continue
        if rule in MULTI_RULES:      # one record per distinct rewrite, and at least one
            assert made[name][rule] >= n, f"{name} {rule}: at least one record per reply routed to it"
        else:
            assert made[name][rule] == n, f"{name} {rule}: one record per reply routed to it"
    by_type = tally.merged("record_type")
    metrics = {"read": read, "replies_seen": replies_seen, "outcomes": by_outcome,
               "sft_examples": tally.rows["sft"], "sft_by_rule": sft,
               "sft_by_record_type": tally.counts("sft", "record_type"),
               "preference_pairs": tally.rows["preference"], "preference_by_rule": pairs,
               "preference_by_record_type": tally.counts("preference", "record_type"),
               "kto_examples": tally.rows["kto"], "kto_by_rule": kto,
               "kto_by_record_type": tally.counts("kto", "record_type"),
               # issue 18: every record type (seed 004's six first among them) with its count over all three sets
               "records_by_record_type": dict(sorted({**{t: 0 for t in RECORD_TYPES}, **by_type}.items())),
               "records_by_phase": tally.merged("phase"),
               "records_by_provenance": tally.merged("provenance"),
               "tool_call_fixes": {f: fixes.get(f, 0) for f in toolcalls.FIXES},
               "schema_rejected": {name: sum(v for (s, _), v in schema_rejects.items() if s == name) for name in SETS},
               "rejected": n_rejected, "rejected_by_reason": tally.counts("rejected", "reason", REASONS)}
    lc = params.long_conversations
    metrics["long_conversations"] = {"policy": lc.policy, "unit": lc.unit, "limit": lc.limit,
                                     **dict(sorted(tally.long_stats.items())),
                                     "too_long": metrics["rejected_by_reason"]["too_long"]}
    return metrics


OUTPUT_FILES = {"sft": "sft.parquet", "preference": "preference.parquet", "kto": "kto.parquet",
                "rejected": "rejected.parquet"}
SCHEMAS_BY_SET = {"sft": records.SFT_EXAMPLE, "preference": records.PREFERENCE_PAIR, "kto": records.KTO_EXAMPLE,
                  "rejected": records.REJECTED}


def build_files(conversations: str | Path, out_dir: str | Path, params: BuildParams, golden: list[dict[str, Any]],
                runtime: RuntimeParams = RuntimeParams()) -> dict[str, Any]:
    """The build stage in bounded memory: stream `conversations` (Parquet) in batches over `runtime.workers`
    processes, write `<out_dir>/{sft,preference,kto,rejected}.parquet` sorted by id (`logtune.spill`),
    return the metrics. The same bytes as writing `build(...)`'s lists, whatever the workers and batch size."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress("build")
    spills = {name: SortedSpill(out_dir / OUTPUT_FILES[name], SCHEMAS_BY_SET[name], _by_id,
                                run_rows=runtime.spill_rows, tmp_dir=out_dir.parent, unique=True)
              for name in OUTPUT_FILES}
    try:
        with no_cyclic_gc():
            metrics = build_into({name: sp.add for name, sp in spills.items()},
                                 lambda fn, state: map_files(fn, state, [conversations], runtime, progress),
                                 params, golden, runtime.spill_rows, out_dir.parent, Shards([conversations]))
            progress.done()
            for sp in spills.values():
                sp.finish()
    finally:
        for sp in spills.values():
            sp.close()
    return metrics


def _by_id(row: dict[str, Any]) -> str:
    return row["id"]
