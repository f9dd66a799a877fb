"""`logtune monitor`: healthy logs exit 0; each threshold breached alone exits 1 naming it; corrupt line -> file:line."""

import json
from pathlib import Path

import pytest

from logtune.cli import main
from logtune.io import read_json
from logtune.release.monitor import MonitorParams, monitor, p95, thumbs
from logtune.rules import load_rules

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "monitor"
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "auto_rules.yaml"


def healthy() -> list[dict]:
    return [json.loads(line) for line in (FIX / "healthy.jsonl").read_text().splitlines()]


def run(tmp_path, rows, *extra) -> tuple[int, dict]:
    logs = tmp_path / "logs.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "monitor.json"
    rc = main(["monitor", str(logs), "--params", str(tmp_path / "no-params.yaml"), "--rules", str(RULES),
               "--release", str(tmp_path / "no-manifest.json"), "--out", str(out), *extra])
    return rc, read_json(out) if out.is_file() else {}


def test_healthy_logs_exit_0_with_every_number(tmp_path, capsys):
    rc, report = run(tmp_path, healthy(), "--baseline", str(FIX / "baseline.json"))
    assert rc == 0 and report["status"] == "ok" and report["alerts"] == []
    assert report["n_calls"] == 20 and report["error_rate"] == 0.0
    assert report["p95_latency_ms"] == 860.0            # nearest rank: the 19th of 20 (500, 520 .. 880)
    assert report["confidence_drop"] == pytest.approx(0.05) and report["thumbs_down_rate"] == pytest.approx(0.2)
    assert report["by_task_type"]["graphics"]["calls"] == 5
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("change, alert", [
    (lambda rows: [dict(r, error="timeout") if i < 2 else r for i, r in enumerate(rows)],
     "error_rate 0.1 > max_error_rate 0.05"),
    (lambda rows: [dict(r, responseTime=2500) if i < 2 else r for i, r in enumerate(rows)],
     "p95_latency_ms 2500 > max_p95_latency_ms 2000"),
    (lambda rows: [dict(r, confidence=0.75) for r in rows], "confidence_drop 0.15 > max_confidence_drop 0.1"),
    (lambda rows: [dict(r, status="pending", aceyOutput={"speech": "As an AI language model, no."}) if i < 5 else r
                   for i, r in enumerate(rows)], "rejection_rate 0.25 > max_rejection_rate 0.2"),
    (lambda rows: [dict(r, thumbs="down") if i % 5 == 0 else r for i, r in enumerate(rows)],
     "thumbs_down_rate 1 > max_thumbs_down_rate 0.3"),
])
def test_each_threshold_breached_alone_exits_1_naming_it(tmp_path, capsys, change, alert):
    rc, report = run(tmp_path, change(healthy()), "--baseline", str(FIX / "baseline.json"))
    assert rc == 1 and report["alerts"] == [alert]
    assert f"ALERT {alert}" in capsys.readouterr().out


def test_rejections_name_the_rule_in_top_failure_tags(tmp_path):
    rows = [dict(r, status="pending", aceyOutput={"speech": "As an AI language model, no."}) if i < 5 else r
            for i, r in enumerate(healthy())]
    _, report = run(tmp_path, rows)
    assert report["top_failure_tags"][0] == {"tag": "auto_rule:filler_reply", "count": 5}


def test_corrupt_line_is_an_error_naming_file_and_line(tmp_path, capsys):
    rc = main(["monitor", str(FIX / "corrupt.jsonl"), "--params", str(tmp_path / "none.yaml"), "--rules", str(RULES),
               "--out", str(tmp_path / "m.json")])
    assert rc == 2 and not (tmp_path / "m.json").exists()
    assert "corrupt.jsonl:3: broken_json" in capsys.readouterr().err


def test_no_baseline_leaves_confidence_drop_unchecked_not_passed_silently(tmp_path):
    rc, report = run(tmp_path, healthy())
    assert rc == 0 and report["confidence_drop"] is None
    assert report["unchecked"] == ["confidence_drop: no baseline"]


def test_release_manifest_monitor_baseline_is_the_default_baseline(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"release_id": "r1", "monitor_baseline": {"mean_confidence": 0.97}}))
    rc, report = run(tmp_path, healthy(), "--release", str(manifest))
    assert rc == 1 and report["confidence_drop"] == pytest.approx(0.12) and report["baseline"]["source"] == str(manifest)


def test_p95_is_nearest_rank_and_thumbs_reads_both_spellings():
    assert p95([]) is None and p95([5.0]) == 5.0
    assert p95(list(range(1, 101))) == 95.0 and p95(list(range(1, 21))) == 19.0
    assert thumbs({"thumbs": "Down"}) == "down" and thumbs({"rating": 1}) == "up"
    assert thumbs({"feedback": {"rating": -1}}) == "down" and thumbs({"rating": 0}) is None


def test_repo_params_monitor_section_has_seed_003_defaults(repo_root):
    from logtune.curate import CurateParams
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "monitor", MonitorParams)
    assert (p.max_error_rate, p.max_p95_latency_ms, p.max_confidence_drop, p.max_rejection_rate) == (0.05, 2000, 0.1, 0.2)
    assert (repo_root / load_params(repo_root / "params.yaml", "curate", CurateParams).rules).is_file()


def test_library_call_on_a_folder(tmp_path):
    (tmp_path / "a.jsonl").write_text((FIX / "healthy.jsonl").read_text())
    (tmp_path / "notes.txt").write_text("not a log")
    report = monitor([tmp_path], MonitorParams(), load_rules(RULES))
    assert report["n_calls"] == 20 and report["files"] == [str(tmp_path / "a.jsonl")]


def test_without_rules_flag_the_monitor_uses_curates_rules_file(tmp_path):
    """The rules path is set once (curate.rules): the monitor's rejection rate counts what curation drops."""
    import shutil

    rows = [dict(r, status="pending", aceyOutput={"speech": "As an AI language model, no."}) if i < 5 else r
            for i, r in enumerate(healthy())]
    _, explicit = run(tmp_path, rows)
    shutil.copy(RULES, tmp_path / "my_rules.yaml")
    (tmp_path / "params.yaml").write_text("curate: {rules: my_rules.yaml}\nmonitor: {}\n")
    out = tmp_path / "from_params.json"
    rc = main(["monitor", str(tmp_path / "logs.jsonl"), "--params", str(tmp_path / "params.yaml"),
               "--release", str(tmp_path / "no-manifest.json"), "--out", str(out)])
    assert rc in (0, 1) and read_json(out)["rejection_rate"] == explicit["rejection_rate"] > 0
