"""logtune.mix.trace / `logtune trace`: each link of the chain from a mixed row back to its source row."""

import json

import pytest
import yaml

from logtune import cli, records
from logtune.io import write_rows
from logtune.mix.trace import split_copy, trace

CONV = {"id": "conv-1", "source": "desk", "source_id": "417", "task_type": "support", "status": "ok",
        "provenance": "real", "messages": [
            {"id": "m1", "role": "user", "content": "Status of PRJ-1042?"},
            {"id": "m2", "role": "assistant", "content": "PRJ-1042 is in progress.", "rating": 1},
            {"id": "m3", "role": "user", "content": "Thanks, unrelated follow-up"}]}
SFT = {"id": "rec-1", "messages": [{"role": "user", "content": "Status of PRJ-1042?"}], "record_type": "chat",
       "phase": "conversational", "task_type": "support", "provenance": "real", "rule": "upvoted_reply",
       "conversation_id": "conv-1", "message_ids": ["m1", "m2"]}


@pytest.fixture
def root(tmp_path):
    write_rows(tmp_path / "data/exported/desk.parquet", [{k: CONV[k] for k in ("id", "source", "source_id")}],
               records.CONVERSATION)
    write_rows(tmp_path / "data/curated/conversations.parquet", [CONV], records.CONVERSATION)
    write_rows(tmp_path / "data/built/sft.parquet", [SFT, {**SFT, "id": "rec-2", "conversation_id": None}],
               records.SFT_EXAMPLE)
    write_rows(tmp_path / "data/train/sft.parquet", [SFT, {**SFT, "id": "rec-1#2"}], records.SFT_EXAMPLE)
    write_rows(tmp_path / "data/train/dropped.parquet", [{"id": "rec-2", "stage": "mix", "reason": "downsampled",
                                                          "detail": "set sft", "record": json.dumps(SFT)}],
               records.REJECTED)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"sources": {"desk": {"kind": "assistant_sqlite", "path": "data/raw/desk.db", "options": {}}}}))
    return tmp_path


def test_trace_prints_each_link_for_an_oversampled_copy(root):
    lines = trace("rec-1#2", root)
    assert lines[0] == "trace rec-1#2"
    assert lines[1].startswith("mixed     data/train/sft.parquet  id=rec-1#2  (2 row(s) of rec-1")
    assert lines[2].startswith("built     data/built/sft.parquet  id=rec-1 ") and "rule=upvoted_reply" in lines[2]
    assert "message_ids=[m1, m2]" in lines[2]
    assert lines[3].startswith("curated   data/curated/conversations.parquet  id=conv-1 source=desk source_id=417")
    assert lines[4:6] == ["            message m1 user: Status of PRJ-1042?",
                          "            message m2 assistant rating=1: PRJ-1042 is in progress."]
    assert lines[6] == "exported  data/exported/desk.parquet  id=conv-1 source=desk source_id=417"
    assert lines[7] == "origin    source 'desk' (kind assistant_sqlite, path data/raw/desk.db): source_id 417"
    assert len(lines) == 8   # message m3 is not part of the record


def test_trace_says_why_a_built_record_is_in_no_mixed_set(root):
    lines = trace("rec-2", root)
    assert lines[1] == "mixed     not in a mixed set: dropped by mix (downsampled, set sft)"
    assert lines[-1] == "curated   the record names no conversation (made from none: synthetic)"


def test_cli_trace_exits_1_with_a_clear_message_for_an_unknown_id(root, capsys):
    assert cli.main(["trace", "no-such-id", "--root", str(root)]) == 1
    assert "no-such-id: no such record or conversation id" in capsys.readouterr().err
    assert cli.main(["trace", "rec-1", "--root", str(root)]) == 0
    assert "origin    source 'desk'" in capsys.readouterr().out


def test_split_copy_reads_the_copy_suffix():
    assert (split_copy("abc#3"), split_copy("abc"), split_copy("a#b")) == (("abc", 3), ("abc", 1), ("a#b", 1))
