"""Issue #18 (seed 002): Toucan-style MCP trajectories as a source kind, reaching build as trajectories."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from logtune.sources import get_adapter, toucan
from tests.unit.source_contract import assert_contract, notes, split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "toucan" / "trajectories.jsonl"


def test_fixture(tmp_path):
    assert get_adapter("toucan") is toucan
    items = list(toucan.read(FIXTURE, {}, "toucan"))
    assert notes(items) == {"metadata": 1}
    convs, bad = split(items)
    assert_contract(convs, tmp_path)
    assert [(q["reason"], q["location"]) for q in bad] == [
        ("broken_messages", "line 3"), ("no_reply", "line 4"), ("unknown_role", "line 5"), ("duplicate_id", "line 6"),
        ("missing_field", "line 7")]
    paris, oslo = convs
    assert paris["system_prompt"] == "You are a helpful assistant with MCP tools."
    assert (paris["provenance"], paris["task_type"], paris["source_id"]) == ("synthetic", "agent", "t-1")
    assert [m["role"] for m in paris["messages"]] == ["user", "assistant", "tool", "assistant"]
    call = json.loads(paris["messages"][1]["tool_calls"])
    assert call == [{"id": None, "type": "function", "function": {"name": "weather-get_forecast",
                                                                  "arguments": {"city": "Paris"}}}]
    assert json.loads(paris["context"])["tools"][0]["name"] == "weather-get_forecast"
    assert json.loads(paris["messages"][-1]["feedback_meta"])["toucan"] == {
        "subset": "single-turn-original", "target_tools": "weather-get_forecast",
        "question_quality": {"overall_score": 9}, "response_quality": {"overall_score": 8}}
    assert json.loads(oslo["messages"][1]["tool_calls"])[0]["id"] == "c1"
    assert oslo["messages"][-1]["content"] == "Oslo tops out at 3 degrees."


def test_parquet_form_reads_the_same_and_build_makes_trajectories(tmp_path):
    from logtune.build import BuildParams, build

    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()[:1]]
    path = tmp_path / "train-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    (conv,) = [i for i in toucan.read(path, {"provenance": "real"}, "toucan") if not i.get("quarantine")]
    assert conv["source_id"] == "t-1" and conv["provenance"] == "real"
    convs, _ = split(list(toucan.read(FIXTURE, {}, "toucan")))
    built = build(convs, BuildParams(), [])
    assert {r["record_type"] for r in built.sft} == {"trajectory"}
    finals = [json.loads(r["messages"][-1]["content"]) for r in built.sft if r["messages"][-2]["role"] == "tool"]
    # tool conversations train the canonical call form: the closing reply is a "none" call carrying the message
    assert sorted(f["message"] for f in finals) == ["Oslo tops out at 3 degrees.",
                                                    "Tomorrow in Paris: rain, between 9 and 18 degrees."]
    assert len(built.sft) == 4 and built.rejected == []
