"""Build routing: each feedback kind to its record, lineage ids, golden turns out, the ledger."""

import json

from logtune.build import BuildParams, build
from logtune.ids import content_id

CTX = '{"projects": [{"id": "PRJ-1042", "status": "in progress"}]}'
GOLDEN = [{"id": "g001", "context": {"projects": [{"status": "in progress", "id": "PRJ-1042"}]},
           "messages": [{"role": "user", "content": "Status of PRJ-1042?"}]}]


def conv(*exchanges, cid="c1", context=CTX):
    """exchanges: (user text, reply text, rating, rewrite)."""
    msgs = []
    for i, (user, reply, rating, rewrite) in enumerate(exchanges):
        msgs += [{"id": f"u{i}", "role": "user", "content": user},
                 {"id": f"a{i}", "role": "assistant", "content": reply, "rating": rating, "rewrite": rewrite,
                  "feedback_note": "wrong id" if rating == -1 else None}]
    return {"id": cid, "context": context, "system_prompt": "You are iSPEC.", "task_type": "support",
            "provenance": "real", "messages": msgs}


def test_each_feedback_kind_goes_to_its_record():
    c = conv(("q up", "good", 1, None), ("q none", "fine", None, None), ("q rw", "bad", -1, "better"),
             ("q down", "bad again", -1, None), ("q odd", "meh", 0, None))
    out = build([c], BuildParams(history_turns=0), [])
    assert sorted((r["rule"], r["messages"][-1]["content"]) for r in out.sft) == [
        ("rewrite_sft", "better"), ("unrated_reply", "fine"), ("upvoted_reply", "good")]
    (pair,) = out.preference
    assert (pair["chosen"], pair["rejected"]) == ([{"role": "assistant", "content": "better"}],
                                                  [{"role": "assistant", "content": "bad"}])
    assert pair["prompt"][-1] == {"role": "user", "content": "q rw"} and pair["prompt"][0]["role"] == "system"
    assert sorted(r["reason"] for r in out.rejected) == ["downvoted_no_rewrite", "invalid_rating"]
    kto = json.loads(next(r for r in out.rejected if r["reason"] == "downvoted_no_rewrite")["record"])
    assert kto["prompt"][-1]["content"] == "q down" and kto["completion"][0]["content"] == "bad again"


def test_examples_carry_system_context_lineage_and_content_ids():
    c = conv(("Status of the project?", "PRJ-1042 is in progress.", 1, None), ("Who owns it?", "I couldn't find an owner in the context.", None, None))
    out = build([c], BuildParams(history_turns=3), [])
    last = next(r for r in out.sft if r["message_ids"][-1] == "a1")
    assert last["message_ids"] == ["u0", "a0", "u1", "a1"]
    assert last["messages"][0]["content"] == 'You are iSPEC.\nCONTEXT: {"projects":[{"id":"PRJ-1042","status":"in progress"}]}'
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert (last["record_type"], last["phase"]) == ("refusal", "refusals")
    assert last["id"] == content_id("c1", "a1", "unrated_reply")
    assert (last["conversation_id"], last["task_type"], last["provenance"]) == ("c1", "support", "real")
    assert [r["id"] for r in out.sft] == sorted(r["id"] for r in out.sft)


def test_a_golden_question_inside_a_longer_session_is_rejected():
    c = conv(("Hi", "Hello!", 1, None), ("status of  prj-1042?", "In progress.", 1, None))
    out = build([c], BuildParams(), GOLDEN)
    assert [r["message_ids"][-1] for r in out.sft] == ["a0"]
    assert [r["reason"] for r in out.rejected] == ["golden_overlap"]


def test_ledger_accounts_for_every_reply():
    convs = [conv(("a", "b", 1, None), ("c", "d", -1, "e"), cid="x"),
             conv(("f", "g", -1, None), cid="y"),
             conv(("h", "i", None, None), cid="z", context="{broken")]
    m = build(convs, BuildParams(), []).metrics
    assert m["read"] == 3 and m["replies_seen"] == 4
    assert m["sft_by_rule"] == {"rewrite_sft": 1, "unrated_reply": 0, "upvoted_reply": 1}
    assert m["preference_pairs"] == 1 and m["rejected"] == 2
    assert m["rejected_by_reason"]["broken_context"] == 1 and m["rejected_by_reason"]["downvoted_no_rewrite"] == 1
    assert m["replies_seen"] == m["sft_by_rule"]["upvoted_reply"] + m["sft_by_rule"]["unrated_reply"] \
        + m["preference_pairs"] + m["rejected"]


def test_system_prompt_param_overrides_the_logged_prompt():
    out = build([conv(("q", "a", 1, None))], BuildParams(system_prompt="You are iSPEC v2."), [])
    assert out.sft[0]["messages"][0]["content"].startswith("You are iSPEC v2.\nCONTEXT: ")
