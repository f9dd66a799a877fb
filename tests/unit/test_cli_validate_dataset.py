"""`logtune validate-dataset FILE`: type detection, exit 0 pass / 1 fail / 2 unusable input, the failure lines.

Every dataset is a few literal records written into tmp_path; the schemas and suites are the repo's own,
the bounds are the suites' (no params file), and there is no golden set unless a test passes one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from logtune import cli, records
from logtune.io import write_rows
from logtune.validate.dataset import detect_type

ROOT = Path(__file__).resolve().parents[2]


def sft(i: int, reply: str, provenance: str = "real") -> dict:
    return {
        "id": f"sft-{i}",
        "messages": [
            {"role": "system", "content": "Answer from CONTEXT only."},
            {"role": "user", "content": f"What is the status of PRJ-10{i}?"},
            {"role": "assistant", "content": reply},
        ],
        "record_type": "chat", "phase": "conversational", "task_type": "support", "provenance": provenance,
        "rule": "upvoted", "conversation_id": f"conv-{i}", "message_ids": [f"m{i}-0", f"m{i}-1"],
    }


GOOD = [sft(i, f"PRJ-10{i} is in progress, stage {i}.") for i in range(4)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["validate-dataset", *argv, "--expectations", str(ROOT / "expectations"),
                     "--schemas", str(ROOT / "schemas"), "--params", "/nonexistent/params.yaml"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("columns, expected", [
    ({"id", "messages", "provenance"}, "sft"),
    ({"id", "prompt", "chosen", "rejected"}, "preference"),
    ({"id", "prompt", "completion", "label"}, "kto"),
    ({"id", "expected", "messages", "context"}, "golden"),
    ({"id", "source", "source_id", "messages"}, "conversation"),
    ({"id", "text"}, None),
])
def test_detect_type_from_columns(columns, expected):
    assert detect_type(columns) == expected


def test_good_sft_jsonl_passes_and_says_the_detected_type(tmp_path, capsys):
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "sft.jsonl", GOOD)))
    assert code == 0, err
    assert "type sft (detected from columns), 4 records" in out and "PASS" in out


def test_good_sft_parquet_passes(tmp_path, capsys):
    path = tmp_path / "sft.parquet"
    write_rows(path, GOOD, records.SFT_EXAMPLE)
    code, out, err = run(capsys, str(path))
    assert code == 0, err


def test_duplicate_outputs_fail_uniqueness_with_numbers_and_ids(tmp_path, capsys):
    same = [sft(i, "Template answer.") for i in range(8)]
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "sft.jsonl", same)))
    assert code == 1
    (line,) = [l for l in err.splitlines() if "sft/uniqueness" in l]
    assert "observed 0.125" in line and "min_value=0.25" in line
    assert "ids: sft-0" in line


def test_planted_email_fails_no_pii(tmp_path, capsys):
    rows = copy.deepcopy(GOOD)
    rows[2]["messages"][2]["content"] = "Write to jane.doe@example.com about it."
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "sft.jsonl", rows)))
    assert code == 1
    assert "FAILED sft/no_pii" in err and "sft-2" in err


def test_schema_violation_fails_with_the_record_id(tmp_path, capsys):
    rows = copy.deepcopy(GOOD)
    rows[1]["provenance"] = "made-up"
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "sft.jsonl", rows)))
    assert code == 1
    assert "FAILED sft/schema" in err and "sft-1" in err


def test_leaked_golden_case_fails_when_golden_is_given(tmp_path, capsys):
    golden = {"id": "g001", "messages": [{"role": "user", "content": "What is the status of PRJ-101?"}],
              "expected": {"contains": ["PRJ-101"]}}
    golden_path = write_jsonl(tmp_path / "golden.jsonl", [golden])
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "sft.jsonl", GOOD)), "--golden", str(golden_path))
    assert code == 1
    assert "FAILED sft/not_in_golden" in err and "sft-1" in err


def test_conversation_is_checked_against_its_schema_only(tmp_path, capsys):
    conversation = {"id": "c1", "source": "support", "source_id": "s1", "messages": "not a list"}
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "conv.jsonl", [conversation])))
    assert code == 1
    assert "type conversation" in out and "schema only" in out
    assert "FAILED conversation/schema" in err and "c1" in err


def test_given_type_overrides_detection(tmp_path, capsys):
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "x.jsonl", GOOD)), "--type", "preference")
    assert code == 1
    assert "type preference (given)" in out


def test_missing_file_is_unusable_input(tmp_path, capsys):
    code, out, err = run(capsys, str(tmp_path / "absent.jsonl"))
    assert code == 2
    assert "absent.jsonl: no such file" in err


def test_broken_json_line_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n{not json\n", encoding="utf-8")
    code, out, err = run(capsys, str(path))
    assert code == 2
    assert f"{path}:2: not valid JSON" in err


def test_binary_garbage_is_unusable_input(tmp_path, capsys):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"\xff\xfe\x00garbage\x81")
    code, out, err = run(capsys, str(path))
    assert code == 2
    assert "neither Parquet nor UTF-8 JSON Lines" in err


def test_unknown_type_is_unusable_input(tmp_path, capsys):
    code, out, err = run(capsys, str(write_jsonl(tmp_path / "x.jsonl", [{"id": "1", "text": "hello"}])))
    assert code == 2
    assert "cannot tell the record type" in err


def test_empty_file_of_a_given_type_fails_not_empty(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    code, out, err = run(capsys, str(path), "--type", "sft")
    assert code == 1
    assert "FAILED sft/not_empty" in err
