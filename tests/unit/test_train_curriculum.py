from logtune.train.curriculum import Curriculum, plan

ROWS = [{"id": "a", "phase": "refusals"}, {"id": "b", "phase": "conversational"}, {"id": "c", "phase": "refusals"},
        {"id": "d", "phase": "tool_use"}, {"id": "e", "phase": None}, {"id": "f", "phase": "conversational"}]


def ids(rows):
    return [r["id"] for r in rows]


def test_phased_runs_listed_phases_in_order_empty_ones_kept_for_reporting_unlisted_last():
    p = plan(ROWS, Curriculum())
    assert [name for name, _ in p.runs] == ["extractive", "conversational", "refusals", "other"]
    assert [ids(rows) for _, rows in p.runs] == [[], ["b", "f"], ["a", "c"], ["d", "e"]]
    assert p.examples == 6 and p.rejected == {}
    assert p.by_phase == {"conversational": 2, "null": 1, "refusals": 2, "tool_use": 1}


def test_unlisted_reject_counts_them_and_trains_none():
    p = plan(ROWS, Curriculum(phases=("refusals", "conversational"), unlisted="reject"))
    assert [(name, ids(rows)) for name, rows in p.runs] == [("refusals", ["a", "c"]), ("conversational", ["b", "f"])]
    assert p.rejected == {"phase_not_listed": 2}
    assert sum(len(r) for _, r in p.runs) + sum(p.rejected.values()) == p.examples  # nothing lost silently


def test_mixed_is_one_seeded_shuffled_run_of_the_same_examples():
    phased = plan(ROWS, Curriculum(unlisted="reject"))
    mixed = plan(ROWS, Curriculum(mode="mixed", unlisted="reject"), seed=3)
    assert [name for name, _ in mixed.runs] == ["mixed"]
    assert sorted(ids(mixed.runs[0][1])) == sorted(i for _, rows in phased.runs for i in ids(rows))
    assert mixed == plan(ROWS, Curriculum(mode="mixed", unlisted="reject"), seed=3)  # reproducible
    orders = {tuple(ids(plan(ROWS, Curriculum(mode="mixed"), seed=s).runs[0][1])) for s in range(5)}
    assert len(orders) > 1  # and really shuffled


def test_replay_rehearses_a_seeded_share_of_earlier_phases_only():
    p = plan(ROWS, Curriculum(phases=("conversational", "refusals"), unlisted="reject", replay=0.5), seed=1)
    (first, conv), (second, refusals) = p.runs
    assert ids(conv) == ["b", "f"]                     # the first phase has nothing earlier to replay
    assert ids(refusals)[:2] == ["a", "c"] and len(refusals) == 3
    assert ids(refusals)[2] in {"b", "f"}               # one of the 2 earlier rows (0.5 x 2)
    assert p.replayed == {"refusals": 1}
    assert p == plan(ROWS, Curriculum(phases=("conversational", "refusals"), unlisted="reject", replay=0.5), seed=1)


def test_replay_must_be_a_share():
    import pytest

    from logtune.params import ParamsError
    from logtune.train.curriculum import curriculum_params

    with pytest.raises(ParamsError, match="sft.curriculum.replay"):
        curriculum_params({"replay": 2})
