"""Issue #14: de-duplication merges feedback. The same chats from several sources collapse to one
conversation holding every copy's rating, note and rewrite (with its source), and build routes the union.

Fixture: tests/fixtures/curate/two_sources.json (its README says why each conversation exists).
"""

from __future__ import annotations

import json
from pathlib import Path

from logtune import feedback
from logtune.build import BuildParams, build
from logtune.curate import CurateParams, curate
from logtune.curate.dedup import split_duplicates

FIXTURE = Path(__file__).parents[1] / "fixtures" / "curate" / "two_sources.json"


def curated():
    return curate(json.loads(FIXTURE.read_text()), CurateParams(near_duplicate_threshold=0.8), [])


def reply_entries(conv):
    (reply,) = [m for m in conv["messages"] if m["role"] == "assistant"]
    return [(e["source"], e["conversation_id"], e["rating"], e["note"], e["rewrite"])
            for e in feedback.entries(conv, reply)]


def test_an_unrated_copy_no_longer_swallows_a_down_vote():
    out = curated()
    kept = {c["id"]: c for c in out.kept}
    # the representative is the best-rated copy (a rewrite counts +1), its text and ids kept
    assert sorted(kept) == ["a1-sqlite", "b3-export", "c1-sqlite", "d2-sqlite"]
    assert reply_entries(kept["a1-sqlite"]) == [
        ("webui", "a2-webui", -1, "wrong project: it is PRJ-12, and it is in review", None)]
    assert reply_entries(kept["b3-export"]) == [
        ("export", "b3-export", None, None, "The records for PRJ-12 don't list an owner."),
        ("webui", "b2-webui", -1, "there is no owner field, say so plainly", None)]
    assert [e[2] for e in reply_entries(kept["c1-sqlite"])] == [1, -1]
    # near-duplicates: the kept copy's own vote first, then the copies dropped for it
    assert [(e[1], e[2]) for e in reply_entries(kept["d2-sqlite"])] == [
        ("d2-sqlite", 1), ("d3-export", 1), ("d1-webui", -1)]
    # the duplicates are still rejected rows (read = kept + rejected), their feedback counted as merged
    m = out.metrics
    assert m["read"] == 10 and m["kept"] == 4 and m["rejected"] == 6
    assert m["rejected_by_reason"]["exact_duplicate"] == 4 and m["rejected_by_reason"]["near_duplicate"] == 2
    assert m["merged_feedback"] == {"conversations_merged": 4, "feedback_entries_merged": 5, "notes_merged": 4,
                                    "ratings_down_merged": 4, "ratings_up_merged": 1, "rewrites_merged": 0}


def test_build_routes_the_merged_feedback():
    built = build(curated().kept, BuildParams(), [])
    kto = {(r["conversation_id"], r["rule"], r["label"]) for r in built.kto}
    assert ("a1-sqlite", "thumbs_down", False) in kto             # the vote the unrated copy used to hide
    assert [(p["conversation_id"], p["rule"], p["chosen"][0]["content"]) for p in built.preference] == [
        ("b3-export", "rewrite_pair", "The records for PRJ-12 don't list an owner.")]
    assert ("d2-sqlite", "thumbs_up", True) in kto                # 2 up, 1 down: majority, and never SFT
    assert "d2-sqlite" not in {r["conversation_id"] for r in built.sft}
    reasons = {json.loads(r["record"])["conversation_id"]: r["reason"] for r in built.rejected}
    assert reasons == {"c1-sqlite": "conflicting_ratings"}       # 1 up, 1 down: says nothing
    assert built.metrics["outcomes"]["contested_up"] == 1 and built.metrics["outcomes"]["downvoted"] == 1
    assert [e["source"] for e in json.loads(built.rejected[0]["record"])["feedback"]] == ["sqlite", "webui"]


def test_two_distinct_rewrites_make_two_pairs_and_merging_twice_adds_nothing():
    rows = json.loads(FIXTURE.read_text())[2:5]
    rows[1]["messages"][1]["rewrite"] = "PRJ-12 has no owner listed in the records."
    kept, dropped = split_duplicates(rows)
    assert len(kept) == 1 and len(dropped) == 2
    again, _ = split_duplicates(kept + rows[1:])          # the merged copy meets its duplicates again
    assert reply_entries(again[0]) == reply_entries(kept[0])
    built = build(kept, BuildParams(), [])
    assert sorted(p["chosen"][0]["content"] for p in built.preference) == [
        "PRJ-12 has no owner listed in the records.", "The records for PRJ-12 don't list an owner."]
    assert len(built.sft) == 2 and len({r["id"] for r in built.sft}) == 2


def test_the_rewrite_stage_sees_every_copys_note():
    from logtune.rewrite.pipeline import notes_and_patterns

    kept = {c["id"]: c for c in curated().kept}
    notes, _ = notes_and_patterns([kept["d2-sqlite"], kept["a1-sqlite"]])
    assert notes[("d2-sqlite", "2")] == "say when the review ends"          # from the dropped near-duplicate
    assert notes[("a1-sqlite", "2")] == "wrong project: it is PRJ-12, and it is in review"


def test_history_shows_the_rewrite_when_the_vote_and_the_rewrite_came_from_different_copies():
    rows = json.loads(FIXTURE.read_text())[2:5]                 # b1 unrated, b2 down-voted, b3 rewritten
    follow = [{"id": "3", "role": "user", "content": "Then who should I ask?", "rating": None},
              {"id": "4", "role": "assistant", "content": "Ask the facility manager.", "rating": None}]
    for r in rows:
        r["messages"] = r["messages"] + [dict(m) for m in follow]
    kept, _ = split_duplicates(rows)
    sft = {r["message_ids"][-1]: r for r in build(kept, BuildParams(), []).sft}
    assert sft["4"]["messages"][2] == {"role": "assistant", "content": "The records for PRJ-12 don't list an owner."}
