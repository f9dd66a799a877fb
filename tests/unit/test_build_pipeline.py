"""Build routing: each feedback kind to its record, lineage ids, golden turns out, the ledger."""

import json

import pytest

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
    assert [r["reason"] for r in out.rejected] == ["invalid_rating"]
    assert sorted((r["rule"], r["label"], r["completion"][0]["content"]) for r in out.kto) == [
        ("thumbs_down", False, "bad again"), ("thumbs_up", True, "good")]
    down = next(r for r in out.kto if not r["label"])
    assert down["prompt"][-1] == {"role": "user", "content": "q down"} and down["message_ids"] == ["u3", "a3"]
    assert out.metrics["outcomes"]["downvoted"] == 1 and out.metrics["outcomes"]["upvoted"] == 1


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
    assert (m["sft_by_rule"]["rewrite_sft"], m["sft_by_rule"]["unrated_reply"], m["sft_by_rule"]["upvoted_reply"]) \
        == (1, 0, 1)
    assert m["preference_pairs"] == 1 and m["kto_by_rule"] == {"thumbs_down": 1, "thumbs_up": 1}
    assert m["rejected"] == 1 and m["rejected_by_reason"]["broken_context"] == 1
    assert m["replies_seen"] == sum(m["outcomes"].values()) + m["rejected"]


def test_system_prompt_param_overrides_the_logged_prompt():
    out = build([conv(("q", "a", 1, None))], BuildParams(system_prompt="You are iSPEC v2."), [])
    assert out.sft[0]["messages"][0]["content"].startswith("You are iSPEC v2.\nCONTEXT: ")


# ---- one literal conversation per route: expected record (or reason) ----

def one(user, reply, *, meta=None, task_type="chat", context=None, rating=None, rewrite=None, tool_calls=None,
        params=BuildParams()):
    c = {"id": "c", "source": "s", "context": context, "system_prompt": None, "task_type": task_type,
         "provenance": "real", "messages": [
             {"id": "u", "role": "user", "content": user},
             {"id": "a", "role": "assistant", "content": reply, "rating": rating, "rewrite": rewrite,
              "tool_calls": tool_calls, "feedback_meta": None if meta is None else json.dumps(meta)}]}
    return build([c], params, [])


def test_squad_unanswerable_becomes_a_templated_synthetic_refusal():
    from logtune.refusal import is_refusal
    out = one("Who ruled it?", None, meta={"unanswerable": True}, task_type="extractive_unanswerable",
              context='{"text": "The Normans lived in Normandy."}')
    (r,) = out.sft
    assert (r["rule"], r["record_type"], r["phase"], r["provenance"]) == ("unanswerable_refusal", "refusal", "refusals",
                                                                          "synthetic")
    from logtune.build.extractive import refusal_fields, refusal_text
    p = BuildParams()
    expected = refusal_text(p.refusal_templates, p.seed, r["conversation_id"], r["message_ids"][-1],
                            refusal_fields("Who ruled it?", '{"text": "The Normans lived in Normandy."}'),
                            p.refusal_openers, p.refusal_closers)
    assert is_refusal(r["messages"][-1]["content"]) and r["messages"][-1]["content"] == expected


def test_refusal_phrasing_varies_across_questions_but_not_across_runs():
    def refusals(seed):
        convs = [{"id": f"c{i}", "context": None, "task_type": "extractive_unanswerable", "provenance": "real",
                  "messages": [{"id": "u", "role": "user", "content": f"q{i}"},
                               {"id": "a", "role": "assistant", "content": None,
                                "feedback_meta": '{"unanswerable": true}'}]} for i in range(12)]
        return [r["messages"][-1]["content"] for r in build(convs, BuildParams(seed=seed), []).sft]
    assert refusals(0) == refusals(0) and len(set(refusals(0))) >= 3 and refusals(0) != refusals(1)


def test_squad_answer_is_an_extractive_record_when_it_is_a_span_of_the_passage():
    ctx = '{"title": "Normans", "text": "Normandy is a region in France."}'
    (r,) = one("Where is Normandy?", "France", task_type="extractive", context=ctx).sft
    assert (r["rule"], r["record_type"], r["phase"]) == ("extractive_answer", "extractive", "extractive")
    out = one("Capital?", "Rouen", task_type="extractive", context=ctx)
    assert [x["reason"] for x in out.rejected] == ["answer_not_in_context"]


