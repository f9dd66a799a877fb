"""logtune.mix.pipeline: session split, seeded sampling under the oversample cap, targets, accounting, pass-through."""

import pyarrow as pa
import pytest

from logtune import records
from logtune.mix.pipeline import MixParams, MixRow, is_heldout, mix_set, sample, targets, task_dir, _rng
from logtune.params import ParamsError, from_dict


def sft_table(rows, schema=records.SFT_EXAMPLE):
    return pa.Table.from_pylist(rows, schema=schema)


def rec(i, conv, record_type="chat", provenance="real", **extra):
    return {"id": i, "messages": [{"role": "user", "content": i}, {"role": "assistant", "content": f"re {i}"}],
            "record_type": record_type,
            "task_type": "support", "provenance": provenance, "rule": "r", "conversation_id": conv, **extra}


def test_split_never_puts_a_session_on_both_sides_and_is_stable_as_data_grows():
    rows = [rec(f"r{i:03d}", f"c{i % 40}") for i in range(200)]
    p = MixParams(seed=1, eval_share=0.3)
    m = mix_set(sft_table(rows), "sft", p, {})
    train = set(m.train.column("conversation_id").to_pylist())
    held = set(m.heldout.column("conversation_id").to_pylist())
    assert not (train & held) and len(train) + len(held) == 40 and 5 <= len(held) <= 20
    # hash assignment: a session's side does not depend on which other sessions exist
    assert [is_heldout(1, 0.3, f"c{i}") for i in range(40)] == [c in held for c in (f"c{i}" for i in range(40))]


def test_sample_never_exceeds_ceil_n_over_available_copies():
    picks = sample([10, 11, 12], 7, _rng(0, "sft", 0))
    copies = {i: max(c for j, c in picks if j == i) for i in (10, 11, 12)}
    assert len(picks) == 7 and len(set(picks)) == 7 and max(copies.values()) == 3 and sorted(copies.values()) == [2, 2, 3]


def test_targets_count_capped_by_oversample_and_shares_of_the_final_set():
    p = MixParams(table=(MixRow(count=80, oversample=10), MixRow(share=0.3), MixRow(share=0.2, oversample=2)))
    # 8 correction patterns x cap 10 = 80; fixed 80 + 20 unmatched = 100 = half the final set of 200
    assert targets(p, "sft", [8, 500, 30], 20) == [80, 60, 40]
    # 5 patterns reach only 50; final = (50 + 20) / 0.5 = 140: 0.3 -> 42; 0.2 -> 28, capped at 10 x 2 = 20
    assert targets(p, "sft", [5, 500, 10], 20) == [50, 42, 20]
    # no fixed part: the largest final set every share row reaches within its cap: 30 x 2 / 0.4 = 150
    shares_only = MixParams(table=(MixRow(share=0.6), MixRow(share=0.4, oversample=2)))
    assert targets(shares_only, "sft", [500, 30], 0) == [90, 60]


def test_mix_set_accounts_for_every_record_and_reports_achieved_shares():
    rows = [rec(f"a{i}", f"ca{i}") for i in range(6)] + [rec(f"b{i}", f"cb{i}", "refusal") for i in range(10)]
    p = MixParams(eval_share=0.0, unmatched="drop", table=(MixRow(name="chat", record_type="chat", share=0.5),
                                                          MixRow(name="refusal", record_type="refusal", share=0.5)))
    m = mix_set(sft_table(rows), "sft", p, {})
    assert m.metrics["rows"]["chat"]["achieved_count"] == 6 and m.metrics["rows"]["refusal"]["achieved_count"] == 6
    assert m.metrics["dropped_by_reason"] == {"downsampled": 4, "schema": 0, "unmatched": 0}
    assert m.metrics["read"] == m.metrics["train_records"] + m.metrics["heldout"] + m.metrics["dropped"] == 16
    assert sorted(r["id"] for r in m.dropped) == sorted(set(f"b{i}" for i in range(10)) -
                                                        set(m.train.column("id").to_pylist()))


