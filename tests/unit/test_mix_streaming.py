"""Issue 19: `logtune.mix.files.mix_files` (the stage's streaming passes) writes the bytes the in-memory
path writes (`mix` + `apply_review` + each table written whole), whatever the workers, batch and spill sizes.

Input, built here so each record has a job: 60 SFT records of 20 sessions given out of id order (the
streaming path must sort a copy first), two records sharing an id (their copies must come out as the
in-memory sort leaves them), one record breaking the SFT schema (dropped: schema), three task types
(per-task copies), refusals picked by a count row with oversampling (copies `<id>#2`), a min_quality
threshold (low_quality drops), a share row downsampling chat records (downsampled drops); 12 preference
pairs; no kto.parquet (an optional set: an empty one of its contract); a review whose marks reject and
fix records of this very data (human_review drops, a human_edit pair appended to preference) plus a stale mark.
"""

import hashlib
import json
import random
from pathlib import Path

import pytest

from logtune import records
from logtune.engine import RuntimeParams
from logtune.io import write_rows
from logtune.mix.files import mix_files
from logtune.mix.pipeline import MixParams, MixRow, ledger, mix, task_dir
from logtune.mix.reviews import apply_review


def _sft(i: int, record_type: str = "chat", task: str = "support", words: int = 8) -> dict:
    reply = " ".join(f"w{i}" for _ in range(words))
    return {"id": f"s{i:03d}", "messages": [{"role": "user", "content": f"question {i}"},
                                             {"role": "assistant", "content": reply}],
            "record_type": record_type, "task_type": task, "provenance": "real" if i % 3 else "synthetic",
            "rule": "upvoted_reply" if i % 4 == 0 else "thumbs_up_free", "conversation_id": f"c{i % 20}"}


def _pair(i: int) -> dict:
    return {"id": f"p{i:03d}", "prompt": [{"role": "user", "content": f"q {i}"}],
            "chosen": [{"role": "assistant", "content": f"good answer number {i} here"}],
            "rejected": [{"role": "assistant", "content": f"bad {i}"}],
            "record_type": "chat", "provenance": "real", "rule": "recorded_pair", "conversation_id": f"c{i % 7}"}


PARAMS = MixParams(seed=5, eval_share=0.2, unmatched="keep", per_task_type=True, table=(
    MixRow(name="refusals", record_type="refusal", count=14, oversample=3),
    MixRow(name="chat", record_type="chat", sets=["sft"], share=0.5, min_quality=0.55),
))


@pytest.fixture()
def built(tmp_path: Path) -> Path:
    folder = tmp_path / "built"
    sft = [_sft(i, "refusal" if i % 5 == 0 else "chat", ("support", "code", "ops/x")[i % 3], words=1 + i % 9)
           for i in range(60)]
    sft.append(_sft(7, "chat", "code", words=3))           # a second record with the id s007
    sft.append({**_sft(61), "record_type": None})          # breaks the SFT schema
    random.Random(3).shuffle(sft)
    write_rows(folder / "sft.parquet", sft, records.SFT_EXAMPLE)
    write_rows(folder / "preference.parquet", [_pair(i) for i in range(12)], records.PREFERENCE_PAIR)
    return folder


def _reference(built: Path, out: Path, reviews: Path) -> dict:
    """What stages/mix.py did before issue 19: every table in memory, written whole."""
    mixed = mix(built, PARAMS, {})
    review = apply_review(mixed, reviews)
    for name, m in mixed.items():
        write_rows(out / "train" / f"{name}.parquet", m.train.to_pylist(), m.train.schema)
        write_rows(out / "heldout" / f"{name}.parquet", m.heldout.to_pylist(), m.heldout.schema)
        for side, table in (("train", m.train), ("heldout", m.heldout)):
            for task in sorted({task_dir(r["task_type"]) for r in table.to_pylist()}):
                rows = [r for r in table.to_pylist() if task_dir(r["task_type"]) == task]
                write_rows(out / side / task / f"{name}.parquet", rows, table.schema)
    write_rows(out / "train" / "dropped.parquet", [r for m in mixed.values() for r in m.dropped], records.REJECTED)
    return {"metrics": ledger({n: m.metrics for n, m in mixed.items()}, PARAMS, False), "review": review}


