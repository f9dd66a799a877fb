"""The rewrite stage end to end on tiny inputs: offline default, the Anthropic API mocked, key hygiene, local model."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from logtune.rewrite.io import FILES
from tests.unit.test_rewrite_client import KEY, FakeAnthropic, status
from tests.unit.test_rewrite_pipeline import write_built

ROOT = Path(__file__).resolve().parents[2]


def write_params(path: Path, **rewrite) -> Path:
    section = {"min_real_share": 0.0, "corrections": {"multiply": 3}, "max_retries": 1, "concurrency": 2,
               **rewrite}
    path.write_text(json.dumps({"rewrite": section}))          # JSON is YAML
    return path


def run(stage, tmp_path: Path, params: Path, fake: FakeAnthropic | None = None, out: str = "out") -> int:
    built, curated = (tmp_path / "built", tmp_path / "curated.parquet")
    if not built.exists():
        write_built(tmp_path)
    return stage("rewrite").main([str(built), str(tmp_path / out), "--curated", str(curated),
                                  "--cache", str(tmp_path / "cache"), "--params", str(params),
                                  "--metrics", str(tmp_path / f"{out}.json")],
                                 http_client=fake.http_client() if fake else None, sleep=lambda s: None)


def test_offline_default_writes_the_four_sets_in_build_s_schemas(stage, tmp_path):
    assert run(stage, tmp_path, write_params(tmp_path / "p.yaml")) == 0
    for name, schema in FILES.items():
        assert pq.read_schema(tmp_path / "out" / f"{name}.parquet").equals(schema, check_metadata=False)
    m = json.loads((tmp_path / "out.json").read_text())
    assert m["provider"] == "offline" and m["generated"] == {"sft": 4, "preference": 3}
    assert m["written"]["rejected"] == m["read"]["rejected"] + sum(t["rejected"] for t in m["tasks"].values())
    first = {n: (tmp_path / "out" / f"{n}.parquet").read_bytes() for n in FILES}
    assert run(stage, tmp_path, write_params(tmp_path / "p.yaml"), out="again") == 0
    assert first == {n: (tmp_path / "again" / f"{n}.parquet").read_bytes() for n in FILES}   # byte-identical


def test_the_shipped_params_run_offline(stage, tmp_path):
    assert run(stage, tmp_path, ROOT / "params.yaml") == 0
    assert json.loads((tmp_path / "out.json").read_text())["provider"] == "offline"


def test_anthropic_second_run_makes_zero_requests(stage, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    params = write_params(tmp_path / "p.yaml", provider="anthropic")
    fake = FakeAnthropic()
    assert run(stage, tmp_path, params, fake) == 0
    m1 = json.loads((tmp_path / "out.json").read_text())
    assert m1["requested_this_run"] == 5 == len(fake.calls) and fake.keys_seen == {KEY}
    assert m1["generated"] == {"sft": 4, "preference": 3} and m1["cost_usd_this_run"] > 0
    again = FakeAnthropic()
    assert run(stage, tmp_path, params, again, out="out2") == 0
    m2 = json.loads((tmp_path / "out2.json").read_text())
    assert again.calls == [] and m2["cache_hits"] == 5 and m2["requested_this_run"] == 0
    assert m2["cost_usd_this_run"] == 0
    for name in FILES:
        first, second = (tmp_path / d / f"{name}.parquet" for d in ("out", "out2"))
        assert first.read_bytes() == second.read_bytes()
    # changed params (more variations): only the new requests are asked
    more = FakeAnthropic()
    assert run(stage, tmp_path, write_params(tmp_path / "p.yaml", provider="anthropic", corrections={"multiply": 4}),
               more, out="out3") == 0
    assert sum(more.asked.values()) == 1


def test_no_file_written_holds_the_api_key(stage, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    # a batch (bookkeeping files too), a failure (rejected rows), a retry (log lines)
    fake = FakeAnthropic(script=[status(429, {"retry-after": "1"})],
                         batch_error=lambda body: "Who is my boss" in body["messages"][0]["content"])
    params = write_params(tmp_path / "p.yaml", provider="anthropic", batch_threshold=2, max_api_error_share=1.0)
    assert run(stage, tmp_path, params, fake) == 0
    assert fake.keys_seen == {KEY}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.parent.name == "cache" for p in written) and any(p.name == "rejected.parquet" for p in written)
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert KEY not in captured.out + captured.err
    m = json.loads((tmp_path / "out.json").read_text())
    assert m["batches_submitted"] == 1 and m["tasks"]["refusal"]["rejected_by_reason"] == {"api_batch_errored": 1}


def test_missing_key_is_a_clear_error(stage, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert run(stage, tmp_path, write_params(tmp_path / "p.yaml", provider="anthropic")) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


def test_too_many_api_failures_fail_the_stage_and_a_rerun_asks_only_those(stage, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    params = write_params(tmp_path / "p.yaml", provider="anthropic", concurrency=1)
    fake = FakeAnthropic(script=[status(500), status(500)])     # the first request fails twice: retries run out
    assert run(stage, tmp_path, params, fake) == 1
    m = json.loads((tmp_path / "out.json").read_text())
    assert m["api_errors"] == 1 and m["retries"] == 1
    reasons = [r["reason"] for r in pq.read_table(tmp_path / "out" / "rejected.parquet").to_pylist()]
    assert "api_server_error" in reasons
    again = FakeAnthropic()
    assert run(stage, tmp_path, params, again, out="out2") == 0
    assert sum(again.asked.values()) == 1


def test_dry_run_command_makes_no_request(tmp_path, monkeypatch, capsys):
    import anthropic

    from logtune.cli import main

    monkeypatch.setattr(anthropic, "Anthropic", lambda *a, **k: pytest.fail("the dry run built a client"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    write_built(tmp_path)
    rc = main(["rewrite", "--dry-run", "--built", str(tmp_path / "built"),
               "--curated", str(tmp_path / "curated.parquet"),
               "--cache", str(tmp_path / "cache"), "--params", str(write_params(tmp_path / "p.yaml")),
               "--provider", "anthropic", "--json"])
    assert rc == 0
    e = json.loads(capsys.readouterr().out)
    assert e["to_request"] == 5 and e["cost_usd_sync"] > e["cost_usd_batch"] > 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_local_provider_runs_a_model_folder_and_the_checks_judge_it(stage, tmp_path):
    from tests.unit.tiny_training import tiny_base

    model = tiny_base(tmp_path / "base")   # a real (tiny) model folder, built here: no dependency on models/
    params = write_params(tmp_path / "p.yaml", provider="local", model_path=str(model), max_tokens=24,
                          corrections={"enabled": False})
    assert run(stage, tmp_path, params) == 0
    m = json.loads((tmp_path / "out.json").read_text())
    assert m["provider"] == "local" and m["requested_this_run"] == 3
    for t in m["tasks"].values():
        assert t["items"] == t["kept"] + t["rejected"]     # junk is fine; it is counted, not lost
    assert len(list((tmp_path / "cache" / "responses").glob("*/*.json"))) == 3
