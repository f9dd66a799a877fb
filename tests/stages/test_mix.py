"""The mix stage on the hand-written fixture (tests/fixtures/mix/README.md): table, split, task separation."""

import json
from pathlib import Path

import yaml

from logtune import records
from logtune.io import read_json, read_rows, write_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mix"

TABLE = [
    {"name": "corrections", "source": "corrections", "count": 6, "oversample": 3},
    {"name": "refusals", "record_type": "refusal", "share": 0.25, "oversample": 2},
    {"name": "trajectories", "record_type": "trajectory", "sets": ["sft"], "count": 0},
]


def run(stage, tmp_path, name="run", **mix):
    built = tmp_path / "built"
    if not built.exists():
        write_rows(built / "sft.parquet", json.loads((FIXTURES / "sft.json").read_text()), records.SFT_EXAMPLE)
        write_rows(built / "preference.parquet", json.loads((FIXTURES / "preference.json").read_text()),
                   records.PREFERENCE_PAIR)
        write_rows(tmp_path / "conversations.parquet", json.loads((FIXTURES / "conversations.json").read_text()),
                   records.CONVERSATION)
    params = tmp_path / f"{name}.yaml"
    params.write_text(yaml.safe_dump({"mix": {"seed": 3, "eval_share": 0.0, "table": TABLE, **mix}}))
    out = tmp_path / name
    stage("mix").main([str(built), str(out / "train"), str(out / "heldout"),
                       "--curated", str(tmp_path / "conversations.parquet"),
                       "--params", str(params), "--metrics", str(out / "mix.json")])
    return out


def test_mix_stage_applies_the_table_and_accounts_for_every_record(stage, tmp_path):
    out = run(stage, tmp_path)
    ids = [r["id"] for r in read_rows(out / "train" / "sft.parquet")]
    assert sorted(ids) == ids   # output sorted by id, copies right after their original
    assert [i for i in ids if i.startswith(("s06", "s07"))] == ["s06", "s06#2", "s06#3", "s07", "s07#2", "s07#3"]
    assert len([i for i in ids if i.startswith(("s02", "s05"))]) == 3 and "s08" not in ids
    m = read_json(out / "mix.json")
    sft = m["sets"]["sft"]
    assert (sft["read"], sft["train"], sft["train_records"], sft["heldout"], sft["oversampled_copies"]) == (8, 12, 7, 0, 5)
    assert sft["read"] == sft["train_records"] + sft["heldout"] + sft["dropped"]
    assert sft["dropped_by_reason"] == {"downsampled": 1, "low_quality": 0, "schema": 0, "unmatched": 0}
    assert sft["rows"]["refusals"]["achieved_share"] == 0.25 and sft["rows"]["refusals"]["max_copies"] == 2
    assert sft["rows"]["corrections"]["max_copies"] == 3 and sft["real_share"] == round(11 / 12, 4)
    pref = m["sets"]["preference"]
    assert pref["rows"]["corrections"]["achieved_count"] == 3 and pref["rows"]["corrections"]["shortfall"] == 3
    assert "trajectories" not in pref["rows"]   # that row is for sft only
    assert m["sets"].get("kto", {"read": 0})["read"] == 0   # no kto.parquet: an empty set, not an error
    (dropped,) = read_rows(out / "train" / "dropped.parquet")
    assert (dropped["id"], dropped["reason"]) == ("s08", "downsampled")


def test_mix_stage_is_byte_identical_and_splits_by_session(stage, tmp_path):
    a, b = run(stage, tmp_path, "a", eval_share=0.5), run(stage, tmp_path, "b", eval_share=0.5)
    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    train = {r["conversation_id"] for s in ("sft", "preference") for r in read_rows(a / "train" / f"{s}.parquet")}
    held = {r["conversation_id"] for s in ("sft", "preference") for r in read_rows(a / "heldout" / f"{s}.parquet")}
    assert train and held and not (train & held)


def test_mix_stage_writes_one_dataset_per_task_type(stage, tmp_path):
    out = run(stage, tmp_path, per_task_type=True, table=[])
    train = out / "train"
    assert sorted(p.name for p in train.iterdir() if p.is_dir()) == ["billing", "ops", "support"]
    per_task = sorted(r["id"] for t in ("billing", "ops", "support") for r in read_rows(train / t / "sft.parquet"))
    assert per_task == [r["id"] for r in read_rows(train / "sft.parquet")] and len(per_task) == 8
    assert [r["id"] for r in read_rows(train / "ops" / "preference.parquet")] == ["p02"]
