"""Issue #14: `logtune validate-dataset` reads seed 004's own records ({id, record_type, input, output};
chosen/rejected for preference) as they are, and judges uniqueness on `output` / `chosen`.

Fixture: tests/fixtures/validate/seed004_v8_sample.jsonl (see the README beside it).
"""

from __future__ import annotations

import json
from pathlib import Path

from logtune import cli
from logtune.validate.dataset import detect_type

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "validate" / "seed004_v8_sample.jsonl"


def run(capsys, path: Path, *more: str) -> tuple[int, str, str]:
    params = path.parent / "params.yaml"     # per-type uniqueness gated from 5 records (the default is 20)
    params.write_text("validate:\n  min_type_records: 5\n")
    code = cli.main(["validate-dataset", str(path), *more, "--expectations", str(ROOT / "expectations"),
                     "--schemas", str(ROOT / "schemas"), "--params", str(params),
                     "--golden", str(ROOT / "golden" / "golden.jsonl")])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_type_is_detected_from_record_type():
    assert detect_type({"id", "input", "output", "record_type"}) == "typed_record"
    assert detect_type({"id", "input", "chosen", "rejected", "record_type"}) == "typed_record"
    assert detect_type({"id", "messages", "record_type", "provenance"}) == "sft"   # a built SFT set stays sft


def test_v8_profile_fails_uniqueness_on_outputs_and_chosen(tmp_path, capsys):
    path = tmp_path / "v8.jsonl"
    path.write_bytes(FIXTURE.read_bytes())
    code, out, err = run(capsys, path)
    assert code == 1, err
    assert "type typed_record (detected from columns), 36 records" in out
    failed = {line.split(":")[1].split("/")[1] for line in err.splitlines() if "FAILED" in line}
    # set-wide 9 unique of 36 (not > 0.25); chat 6 of 12 and qa 6 of 6 pass; preference 1 of 6 fails
    assert failed == {"uniqueness", "uniqueness_preference"}, err
    (line,) = [l for l in err.splitlines() if "typed_record/uniqueness:" in l]
    assert "observed 0.25" in line and "9 unique of 36" in line
    (pref,) = [l for l in err.splitlines() if "uniqueness_preference" in l]
    assert "1 unique of 6 preference replies" in pref and "you shipped the parser." in pref


def test_varied_outputs_pass_and_every_type_is_judged(tmp_path, capsys):
    rows = [json.loads(l) for l in FIXTURE.read_text().splitlines()]
    for i, r in enumerate(rows):
        key = "chosen" if r["record_type"] == "preference" else "output"
        if isinstance(r[key], str):
            r[key] = f"{r[key]} (item {i})"
    path = tmp_path / "v9.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(capsys, path, "--type", "typed_record")
    assert code == 0, err
    assert "type typed_record (given)" in out


def test_a_broken_record_fails_the_schema_naming_it(tmp_path, capsys):
    rows = [json.loads(l) for l in FIXTURE.read_text().splitlines()]
    rows[0]["record_type"] = "dialogue"
    del rows[-1]["rejected"]
    rows[-2]["rejected"] = "Mail me at ann.lee@example.org."     # PII in the rejected side is still PII
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(capsys, path)
    assert code == 1
    (line,) = [l for l in err.splitlines() if "typed_record/schema:" in l]
    assert "c_0000" in line and "p_0005" in line
    (pii,) = [l for l in err.splitlines() if "typed_record/no_pii:" in l]
    assert "p_0004" in pii and "EMAIL" in pii
