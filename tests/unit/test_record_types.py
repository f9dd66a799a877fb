"""Issue #18 (seed 004): all six record types land in the right training sets and are counted per type
in build's and mix's metrics; `knowledge` and `memory` mean what the README says."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from logtune import records
from logtune.build import BuildParams, build
from logtune.mix.pipeline import MixParams, mix_set
from logtune.sources import event_log, records_jsonl

SIX = [
    {"id": "c1", "record_type": "chat", "input": "User: I missed the deadline.", "output": "Let's send a revised ETA."},
    {"id": "q1", "record_type": "qa", "input": "What is the capital of France?", "output": "Paris."},
    {"id": "p1", "record_type": "preference", "input": "User: Summarise my week.",
     "chosen": "You shipped the parser and fixed two bugs.", "rejected": "Week good."},
    # knowledge: a question answered from a fact the assistant holds (no CONTEXT): SFT, type knowledge
    {"id": "k1", "record_type": "knowledge", "input": "User: When does the office close on Fridays?",
     "output": "The office closes at 6pm on Fridays."},
    # a bare fact with no question is no exchange: rejected no_user_turn (turn notes into exchanges with
    # the `notes` rewrite task instead)
    {"id": "k2", "record_type": "knowledge", "input": "", "output": "The VPN rotates keys every 90 days."},
    # memory: what the user asked the assistant to remember -> the memory entry it writes (JSON object)
    {"id": "m1", "record_type": "memory", "input": "User: Remember that I prefer morning meetings.",
     "output": {"key": "meeting_time", "value": "morning", "scope": "user"}},
    {"id": "t1", "record_type": "trajectory", "input": "User: Check disk on web-1",
     "output": [{"tool": "ssh", "args": {"host": "web-1", "cmd": "df -h"}}]},
]


def built(tmp_path: Path):
    path = tmp_path / "six.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in SIX))
    convs = [c for c in records_jsonl.read(path, {}, "v8") if not c.get("quarantine")]
    thumbs = tmp_path / "calls.jsonl"    # KTO examples come from thumbs (seed 003's event log)
    thumbs.write_text(json.dumps({"id": "x1", "taskType": "chat", "llmPrompt": "Roll a die",
                                  "aceyOutput": {"speech": "No."}, "feedback": "down"}) + "\n")
    convs += [c for c in event_log.read(thumbs, {}, "acey") if not c.get("quarantine")]
    return build(convs, BuildParams(), [])


def test_each_type_lands_in_its_set_and_is_counted(tmp_path):
    out = built(tmp_path)
    sft = {r["record_type"]: r["messages"][-1]["content"] for r in out.sft}
    assert sorted(sft) == ["chat", "knowledge", "memory", "qa", "trajectory"]
    assert sft["knowledge"] == "The office closes at 6pm on Fridays."
    assert json.loads(sft["memory"]) == {"key": "meeting_time", "scope": "user", "value": "morning"}
    assert [(p["record_type"], p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in out.preference] == [
        ("preference", "You shipped the parser and fixed two bugs.", "Week good.")]
    assert [(k["record_type"], k["label"]) for k in out.kto] == [("chat", False)]
    assert [r["reason"] for r in out.rejected] == ["no_user_turn"]
    m = out.metrics
    assert m["sft_by_record_type"] == {"chat": 1, "knowledge": 1, "memory": 1, "qa": 1, "trajectory": 1}
    assert m["preference_by_record_type"] == {"preference": 1} and m["kto_by_record_type"] == {"chat": 1}
    six = {t: m["records_by_record_type"][t] for t in ("chat", "qa", "preference", "knowledge", "memory", "trajectory")}
    assert six == {"chat": 2, "qa": 1, "preference": 1, "knowledge": 1, "memory": 1, "trajectory": 1}
    assert m["records_by_record_type"]["refusal"] == 0       # every known type is listed, zero or not


def test_mix_counts_each_type_on_both_sides_of_the_split(tmp_path):
    out = built(tmp_path)
    table = pa.Table.from_pylist(out.sft, schema=records.SFT_EXAMPLE)
    mixed = mix_set(table, "sft", MixParams(seed=3, eval_share=0.4), {})
    train, held = mixed.metrics["train_by_record_type"], mixed.metrics["heldout_by_record_type"]
    assert sorted(set(train) | set(held)) == ["chat", "knowledge", "memory", "qa", "trajectory"]
    assert sum(train.values()) == mixed.metrics["train"] and sum(held.values()) == mixed.metrics["heldout"]
    assert {t: train.get(t, 0) + held.get(t, 0) for t in set(train) | set(held)} == {
        "chat": 1, "knowledge": 1, "memory": 1, "qa": 1, "trajectory": 1}
