"""Issue #18 (seed 002's --augment-existing): persona variants of existing tool trajectories keep every
tool call and tool result byte-identical (checked), on literal turns and through the rewrite stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune import toolcalls
from logtune.build import BuildParams, build
from logtune.params import from_dict
from logtune.rewrite import rewrite
from logtune.rewrite.augment import checked_variant, offline_variant
from logtune.llm.cache import ResponseCache
from logtune.rewrite.checks import Failed
from logtune.rewrite.params import RewriteParams
from logtune.llm.providers import OfflineProvider
from logtune.rewrite.tasks import Inputs
from logtune.sources import toucan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "toucan" / "trajectories.jsonl"
CALL = toolcalls.serialise([toolcalls.ToolCall("weather-get_forecast", {"city": "Paris"})])
RESULT = '{"high": 18, "low": 9, "sky": "rain"}'
FINAL = toolcalls.serialise([], "Tomorrow in Paris: rain, between 9 and 18 degrees.")
SOURCE = [{"role": "user", "content": "Weather in Paris tomorrow?"}, {"role": "assistant", "content": CALL},
          {"role": "tool", "content": RESULT}, {"role": "assistant", "content": FINAL}]
OFF = {"enabled": False}


def variant(**changes) -> str:
    turns = [dict(t) for t in SOURCE]
    turns[0]["content"] = "Bottom line please: Paris weather tomorrow?"
    for index, content in changes.items():
        turns[int(index[1:])]["content"] = content
    return json.dumps({"turns": turns})


def test_a_variant_keeps_calls_and_results_byte_identical():
    out = checked_variant(variant(t3=toolcalls.serialise([], "TL;DR: rain tomorrow, 9 to 18 degrees.")), SOURCE,
                          "executive")
    assert out[1]["content"] == CALL and out[2]["content"] == RESULT
    assert json.loads(out[3]["content"])["message"] == "TL;DR: rain tomorrow, 9 to 18 degrees."
    # the same call re-spelled with other whitespace or key order is rebuilt from the source's bytes
    respelled = json.dumps({"args": {"city": "Paris"}, "tool": "weather-get_forecast"}, indent=1)
    with pytest.raises(Failed, match="byte-identical"):
        checked_variant(variant(t1=respelled), SOURCE, "executive")


@pytest.mark.parametrize("changes, reason", [
    ({"t1": toolcalls.serialise([toolcalls.ToolCall("weather-get_forecast", {"city": "Lyon"})])}, "tool_call_changed"),
    ({"t2": '{"high": 19, "low": 9, "sky": "rain"}'}, "tool_result_changed"),
    ({"t3": toolcalls.serialise([], "Rain tomorrow 🌧️ bring a coat ☔")}, "voice_emoji"),
    ({"t3": "Rain tomorrow."}, "tool_call_changed"),              # prose where the call value belongs
    ({"t0": "Weather in Paris tomorrow?"}, "same_as_source"),
])
def test_each_change_to_a_call_or_result_is_rejected(changes, reason):
    with pytest.raises(Failed) as e:
        checked_variant(variant(**changes), SOURCE, "executive")
    assert e.value.reason == reason


def test_shape_must_match():
    turns = json.loads(variant())["turns"][:-1]
    with pytest.raises(Failed) as e:
        checked_variant(json.dumps({"turns": turns}), SOURCE, "casual")
    assert e.value.reason == "shape_mismatch"


def test_offline_augment_over_built_toucan_trajectories():
    convs = [c for c in toucan.read(FIXTURE, {}, "toucan") if not c.get("quarantine")]
    built = build(convs, BuildParams(), [])
    sources = {r["id"]: r for r in built.sft}
    p = from_dict(RewriteParams, {"min_real_share": 0.0, "conversational": OFF, "refusal": OFF, "downvote": OFF,
                                  "corrections": OFF, "notes": OFF, "augment": {"enabled": True, "variants": 2}},
                  "rewrite")
    out = rewrite({"sft": built.sft, "preference": [], "kto": [], "rejected": []}, Inputs(built.sft, [], []), p,
                  OfflineProvider(), ResponseCache(None))
    task = out.metrics["tasks"]["augment"]
    assert (task["items"], task["rejected"]) == (8, 0) and task["sft_records"] == 8
    made = [r for r in out.sets["sft"] if r["rule"] == "llm_persona_augment"]
    assert len(made) == 8
    for r in made:
        src = next(s for s in sources.values() if s["conversation_id"] == r["conversation_id"]
                   and len(s["messages"]) == len(r["messages"])
                   and [m["role"] for m in s["messages"]] == [m["role"] for m in r["messages"]]
                   and all(a["content"] == b["content"] for a, b in zip(s["messages"], r["messages"])
                           if a["role"] != "user"))
        assert [m["content"] for m in r["messages"] if m["role"] in ("assistant", "tool", "system")] == [
            m["content"] for m in src["messages"] if m["role"] in ("assistant", "tool", "system")]
        assert [m["content"] for m in r["messages"] if m["role"] == "user"] != [
            m["content"] for m in src["messages"] if m["role"] == "user"]
        assert (r["provenance"], r["record_type"]) == ("synthetic", "trajectory")


def test_dry_run_prices_the_persona_layer_only_with_augment_existing(tmp_path, capsys):
    from logtune.cli import main
    from logtune.rewrite.io import write_sets

    convs = [c for c in toucan.read(FIXTURE, {}, "toucan") if not c.get("quarantine")]
    built = build(convs, BuildParams(), [])
    write_sets(tmp_path / "built", {"sft": built.sft, "preference": [], "kto": [], "rejected": []})
    root = Path(__file__).resolve().parents[2]
    args = ["rewrite", "--dry-run", "--json", "--built", str(tmp_path / "built"), "--curated", str(tmp_path / "none"),
            "--cache", str(tmp_path / "none"), "--params", str(root / "params.yaml")]
    assert main(args) == 0
    assert "augment" not in json.loads(capsys.readouterr().out)["by_task"]
    assert main(args + ["--augment-existing"]) == 0
    assert json.loads(capsys.readouterr().out)["by_task"]["augment"]["requests"] == 4
