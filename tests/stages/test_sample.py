"""stages/sample.py: writes the DB and its metrics, byte-identically on a rerun."""

from __future__ import annotations

import pytest

from logtune.io import read_json
from logtune.params import ParamsError

PARAMS = """
assistant:
  system_prompt: "You are the iSPEC support assistant. Answer from CONTEXT only; never invent ids."
sample:
  seed: 7
  sessions: 120
"""


def test_sample_stage_is_deterministic_down_to_the_export(stage, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS + "export:\n  max_message_chars: 20000\nsources:\n"
                      f"  - {{name: support, kind: assistant_sqlite, path: {tmp_path / 'raw.db'}}}\n")
    outputs = []
    for run in ("a", "b"):
        assert stage("sample").main([str(tmp_path / "raw.db"), "--params", str(params),
                                     "--metrics", str(tmp_path / run / "sample.json")]) == 0
        db_bytes = (tmp_path / "raw.db").read_bytes()
        assert stage("export").main(["support", str(tmp_path / run / "exported"), "--params", str(params),
                                     "--metrics", str(tmp_path / run / "export.json")]) == 0
        outputs.append((db_bytes, (tmp_path / run / "exported" / "support.parquet").read_bytes(),
                        (tmp_path / run / "sample.json").read_text()))
    assert outputs[0] == outputs[1]
    metrics = read_json(tmp_path / "a" / "sample.json")
    assert metrics["sessions"] == 120 and metrics["planted_pii"] > 0 and metrics["reply_uniqueness"] > 0.25
    assert read_json(tmp_path / "a" / "export.json")["read"] == 122  # 120 sessions + 2 orphan messages


def test_sample_stage_needs_the_assistant_prompt(stage, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("sample:\n  seed: 1\n  sessions: 5\n")
    with pytest.raises(ParamsError, match="assistant.system_prompt"):
        stage("sample").main([str(tmp_path / "raw.db"), "--params", str(params), "--metrics", str(tmp_path / "m.json")])