def _review(folder: Path, built: Path, tmp: Path) -> Path:
    """Marks for the data the mix makes of `built` (its data version), and one stale mark."""
    version = _reference(built, tmp / "probe", tmp / "no-reviews")["review"]["data_version"]
    train = [r["id"] for r in mix(built, PARAMS, {})["sft"].train.to_pylist()]
    marks = [{"id": train[0], "set": "sft", "mark": "reject", "reason": "wrong"},
             {"id": train[1], "set": "sft", "mark": "fix", "reason": "terse", "fix": "A fuller answer."},
             {"id": "p001", "set": "preference", "mark": "reject", "reason": "off"},
             {"id": train[2], "set": "sft", "mark": "keep", "reason": "fine"}]
    folder.mkdir()
    lines = [json.dumps({**m, "data_version": version}) for m in marks]
    lines.append(json.dumps({"id": "s000", "set": "sft", "mark": "reject", "reason": "x", "data_version": "old"}))
    (folder / "2026-12-01.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("workers,batch_rows,spill_rows,group_rows", [(1, 2000, 50_000, 131_072), (2, 5, 4, 131_072),
                                                                       (1, 3, 7, 9)])
def test_mix_files_writes_the_in_memory_bytes(tmp_path, built, monkeypatch, workers, batch_rows, spill_rows,
                                              group_rows):
    monkeypatch.setattr("logtune.spill.CONVERT_ROWS", 4)
    monkeypatch.setattr("logtune.spill.ROW_GROUP_ROWS", group_rows)
    monkeypatch.setattr("logtune.io.ROW_GROUP_ROWS", group_rows)
    reviews = _review(tmp_path / "reviews", built, tmp_path)
    want = _reference(built, tmp_path / "want", reviews)
    runtime = RuntimeParams(workers=workers, batch_rows=batch_rows, spill_rows=spill_rows)
    metrics, review = mix_files(built, tmp_path / "got" / "train", tmp_path / "got" / "heldout", PARAMS, None,
                                reviews, runtime)
    assert (metrics, review) == (want["metrics"], want["review"])
    got, ref = _files(tmp_path / "got"), _files(tmp_path / "want")
    assert got == ref
    # the fixture reaches every path it is there for
    sft = metrics["sets"]["sft"]
    assert sft["dropped_by_reason"]["schema"] == 1 and sft["dropped_by_reason"]["low_quality"] > 0
    assert sft["dropped_by_reason"]["downsampled"] > 0 and sft["oversampled_copies"] > 0
    assert sft["dropped_by_reason"]["human_review"] == 1 and review["stale_marks"] == 1
    assert metrics["sets"]["preference"]["added_by_review"] == 1 and "kto" in metrics["sets"]
    assert {"train/code/sft.parquet", "train/ops_x/sft.parquet", "heldout/support/sft.parquet"} <= set(got)


def test_mix_files_without_a_review_writes_the_train_sets_directly(tmp_path, built):
    want = _reference(built, tmp_path / "want", tmp_path / "no-reviews")
    metrics, review = mix_files(built, tmp_path / "got" / "train", tmp_path / "got" / "heldout", PARAMS, None,
                                tmp_path / "no-reviews", RuntimeParams(workers=1, batch_rows=4, spill_rows=5))
    assert review == {"data_version": want["review"]["data_version"], "review": None}
    assert metrics == want["metrics"] and _files(tmp_path / "got") == _files(tmp_path / "want")


def test_mix_files_refuses_a_missing_required_set(tmp_path):
    write_rows(tmp_path / "built" / "sft.parquet", [], records.SFT_EXAMPLE)
    with pytest.raises(FileNotFoundError, match="built set 'preference' is missing"):
        mix_files(tmp_path / "built", tmp_path / "t", tmp_path / "h", PARAMS, None, None, RuntimeParams(workers=1))
