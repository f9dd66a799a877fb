"""The validate stage end to end: metrics always written, exit 1 with readable failures, params override."""

import json
from pathlib import Path

import pytest

from logtune import records
from logtune.io import read_json, write_rows

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "validate"


def _args(tmp_path, params="validate:\n  min_uniqueness: 0.25\n  min_real_share: 0.35\n"):
    (tmp_path / "params.yaml").write_text(params)
    return [str(tmp_path / "built"), "--golden", str(FIXTURES / "golden.jsonl"),
            "--expectations", str(ROOT / "expectations"), "--params", str(tmp_path / "params.yaml"),
            "--metrics", str(tmp_path / "metrics" / "validate.json"), "--report", str(tmp_path / "report.json")]


def _built(tmp_path, sft):
    write_rows(tmp_path / "built" / "sft.parquet", sft, records.SFT_EXAMPLE)
    write_rows(tmp_path / "built" / "preference.parquet",
               json.loads((FIXTURES / "preference_good.json").read_text()), records.PREFERENCE_PAIR)


def test_good_sets_pass_and_write_metrics_and_report(tmp_path, stage, capsys):
    _built(tmp_path, json.loads((FIXTURES / "sft_good.json").read_text()))
    assert stage("validate").main(_args(tmp_path)) == 0
    m = read_json(tmp_path / "metrics" / "validate.json")
    assert m["passed"] is True
    assert m["sets"]["sft"]["checks"]["uniqueness"] == {
        "passed": True, "observed": 1.0, "expectation": "expect_column_proportion_of_unique_values_to_be_between",
        "column": "reply_norm", "bound": {"min_value": 0.25, "strict_min": True}}
    report = read_json(tmp_path / "report.json")
    assert "seed 004" in report["sets"]["sft"]["checks"]["uniqueness"]["notes"].lower()
    assert "sft: 8 records, 24/24 checks passed" in capsys.readouterr().out


def test_planted_email_exits_1_after_writing_metrics(tmp_path, stage, capsys):
    sft = json.loads((FIXTURES / "sft_good.json").read_text())
    sft[2]["messages"][1]["content"] = "Who owns TCK-311? Call me at +1 415 555 0134"
    _built(tmp_path, sft)
    with pytest.raises(SystemExit) as exit_:
        stage("validate").main(_args(tmp_path))
    assert exit_.value.code == 1
    m = read_json(tmp_path / "metrics" / "validate.json")
    assert m["passed"] is False and m["sets"]["sft"]["checks"]["no_pii"]["observed"] == 1
    err = capsys.readouterr().err
    assert "FAILED sft/no_pii: expect_column_values_to_be_in_set(has_pii) observed 1" in err
    assert "ids: sft-03 (PHONE)" in err


def test_min_real_share_from_params_overrides_the_suite(tmp_path, stage, capsys):
    _built(tmp_path, json.loads((FIXTURES / "sft_good.json").read_text()))
    with pytest.raises(SystemExit):
        stage("validate").main(_args(tmp_path, "validate:\n  min_uniqueness: 0.25\n  min_real_share: 0.9\n"))
    m = read_json(tmp_path / "metrics" / "validate.json")
    assert m["sets"]["sft"]["checks"]["real_share"]["bound"]["min_value"] == 0.9
    assert m["sets"]["preference"]["passed"] is True  # 3 of 3 real
    assert "FAILED sft/real_share" in capsys.readouterr().err


def test_tokenizer_arg_runs_the_token_checks(tmp_path, stage):
    from logtune.base.tokenizer import train_tokenizer

    sft = json.loads((FIXTURES / "sft_good.json").read_text())
    _built(tmp_path, sft)
    train_tokenizer([m["content"] for r in sft for m in r["messages"]], vocab_size=300).save_pretrained(tmp_path / "tok")
    assert stage("validate").main([*_args(tmp_path), "--tokenizer", str(tmp_path / "tok")]) == 0
    checks = read_json(tmp_path / "metrics" / "validate.json")["sets"]["sft"]["checks"]
    assert checks["assistant_mask_not_empty"]["passed"] is True and checks["truncated_share"]["observed"] == 0.0


def test_verdict_is_written_on_pass_and_never_on_failure(tmp_path, stage):
    good = json.loads((FIXTURES / "sft_good.json").read_text())
    _built(tmp_path, good)
    verdict = tmp_path / "validated.json"
    assert stage("validate").main([*_args(tmp_path), "--verdict", str(verdict)]) == 0
    assert read_json(verdict) == {"passed": True}

    verdict.unlink()
    leaked = [dict(good[0], messages=[*good[0]["messages"][:-1], {"role": "assistant", "content": "mail a@b.co"}])]
    _built(tmp_path, leaked + good[1:])
    with pytest.raises(SystemExit):
        stage("validate").main([*_args(tmp_path), "--verdict", str(verdict)])
    assert not verdict.exists()


def test_data_docs_page_is_written_even_when_a_gate_fails_and_fetches_nothing_remote(tmp_path, stage):
    good = json.loads((FIXTURES / "sft_good.json").read_text())
    leaked = [dict(good[0], messages=[*good[0]["messages"][:-1], {"role": "assistant", "content": "mail a@b.co"}])]
    _built(tmp_path, leaked + good[1:])
    with pytest.raises(SystemExit):
        stage("validate").main([*_args(tmp_path), "--data-docs", str(tmp_path / "docs")])
    html = (tmp_path / "docs" / "index.html").read_text()
    assert "has_pii" in html and "reply_norm" in html   # the checked feature columns are on the page
    assert 'src="http' not in html and 'href="http' not in html.replace('href="https://greatexpectations.io', "")
