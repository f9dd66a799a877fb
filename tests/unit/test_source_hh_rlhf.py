"""The HH-RLHF adapter turns chosen/rejected transcripts into one conversation with the rejected reply kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from logtune.sources import SourceError, hh_rlhf

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sources" / "hh_rlhf" / "sample.jsonl.gz"


def test_fixture():
    items = list(hh_rlhf.read(FIXTURE, {}, "hh"))
    assert [i.get("reason") for i in items] == [None, None, "no_shared_prompt", "empty_reply", "bad_transcript",
                                                "missing_field"]
    first, second = items[:2]
    assert first["source_id"] == "sample.jsonl.gz:1" and first["task_type"] == "chat"
    assert [(m["role"], m["content"]) for m in first["messages"]] == [
        ("user", "what can I do with a pen?"), ("assistant", "Draw."), ("user", "yep"), ("assistant", "Sketch a cat.")]
    last = first["messages"][-1]
    assert json.loads(last["feedback_meta"]) == {"rejected": "Prank someone."} and last["rating"] is None
    assert first["messages"][1]["feedback_meta"] is None
    assert second["messages"][-1]["content"] == "Hello there.\n\nSecond paragraph."


def test_plain_jsonl_and_corruption(tmp_path):
    lines = gzip.decompress(FIXTURE.read_bytes()).split(b"\n")
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(lines[0] + b"\n" + lines[1][:30] + b"\n" + b'{"chosen": 1, "rejected": "x"}\n')
    assert [i.get("reason") for i in hh_rlhf.read(plain, {}, "hh")] == [None, "broken_json", "wrong_type"]
    truncated = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(b"\n".join(lines * 200), mtime=0)
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="cut.jsonl.gz: not a hh_rlhf file"):
        list(hh_rlhf.read(truncated, {}, "hh"))


def test_real_harmless_base(real_dir):
    path = real_dir / "hh_rlhf" / "harmless-base-test.jsonl.gz"
    rows = [json.loads(line) for line in gzip.open(path).read().decode("utf-8").splitlines()]
    items = list(hh_rlhf.read(path, {}, "hh"))
    assert len(items) == len(rows) == 2312
    convs = [i for i in items if not i.get("quarantine")]
    # independent check: the reply after the last "\n\nAssistant:" of chosen is the last message's content
    for conv in convs[:200]:
        row = rows[int(conv["source_id"].rsplit(":", 1)[1]) - 1]
        assert conv["messages"][-1]["content"] == row["chosen"].rsplit("\n\nAssistant:", 1)[1].strip()
        assert json.loads(conv["messages"][-1]["feedback_meta"])["rejected"] == \
            row["rejected"].rsplit("\n\nAssistant:", 1)[1].strip()
        assert conv["messages"][0]["content"] == row["chosen"].split("\n\nHuman:", 2)[1].split("\n\nAssistant:")[0].strip()
    differ = sum(r["chosen"].rsplit("\n\nAssistant:", 1)[0] != r["rejected"].rsplit("\n\nAssistant:", 1)[0] for r in rows)
    assert sum(i.get("reason") == "no_shared_prompt" for i in items) == differ == 5
