"""The rewrite pipeline on tests/fixtures/rewrite/built.json: records made, ledger, real-share cap, dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import write_rows
from logtune.params import from_dict
from logtune.rewrite import dry_run, rewrite
from logtune.llm.cache import ResponseCache
from logtune.rewrite.io import FILES, inputs_of, read_built
from logtune.rewrite.params import RewriteParams
from logtune.llm.providers import OfflineProvider

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rewrite" / "built.json"


def write_built(folder: Path) -> tuple[Path, Path]:
    """The fixture as a built folder (four Parquet files) and a curated conversations.parquet."""
    data = json.loads(FIXTURE.read_text())
    for name, schema in FILES.items():
        write_rows(folder / "built" / f"{name}.parquet", data[name], schema)
    curated = folder / "curated.parquet"
    write_rows(curated, data["curated"], records.CONVERSATION)
    return folder / "built", curated


def params(**over) -> RewriteParams:
    base = {"min_real_share": 0.0, "corrections": {"multiply": 3}}
    return from_dict(RewriteParams, {**base, **over}, "rewrite")


def run(tmp_path, p: RewriteParams):
    built_dir, curated = write_built(tmp_path)
    built = read_built(built_dir)
    return built, rewrite(built, inputs_of(built, curated), p, OfflineProvider(), ResponseCache(None))


def generated(rows):
    return [r for r in rows if r["generated_by"]]


def test_offline_makes_every_task_s_records_and_passes_built_ones_through(tmp_path):
    built, out = run(tmp_path, params())
    sft, pairs = generated(out.sets["sft"]), generated(out.sets["preference"])
    assert sorted(r["rule"] for r in sft) == ["llm_conversational", "llm_correction_sft", "llm_correction_sft",
                                             "llm_refusal"]
    assert sorted(r["rule"] for r in pairs) == ["llm_correction_pair", "llm_correction_pair", "llm_downvote_pair"]
    fix = next(r for r in pairs if r["rule"] == "llm_downvote_pair")
    assert fix["chosen"][0]["content"] == "PRJ-1042 is in progress."         # CONTEXT's status, not "completed"
    assert fix["rejected"][0]["content"] == "PRJ-1042 is completed." and fix["conversation_id"] == "c-down"
    conv = next(r for r in sft if r["rule"] == "llm_conversational")
    assert conv["messages"][-1]["content"] == "The capital of France is Paris, according to the passage."
    assert conv["record_type"] == "qa" and conv["phase"] == "conversational"
    for r in sft + pairs:
        assert r["provenance"] == "synthetic"
        assert set(json.loads(r["generated_by"])) == {"provider", "model", "task", "prompt_version"}
    for name in ("sft", "preference", "kto"):
        ids = {r["id"] for r in out.sets[name]}
        assert {r["id"] for r in built[name]} <= ids                           # every built record passes through
    assert out.sets["kto"] == built["kto"]
    assert [r["id"] for r in out.sets["rejected"]] == ["r-built"]


def test_ledger_accounts_for_every_item(tmp_path):
    _, out = run(tmp_path, params())
    m = out.metrics
    assert m["tasks"]["corrections"]["items"] == 2 and m["tasks"]["corrections"]["kept"] == 2   # multiply 3: +2
    assert m["generated"] == {"sft": 4, "preference": 3}
    assert m["written"]["sft"] == m["read"]["sft"] + 4
    for t in m["tasks"].values():
        assert t["items"] == t["kept"] + t["rejected"] and t["prompt_version"]


def test_failed_checks_are_rejected_with_their_reason(tmp_path, monkeypatch):
    from logtune.rewrite import tasks

    monkeypatch.setattr(tasks.offline, "downvote", lambda *a: "PRJ-9999 is in progress.")
    _, out = run(tmp_path, params())
    (row,) = [r for r in out.sets["rejected"] if r["stage"] == "rewrite"]
    assert row["reason"] == "id_not_in_context" and "PRJ-9999" in row["detail"]
    assert json.loads(row["record"])["output"] == "PRJ-9999 is in progress."
    assert out.metrics["tasks"]["downvote"]["rejected_by_reason"] == {"id_not_in_context": 1}


def test_real_share_cap_drops_generated_records_that_would_sink_it(tmp_path):
    _, out = run(tmp_path, params(min_real_share=0.75))
    for name in ("sft", "preference"):
        rows = out.sets[name]
        assert sum(r["provenance"] == "real" for r in rows) / len(rows) >= 0.75
    capped = [r for r in out.sets["rejected"] if r["reason"] == "real_share_cap"]
    assert capped and len(capped) == sum(out.metrics["capped_real_share"].values())


def test_persona_examples_are_canonical_and_about_30_percent_multi_turn(tmp_path):
    _, out = run(tmp_path, params(persona={"enabled": True, "count": 20}))
    persona = [r for r in out.sets["sft"] if r["rule"] == "llm_persona"]
    assert len(persona) == 20 and out.metrics["tasks"]["persona"]["rejected"] == 0
    multi = [r for r in persona if sum(m["role"] == "user" for m in r["messages"]) >= 2]
    assert len(multi) == 6
    assert {json.loads(r["messages"][-1]["content"])["tool"] for r in persona} == {"none"}
    assert all(r["record_type"] == "trajectory" and r["task_type"] == "agent" for r in persona)


def test_same_inputs_same_outputs(tmp_path):
    _, a = run(tmp_path / "a", params(persona={"enabled": True, "count": 5}))
    _, b = run(tmp_path / "b", params(persona={"enabled": True, "count": 5}))
    assert a.sets == b.sets and a.metrics == b.metrics


def test_disabled_tasks_ask_nothing(tmp_path):
    off = {"enabled": False}
    _, out = run(tmp_path, params(conversational=off, refusal=off, downvote=off, corrections=off, notes=off))
    assert out.metrics["requests"] == 0 and out.metrics["tasks"] == {}


def test_dry_run_prices_requests_and_calls_nothing(tmp_path, monkeypatch):
    import anthropic

    def no_client(*a, **k):
        raise AssertionError("the dry run must not build a client")
    monkeypatch.setattr(anthropic, "Anthropic", no_client)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    built_dir, curated = write_built(tmp_path)
    built = read_built(built_dir)
    e = dry_run(inputs_of(built, curated), params(provider="anthropic"), ResponseCache(tmp_path / "cache"))
    assert e["requests"] == e["to_request"] == 5 and e["cached"] == 0
    assert e["input_tokens"] > 0 and e["output_tokens"] > 0
    assert e["cost_usd_batch"] == pytest.approx(e["cost_usd_sync"] / 2, abs=1e-6)
    assert e["cost_usd_sync"] == pytest.approx((e["input_tokens"] * 1.0 + e["output_tokens"] * 5.0) / 1e6, abs=1e-6)