def test_unmatched_drop_is_counted_by_reason():
    p = MixParams(eval_share=0.0, unmatched="drop", table=(MixRow(source="corrections", count=1),))
    m = mix_set(sft_table([rec("x", "c1"), rec("y", "c2")]), "sft", p, {"c1": "corrections", "c2": "support"})
    assert m.train.column("id").to_pylist() == ["x"] and [(r["id"], r["reason"]) for r in m.dropped] == [("y", "unmatched")]


def test_a_set_written_before_a_new_optional_column_passes_through_with_the_schema_read():
    # built before records gained `generated_by`: the contract allows its absence, the layout is kept
    schema = pa.schema([f for f in records.SFT_EXAMPLE if f.name != "generated_by"])
    table = sft_table([rec("x", "c1"), rec("y", "c2")], schema)
    m = mix_set(table, "sft", MixParams(eval_share=0.0, table=(MixRow(count=4, oversample=2),)), {})
    assert m.train.schema == schema and m.dropped == []
    assert m.train.to_pylist()[1]["id"] == "x#2"


def test_records_breaking_the_schema_reach_neither_side_and_are_dropped_with_the_field():
    rows = [rec("x", "c1"), rec("y", "c2"), dict(rec("z", "c3"), messages=[])]
    m = mix_set(sft_table(rows), "sft", MixParams(eval_share=0.5, seed=3), {})
    kept = m.train.column("id").to_pylist() + m.heldout.column("id").to_pylist()
    assert sorted(kept) == ["x", "y"]
    assert [(r["id"], r["reason"], r["detail"]) for r in m.dropped] == [
        ("z", "schema", "set sft: messages: [] is too short")]
    assert m.metrics["dropped_by_reason"] == {"downsampled": 0, "schema": 1, "unmatched": 0}
    assert m.metrics["read"] == 3 == m.metrics["train_records"] + m.metrics["heldout"] + m.metrics["dropped"]


def test_a_column_the_contract_does_not_know_drops_every_record_of_the_set():
    # e.g. a stage between build and mix added `persona` without a new schema version: nothing trains on it
    schema = records.SFT_EXAMPLE.append(pa.field("persona", pa.string()))
    m = mix_set(sft_table([rec("x", "c1", persona="terse"), rec("y", "c2")], schema), "sft",
                MixParams(eval_share=0.0), {})
    assert m.train.num_rows == 0 and [r["reason"] for r in m.dropped] == ["schema", "schema"]
    assert "('persona' was unexpected)" in m.dropped[0]["detail"]


def test_mix_params_reject_a_row_with_both_count_and_share():
    with pytest.raises(ParamsError, match=r"mix.table\[0\].*exactly one of count and share"):
        from_dict(MixParams, {"table": [{"record_type": "chat", "count": 3, "share": 0.5}]}, "mix")


def test_task_dir_makes_a_safe_folder_name():
    assert (task_dir("ops/agent v2"), task_dir(None)) == ("ops_agent_v2", "unknown")


def test_mix_reads_a_kto_set_and_refuses_a_missing_sft_set(tmp_path):
    from logtune.io import write_rows
    from logtune.mix.pipeline import mix

    kto = {"id": "k1", "prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}],
           "label": False, "record_type": "chat", "provenance": "real", "rule": "thumbs_down", "conversation_id": "c1"}
    write_rows(tmp_path / "kto.parquet", [kto], records.KTO_EXAMPLE)
    with pytest.raises(FileNotFoundError, match="built set 'sft' is missing"):
        mix(tmp_path, MixParams(eval_share=0.0), {})
    write_rows(tmp_path / "sft.parquet", [], records.SFT_EXAMPLE)
    write_rows(tmp_path / "preference.parquet", [], records.PREFERENCE_PAIR)
    out = mix(tmp_path, MixParams(eval_share=0.0), {})
    assert out["kto"].train.to_pylist() == [{**dict.fromkeys(records.KTO_EXAMPLE.names), **kto}]
    assert out["kto"].train.schema == records.KTO_EXAMPLE and out["sft"].metrics["read"] == 0