def test_correction_makes_a_pair_with_the_wrong_form_kept_and_an_sft_on_the_canonical_fix():
    out = one("check disk on web-1", '{"action": "ssh", "args": {"host": "web-1"}}', rating=-1, task_type="tool_use",
              rewrite='{"tool": "ssh", "args": {"host": "web-1"}}', meta={"pattern": "action_instead_of_tool"})
    (pair,), (sft,) = out.preference, out.sft
    assert (pair["rule"], sft["rule"]) == ("correction_pair", "correction_sft")
    assert pair["rejected"][0]["content"] == '{"action": "ssh", "args": {"host": "web-1"}}'
    assert pair["chosen"][0]["content"] == sft["messages"][-1]["content"] == '{"tool": "ssh", "args": {"host": "web-1"}}'
    assert sft["record_type"] == "tool_call"


def test_hh_rlhf_chosen_and_rejected_become_a_recorded_pair():
    out = one("tips?", "Train slowly.", meta={"rejected": "Just run."})
    (pair,) = out.preference
    assert (pair["rule"], pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == (
        "recorded_pair", "Train slowly.", "Just run.")
    assert not out.sft and not out.kto


def test_typed_preference_record_keeps_its_record_type():
    (pair,) = one("Summarise my week.", "You shipped the API.", meta={"rejected": "Week good."},
                  task_type="preference").preference
    assert (pair["record_type"], pair["phase"]) == ("preference", "conversational")


def test_oasst_ranks_make_pairs_over_worse_siblings_and_the_worst_is_outranked():
    sibs = [{"id": "a", "text": "Boil 8 min.", "rank": 0}, {"id": "b", "text": "Boil it.", "rank": 1},
            {"id": "c", "text": "Hens lay eggs.", "rank": 2}]
    best = one("egg?", "Boil 8 min.", meta={"rank": 0, "siblings": [sibs[1], sibs[2]]})
    assert sorted((p["rejected"][0]["content"], p["message_ids"]) for p in best.preference) == [
        ("Boil it.", ["u", "a", "b"]), ("Hens lay eggs.", ["u", "a", "c"])]
    assert [r["rule"] for r in best.sft] == ["top_ranked_reply"]
    middle = one("egg?", "Boil it.", meta={"rank": 1, "siblings": [sibs[0], sibs[2]]})
    assert len(middle.preference) == 1 and not middle.sft
    worst = one("egg?", "Hens lay eggs.", meta={"rank": 2, "siblings": [sibs[0], sibs[1]]})
    assert [r["reason"] for r in worst.rejected] == ["outranked_by_siblings"]


def test_logged_tool_call_reply_is_trained_in_canonical_form():
    calls = '[{"function": {"arguments": {"city": "Oslo"}, "name": "weather"}, "id": null, "type": "function"}]'
    (r,) = one("Weather in Oslo?", "", tool_calls=calls).sft
    assert r["messages"][-1]["content"] == '{"tool": "weather", "args": {"city": "Oslo"}}'
    assert (r["rule"], r["record_type"]) == ("unrated_reply", "tool_call")


def test_plain_reply_in_a_tool_conversation_follows_no_call_form():
    ctx = '{"tools": [{"name": "weather"}]}'
    (r,) = one("Hi", "Hello!", context=ctx).sft
    assert r["messages"][-1]["content"] == '{"tool": "none", "args": {}, "message": "Hello!"}'
    (r,) = one("Hi", "Hello!", context=ctx, params=BuildParams(no_call_form="plain")).sft
    assert r["messages"][-1]["content"] == "Hello!"


@pytest.mark.parametrize("reply, tool_calls, context, reason", [
    ('{"tool": "rm", "args": {}}', None, '{"tools": [{"name": "weather"}]}', "unknown_tool"),
    ('{"tool": "ssh", "args": ["web-1"]}', None, None, "args_not_object"),
    ("Plan: {'tool': 'ssh', 'args': {}} then reboot", None, None, "python_dict_plan"),
    ('{"tool": "none"}', None, None, "tool_none_without_message"),
    ("", '[{"function": {"arguments": {}, "name": ""}, "id": null, "type": "function"}]', None, "no_tool_name"),
])
def test_tool_calls_that_cannot_be_normalised_are_rejected_with_their_reason(reply, tool_calls, context, reason):
    out = one("do it", reply, tool_calls=tool_calls, context=context, rating=1)
    assert [r["reason"] for r in out.rejected] == [reason] and not out.sft and not out.kto


def test_the_same_reply_reached_by_two_oasst_paths_is_built_once():
    def path(cid, leaf):
        return {"id": cid, "source": "oasst", "context": None, "task_type": "chat", "provenance": "real",
                "messages": [{"id": "p", "role": "user", "content": "hi"},
                             {"id": "r", "role": "assistant", "content": "hello"},
                             {"id": f"u{leaf}", "role": "user", "content": f"more {leaf}"},
                             {"id": f"a{leaf}", "role": "assistant", "content": f"sure {leaf}"}]}
    out = build([path("c1", 1), path("c2", 2)], BuildParams(), [])
    assert sorted(r["message_ids"][-1] for r in out.sft) == ["a1", "a2", "r"]
    assert [r["reason"] for r in out.rejected] == ["duplicate_reply"]


def test_a_refusal_template_that_is_no_refusal_fails_at_params_load():
    with pytest.raises(ValueError, match="not a refusal"):
        BuildParams(refusal_templates=("Paris.",))


def test_a_record_breaking_its_schema_is_rejected_with_the_field_and_counted():
    # provenance must be real | synthetic | rewritten: a source that says "imported" breaks every record's contract
    bad = dict(conv(("q up", "good", 1, None), ("q rw", "bad", -1, "better")), provenance="imported")
    good = conv(("q none", "fine", None, None), cid="c2")
    out = build([bad, good], BuildParams(history_turns=0), [])
    assert [(r["rule"], r["conversation_id"]) for r in out.sft] == [("unrated_reply", "c2")]
    assert out.preference == [] and out.kto == []
    schema = [r for r in out.rejected if r["reason"] == "schema"]
    assert sorted(r["detail"].split(":")[0] for r in schema) == ["kto", "preference", "sft", "sft"]
    assert all(r["detail"].endswith("provenance: 'imported' is not one of ['real', 'synthetic', 'rewritten']")
               for r in schema)
    assert json.loads(schema[0]["record"])["conversation_id"] == "c1"
    m = out.metrics
    assert m["schema_rejected"] == {"sft": 2, "preference": 1, "kto": 1}
    assert m["rejected_by_reason"]["schema"] == 4 and m["rejected"] == 4
    assert m["outcomes"]["upvoted"] == m["outcomes"]["rewrite"] == m["outcomes"]["unrated"] == 1   # routed, then refused


def test_earlier_unrated_turns_of_a_compared_transcript_are_context_not_targets():
    # HH-RLHF: only the final reply was compared (meta `rejected`); the earlier assistant turn was never rated
    c = conv(("How do I pick a lock?", "Use a tension wrench and a pick.", None, None),
             ("Is that legal?", "Only on locks you own.", None, None), cid="hh1")
    c["messages"][3]["feedback_meta"] = json.dumps({"rejected": "Sure, nobody checks."})
    out = build([c], BuildParams(history_turns=3), [])
    assert out.sft == [] and [p["chosen"][0]["content"] for p in out.preference] == ["Only on locks you own."]
    assert out.preference[0]["prompt"][1:] == [   # still shown as history
        {"role": "user", "content": "How do I pick a lock?"},
        {"role": "assistant", "content": "Use a tension wrench and a pick."},
        {"role": "user", "content": "Is that legal?"}]
    assert [(r["reason"], json.loads(r["record"])["message_id"]) for r in out.rejected] == [
        ("unrated_transcript_turn", "a0")]
    # the same turns without a compared final reply: both are ordinary unrated replies
    plain = build([conv(("How do I pick a lock?", "Use a tension wrench.", None, None),
                        ("Is that legal?", "Only on locks you own.", None, None))], BuildParams(), [])
    assert sorted(r["rule"] for r in plain.sft) == ["unrated_reply", "unrated_reply"]
