"""Record type and curriculum phase of a trained reply: how each of the record types is recognised.

Record types are seed 004's six (`chat`, `qa`, `preference`, `knowledge`, `memory`, `trajectory`) plus
`extractive` and `refusal` (seed 001's curriculum) and `tool_call` (one tool call with no further
step: an event log's intent). Phases are seed 001's: `extractive` -> `conversational` -> `refusals`.
Recognised in this order, the first match wins:
  1. a SQuAD v2 unanswerable question (feedback_meta `unanswerable`)   -> refusal, phase refusals
  2. task type `extractive` (SQuAD v2 answerable: the reply is a span)   -> extractive, phase extractive
  3. the reply calls a tool or its exchange holds tool steps:
     two or more steps in the exchange (call + result, or several calls) -> trajectory
     a single call and nothing after it                                 -> tool_call, unless the
       record says it is a trajectory (task type `trajectory`: seed 004's records keep their own type)
  4. task type one of seed 004's six (records_jsonl copies each record's `record_type` there): kept as
     the record type; phase refusals when the reply is a refusal (`logtune.refusal`), else conversational
  5. the reply says the answer is not in CONTEXT (`logtune.refusal`)     -> refusal, phase refusals
  6. a question-answering task type (Dolly's closed_qa/open_qa/general_qa, `qa`) -> qa
  7. anything else                                                       -> chat
A preference pair takes the kind of its chosen reply, except that typed records of type `preference`
keep it. Not for routing feedback (that is `pipeline.route`).
"""

from __future__ import annotations

from logtune.build.replies import Reply
from logtune.refusal import is_refusal

SEED004_TYPES = ("chat", "qa", "preference", "knowledge", "memory", "trajectory")
QA_TASK_TYPES = ("qa", "closed_qa", "open_qa", "general_qa")
EXTRACTIVE_TASK_TYPES = ("extractive",)
RECORD_TYPES = tuple(sorted(set(SEED004_TYPES) | {"extractive", "refusal", "tool_call"}))
PHASES = ("extractive", "conversational", "refusals")


def record_kind(reply: Reply, reply_text: str, *, unanswerable: bool = False, calls: int = 0) -> tuple[str, str]:
    """(record_type, phase) of `reply_text` trained as the answer to `reply`'s prompt."""
    task_type = reply.conversation.get("task_type")
    if unanswerable:
        return "refusal", "refusals"
    if task_type in EXTRACTIVE_TASK_TYPES:
        return "extractive", "extractive"
    if calls or reply.exchange_steps:
        trajectory = reply.exchange_steps >= 2 or task_type == "trajectory"
        return ("trajectory" if trajectory else "tool_call"), "conversational"
    if task_type in SEED004_TYPES:
        return task_type, "refusals" if is_refusal(reply_text) else "conversational"
    if is_refusal(reply_text):
        return "refusal", "refusals"
    if task_type in QA_TASK_TYPES:
        return "qa", "conversational"
    return "chat", "conversational"
