"""Dry-run on literal outputs: seed 003's shapes, the same rules engine as curate, and the comparison."""

import json
from collections import Counter
from pathlib import Path

import pytest

from logtune.cli import main
from logtune.dryrun.replay import DryrunError, parse_reply, replay_prompts, score_output, simulate
from logtune.rules import load_rules, parse_rules

RULES = load_rules(Path(__file__).resolve().parents[2] / "rules" / "auto_rules.yaml")


@pytest.mark.parametrize("obj, decision, rule", [
    ({"speech": "Rolled a 4!", "intents": [{"type": "game_action", "confidence": 0.9}]}, "keep", None),
    ({"speech": "Test", "intents": [{"type": "memory_proposal", "confidence": 0.3}]}, "reject", "unsure_intent"),
    ({"aceyOutput": {"speech": "As an AI language model, I can't."}}, "reject", "filler_reply"),
    # an event-log line a reviewer approved: the human_approved keep rule wins, as it does in curate
    ({"taskType": "game", "status": "Approved", "aceyOutput": {"speech": "[TODO] fill in"}}, "keep", "human_approved"),
])
def test_score_output_reads_every_seed_003_shape(obj, decision, rule):
    result = score_output(obj, RULES)
    assert result["decision"] == decision and result["rule"] == rule
    assert result["reason"] == (None if decision == "keep" else f"auto_rule:{rule}")


@pytest.mark.parametrize("obj, message", [
    ([1, 2], "expected a JSON object"),
    ({"text": "hi"}, "no `speech` or `intents`"),
    ({"speech": "hi", "intents": "roll"}, "`intents` must be a list"),
])
def test_unreadable_outputs_are_errors(obj, message):
    with pytest.raises(DryrunError, match=message):
        score_output(obj, RULES)


def test_parse_reply_takes_seed_003_json_and_plain_text():
    assert parse_reply('{"speech": "Hi", "intents": [{"type": "x", "confidence": 0.2}]}') == \
        ("Hi", [{"type": "x", "confidence": 0.2}])
    assert parse_reply("{not json") == ("{not json", None)
    assert parse_reply("plain words") == ("plain words", None)


def test_replay_prompts_is_a_stable_capped_sample_and_counts_skips():
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
            for i in (3, 1, 2)] + [{"id": "r0", "messages": [{"role": "user", "content": "q"}]}]
    chosen, skipped = replay_prompts(rows, 2)
    assert [r["id"] for r in chosen] == ["r1", "r2"] and skipped == Counter(no_logged_reply=1, over_max_prompts=1)


def test_simulate_judges_model_json_intents_with_the_rules():
    rules = parse_rules({"rules": [{"name": "unsure", "action": "reject", "when": {"intent_confidence_below": 0.5}}]})
    rows = [{"id": "r1", "task_type": "game", "messages": [{"role": "user", "content": "!dice"},
                                                           {"role": "assistant", "content": "Rolled"}]}]
    replies = {"base": ['{"speech": "Rolled", "intents": [{"type": "roll", "confidence": 0.9}]}'],
               "preference": ['{"speech": "Rolled", "intents": [{"type": "roll", "confidence": 0.2}]}']}
    m, d = simulate(rows, replies, "base", "preference", rules, max_rejection_increase=0.0)
    assert m["rejection_rate"] == {"logged": 0.0, "base": 0.0, "preference": 1.0} and m["passed"] is False
    assert d[0]["change"] == "newly_rejected" and m["by_task_type"]["game"]["preference_rejected"] == 1


def test_cli_prints_the_decision_and_exits_1_on_reject(tmp_path, capsys):
    f = tmp_path / "out.json"
    f.write_text(json.dumps({"speech": "Test", "intents": [{"type": "memory_proposal", "confidence": 0.3}]}))
    rules = str(Path(__file__).resolve().parents[2] / "rules" / "auto_rules.yaml")
    assert main(["dryrun", str(f), "--rules", rules]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "reject" and out["rule"] == "unsure_intent"
    f.write_text("{broken")
    assert main(["dryrun", str(f), "--rules", rules]) == 2
    assert str(f) in capsys.readouterr().err


def test_repo_params_dryrun_section_builds(repo_root):
    from logtune.dryrun.replay import DryrunParams
    from logtune.params import load_params

    p = load_params(repo_root / "params.yaml", "dryrun", DryrunParams)
    assert p.candidate != p.baseline and p.max_prompts > 0
