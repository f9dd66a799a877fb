"""The dryrun stage: held-out logged prompts replayed through two tiny models, every output judged by the auto-rules."""

import json
from pathlib import Path

import pytest

from logtune.io import read_json, read_jsonl, write_rows
from logtune.records import SFT_EXAMPLE
from tests.fixtures.evaluate.tiny_model import save_tiny_model

RULES = Path(__file__).resolve().parents[2] / "rules" / "auto_rules.yaml"
SYSTEM = {"role": "system", "content": "You are the support assistant."}
FILLER = "Lorem ipsum."   # short: a tiny model learns it in a few steps; the filler_reply rule rejects it


def record(i: int, question: str, logged: str | None) -> dict:
    messages = [SYSTEM, {"role": "user", "content": question}]
    if logged is not None:
        messages.append({"role": "assistant", "content": logged})
    return {"id": f"r{i}", "messages": messages, "record_type": "chat", "task_type": "support"}


pytestmark = pytest.mark.slow   # trains a tiny model (seconds alone; ~30 s on the shared CPU)

HELDOUT = [record(1, "What is the status of PRJ-1042?", "It is in progress."),
           record(2, "Who owns PRJ-1042?", FILLER),                    # the logged output itself breaks a rule
           record(3, "Is PRJ-1042 done?", "No, it is in progress."),
           record(4, "Hello?", None)]                                  # nothing logged to compare: skipped


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    prompts = [r["messages"][:-1] for r in HELDOUT[:3]]
    save_tiny_model(root / "base")   # untrained: random text, which no rule rejects
    # the candidate learned filler for two of the three prompts: the live filter would reject it twice as often
    save_tiny_model(root / "preference", prompts=prompts, replies=[FILLER, FILLER, "It is in progress."], steps=80)
    return root


def run(stage, tmp_path, models, max_increase):
    write_rows(tmp_path / "sft.parquet", HELDOUT, SFT_EXAMPLE)
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"dryrun": {"candidate": "preference", "baseline": "base", "max_prompts": 10,
                                             "max_new_tokens": 12, "batch_size": 2,
                                             "max_rejection_increase": max_increase}}))
    rc = stage("dryrun").main([str(tmp_path / "sft.parquet"), str(models), "--rules", str(RULES),
                               "--params", str(params), "--metrics", str(tmp_path / "dryrun.json"),
                               "--out", str(tmp_path / "decisions.jsonl")])
    return rc, read_json(tmp_path / "dryrun.json"), read_jsonl(tmp_path / "decisions.jsonl")


def test_dryrun_fails_a_candidate_the_auto_rules_reject_more_often(stage, tmp_path, models, capsys):
    rc, m, decisions = run(stage, tmp_path, models, 0.05)
    assert rc == 1 and m["passed"] is False
    assert m["n_prompts"] == 3 and m["skipped"] == {"no_logged_reply": 1}
    assert m["rejection_rate"] == {"logged": pytest.approx(1 / 3), "base": 0.0, "preference": pytest.approx(2 / 3)}
    assert m["reasons"]["preference"] == {"auto_rule:filler_reply": 2}
    assert m["decisions"] == {"same": 1, "newly_rejected": 2, "newly_kept": 0}
    assert [d["change"] for d in decisions] == ["newly_rejected", "newly_rejected", "same"]
    assert decisions[0]["preference"] == FILLER and decisions[0]["preference_rejected_by"] == "auto_rule:filler_reply"
    assert "FAILED: preference is rejected by the auto-rules +0.667 more often" in capsys.readouterr().out


def test_dryrun_reports_without_failing_when_no_limit_is_set(stage, tmp_path, models):
    rc, m, _ = run(stage, tmp_path, models, None)
    assert rc == 0 and m["passed"] is True and m["rejection_increase"] == pytest.approx(2 / 3)
