"""logtune.validate.features: the flat facts each gate looks at, from literal records."""

from logtune.normalize import normalize_text
from logtune.validate.features import golden_key, golden_keys, preference_features, sft_features, split_system

SYSTEM = 'Be brief.\nCONTEXT: {"tickets":[{"id":"TCK-1","owner":"dana@example.com"}]}'


def _sft(messages, **extra):
    return {"id": "r1", "messages": messages, "record_type": "chat", "provenance": "real", **extra}


def test_split_system_finds_the_rendered_context():
    assert split_system(SYSTEM) == ("Be brief.", '{"tickets":[{"id":"TCK-1","owner":"dana@example.com"}]}')
    assert split_system("Be brief.") == ("Be brief.", None)


def test_golden_key_ignores_whitespace_case_and_key_order():
    a = golden_key("Where is  TCK-1?\n", {"b": 1, "a": "X"})
    b = golden_key("where is tck-1?", '{"a": "x", "b": 1}')
    assert a == b
    assert normalize_text("  A\tB ") == "a b"


def test_golden_key_judges_the_same_text_as_curate():
    # full-width letters and digits are the same text once NFKC-normalized, as in curate's golden check
    from logtune.golden.overlap import turn_key

    ctx = {"records": [{"id": "PRJ-1042"}]}
    assert golden_key("Status of ＰＲＪ-１０４２?", ctx) == golden_key("status of prj-1042?", ctx)
    assert golden_key("Status of ＰＲＪ-１０４２?", ctx) == tuple(reversed(turn_key(ctx, "status of PRJ-1042?")))


def test_sft_features_of_a_multi_turn_example():
    (row,) = sft_features([_sft([
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Who owns TCK-1?"},
        {"role": "assistant", "content": "Dana owns TCK-1."},
    ])], golden={})
    assert row["n_turns"] == 4
    assert row["roles_alternate"] is True
    assert row["last_role"] == "assistant"
    assert row["reply"] == "Dana owns TCK-1." and row["reply_words"] == 3
    assert row["is_real"] == 1
    # the email sits in CONTEXT (ground truth, never redacted): not a PII leak
    assert row["has_pii"] is False
    assert row["in_golden"] is False


def test_planted_email_in_a_reply_is_pii():
    (row,) = sft_features([_sft([{"role": "user", "content": "Who?"},
                                 {"role": "assistant", "content": "Write to dana@example.com."}])], golden={})
    assert row["has_pii"] is True and row["pii_kinds"] == "EMAIL"


def test_golden_case_in_training_is_found_by_its_user_turn_and_context():
    golden = golden_keys([{"id": "g9", "context": {"a": 1}, "messages": [{"role": "user", "content": "Status?"}]}])
    (row,) = sft_features([_sft([{"role": "system", "content": 'P\nCONTEXT: {"a":1}'},
                                 {"role": "user", "content": "  status? "},
                                 {"role": "assistant", "content": "Fine."}])], golden)
    assert row["in_golden"] is True and row["golden_id"] == "g9"


def test_repeated_speaker_does_not_alternate():
    (row,) = sft_features([_sft([{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                 {"role": "assistant", "content": "c"}])], golden={})
    assert row["roles_alternate"] is False


def test_preference_pair_with_identical_replies_does_not_differ():
    (row,) = preference_features([{
        "id": "p1", "provenance": "synthetic",
        "prompt": [{"role": "user", "content": "Status?"}],
        "chosen": [{"role": "assistant", "content": "Done."}],
        "rejected": [{"role": "assistant", "content": " done. "}],
    }], golden={})
    assert row["chosen_differs"] is False
    assert row["reply"] == "Done." and row["rejected_words"] == 1 and row["is_real"] == 0


def test_golden_case_rendered_with_prompt_with_system_is_found():
    # build renders training records with logtune.prompt.with_system: the leak check must see through it
    from logtune.prompt import with_system

    case = {"id": "g1", "context": {"projects": [{"id": "PRJ-1", "status": "done"}]},
            "messages": [{"role": "user", "content": "Is PRJ-1 done?"}]}
    messages = with_system(case["messages"], "Answer from CONTEXT only.", case["context"])
    (row,) = sft_features([_sft(messages + [{"role": "assistant", "content": "Yes."}])], golden_keys([case]))
    assert row["golden_id"] == "g1"
