"""The data contracts between stages: pyarrow schemas for every Parquet artifact.

Rows are plain dicts everywhere in the library; these schemas fix their Parquet layout (and so
byte-identical output), and `schemas/*.schema.json` state the same contracts as JSON Schema.
Every downstream record carries the ids it came from, so a training example or an eval result
traces back to the log row it started as.
"""

from __future__ import annotations

import pyarrow as pa

# One message of a conversation. Feedback sits on the assistant message it rates.
MESSAGE = pa.struct([
    ("id", pa.string()),              # message id in the source (stringified)
    ("role", pa.string()),            # system | user | assistant | tool
    ("content", pa.string()),
    ("created_at", pa.string()),      # ISO-8601 text, as the source had it
    ("tool_calls", pa.string()),      # JSON text of the tool calls, or null
    ("rating", pa.int8()),            # +1 thumbs up, -1 thumbs down, null unrated
    ("feedback_note", pa.string()),   # the user's comment on this reply
    ("rewrite", pa.string()),         # a human-corrected version of this reply
    ("feedback_meta", pa.string()),   # JSON text of the feedback meta, as the source had it
])

# The normalized Conversation: the spine of the pipeline (data/exported/*.parquet, data/curated/).
CONVERSATION = pa.schema([
    ("id", pa.string()),              # content hash of (source, source_id): logtune.ids.conversation_id
    ("source", pa.string()),          # the source's name in params.yaml
    ("source_id", pa.string()),       # the id the conversation had in that source
    ("task_type", pa.string()),
    ("system_prompt", pa.string()),
    ("prompt_version", pa.string()),  # logtune.ids.prompt_version(system_prompt)
    ("model_version", pa.string()),
    ("context", pa.string()),         # the backend's CONTEXT as JSON text (authoritative ground truth)
    ("messages", pa.list_(MESSAGE)),
    ("status", pa.string()),          # the session's state in the source: ok | error | ...
    ("error", pa.string()),
    ("confidence", pa.float64()),
    ("approval", pa.string()),        # approved | rejected | pending | null
    ("latency_ms", pa.float64()),
    ("cost", pa.float64()),
    ("created_at", pa.string()),
    ("provenance", pa.string()),      # real | synthetic | rewritten
])

# A record some stage did not keep, with the reason (rejected.parquet, beside what was kept).
REJECTED = pa.schema([
    ("id", pa.string()),
    ("stage", pa.string()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("record", pa.string()),          # the rejected record as JSON text
])

CHAT_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

# An SFT example in TRL's conversational format (`messages`), plus lineage.
SFT_EXAMPLE = pa.schema([
    ("id", pa.string()),
    ("messages", pa.list_(CHAT_MESSAGE)),
    ("record_type", pa.string()),     # chat | qa | refusal | ...
    ("phase", pa.string()),           # curriculum phase
    ("task_type", pa.string()),
    ("provenance", pa.string()),
    ("rule", pa.string()),            # which build rule made it
    ("conversation_id", pa.string()),
    ("message_ids", pa.list_(pa.string())),
    ("generated_by", pa.string()),    # JSON {provider, model, task, prompt_version} for LLM-made records, else null
])

# A DPO pair in TRL's conversational preference format (prompt / chosen / rejected), plus lineage.
PREFERENCE_PAIR = pa.schema([
    ("id", pa.string()),
    ("prompt", pa.list_(CHAT_MESSAGE)),
    ("chosen", pa.list_(CHAT_MESSAGE)),
    ("rejected", pa.list_(CHAT_MESSAGE)),
    ("record_type", pa.string()),
    ("phase", pa.string()),           # curriculum phase of the chosen reply
    ("task_type", pa.string()),
    ("provenance", pa.string()),
    ("rule", pa.string()),
    ("conversation_id", pa.string()),
    ("message_ids", pa.list_(pa.string())),
    ("generated_by", pa.string()),    # JSON {provider, model, task, prompt_version} for LLM-made records, else null
])

# One golden case scored for one model (data/eval/results.parquet).
EVAL_RESULT = pa.schema([
    ("case_id", pa.string()),
    ("model", pa.string()),           # base | sft | dpo | ...
    ("reply", pa.string()),
    ("passed", pa.bool_()),
    ("correct", pa.bool_()),
    ("refused", pa.bool_()),
    ("must_refuse", pa.bool_()),
    ("hallucinated_ids", pa.list_(pa.string())),
    ("reply_words", pa.int32()),
    ("tags", pa.list_(pa.string())),
    ("case_type", pa.string()),       # answer | refusal | tool | multi_turn | persona | ... (golden case kind)
    ("scores", pa.string()),          # JSON {metric: float | null}: this case's value of every metric (null = not applicable);
                                      #   a model's metric = mean of the non-null values (logtune.scores)
])

# A KTO example in TRL's unpaired preference format (prompt / completion / label), plus lineage:
# a reply rated with a thumb and no rewrite (data/built/kto.parquet). label true = thumbs up.
KTO_EXAMPLE = pa.schema([
    ("id", pa.string()),
    ("prompt", pa.list_(CHAT_MESSAGE)),
    ("completion", pa.list_(CHAT_MESSAGE)),
    ("label", pa.bool_()),
    ("record_type", pa.string()),
    ("phase", pa.string()),
    ("task_type", pa.string()),
    ("provenance", pa.string()),
    ("rule", pa.string()),            # which build rule made it (thumbs_up | thumbs_down)
    ("conversation_id", pa.string()),
    ("message_ids", pa.list_(pa.string())),
    ("generated_by", pa.string()),    # JSON {provider, model, task, prompt_version} for LLM-made records, else null
])
