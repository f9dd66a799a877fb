"""Issue #14: long conversations get a decision in build (`build.long_conversations`), not a blocked pipeline.

Fixture: tests/fixtures/build/long_conversations.json (README beside it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logtune.build import BuildParams, build
from logtune.build.length import LongConversations, measure, record_chats
from logtune.params import ParamsError, from_dict

FIXTURE = Path(__file__).parents[1] / "fixtures" / "build" / "long_conversations.json"
BUDGET = 3000


def built(policy: LongConversations):
    return build(json.loads(FIXTURE.read_text()), BuildParams(long_conversations=policy), [])


def sizes(out, policy):
    return [measure(chat, policy) for name in ("sft", "preference", "kto") for r in getattr(out, name)
            for chat in record_chats(name, r)]


def test_without_a_budget_the_records_are_as_long_as_the_log():
    off = LongConversations(max_chars=None)
    out = built(off)
    assert max(sizes(out, off)) > 2 * BUDGET and out.metrics["long_conversations"]["too_long"] == 0


def test_truncate_drops_the_oldest_exchanges_and_keeps_system_prompt_and_reply():
    policy = LongConversations(policy="truncate", max_chars=BUDGET)
    out = built(policy)
    assert max(sizes(out, policy)) <= BUDGET
    by_reply = {r["message_ids"][-1]: r for r in out.sft if r["conversation_id"] == "long-chat"}
    assert sorted(by_reply) == ["a1", "a2", "a3", "a4"]
    a4 = by_reply["a4"]
    assert a4["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert a4["messages"][-1]["content"].startswith("Movable type began")
    assert a4["message_ids"] == ["u3", "a3", "u4", "a4"]          # one whole exchange of history kept, at a turn boundary
    assert by_reply["a3"]["message_ids"] == ["u3", "a3"]          # nothing of the history fits beside an essay
    (reject,) = [r for r in out.rejected]
    assert reject["reason"] == "too_long" and json.loads(reject["record"])["conversation_id"] == "huge-reply"
    m = out.metrics["long_conversations"]
    assert m == {"policy": "truncate", "unit": "chars", "limit": BUDGET, "truncated": 3,
                 "history_messages_dropped": 2 + 4 + 4, "too_long": 1}
    assert out.metrics["rejected_by_reason"]["too_long"] == 1


def test_reject_policy_rejects_with_too_long_and_counts_it():
    out = built(LongConversations(policy="reject", max_chars=BUDGET))
    reasons = sorted((json.loads(r["record"])["message_id"], r["reason"]) for r in out.rejected)
    assert reasons == [("a1", "too_long"), ("a2", "too_long"), ("a3", "too_long"), ("a4", "too_long")]
    assert [r["message_ids"][-1] for r in out.sft] == ["a1"]       # the first reply fits as it is


def test_a_token_budget_counts_through_the_chat_template(tmp_path):
    from tests.fixtures.evaluate.tiny_model import tiny_tokenizer

    tiny_tokenizer().save_pretrained(tmp_path)
    policy = LongConversations(max_chars=None, max_tokens=2500, tokenizer=str(tmp_path))
    assert max(sizes(built(LongConversations(max_chars=None)), policy)) > 2500   # the budget bites
    out = built(policy)
    assert out.sft and max(sizes(out, policy)) <= 2500
    m = out.metrics["long_conversations"]
    assert m["unit"] == "tokens" and m["truncated"] > 0 and m["too_long"] == 1


def test_the_policy_is_checked_when_params_load():
    with pytest.raises(ValueError, match="policy must be one of"):
        LongConversations(policy="split")
    with pytest.raises(ValueError, match="needs `tokenizer`"):
        LongConversations(max_chars=None, max_tokens=512)
    with pytest.raises(ValueError, match="not both"):
        LongConversations(max_chars=100, max_tokens=512, tokenizer="x")
    with pytest.raises(ParamsError, match="unknown key 'max_turns'"):
        from_dict(BuildParams, {"long_conversations": {"max_turns": 3}}, "build")
    assert from_dict(BuildParams, {"long_conversations": {"policy": "reject"}}, "build").long_conversations.policy == "reject"


REAL_SHAREGPT = Path(__file__).resolve().parents[2].parent / "shared" / "real" / "sharegpt" / "sample_data"


@pytest.mark.skipif(not REAL_SHAREGPT.is_dir(), reason=f"real ShareGPT files not found at {REAL_SHAREGPT} "
                                                        "(../shared/real is absent)")
def test_real_sharegpt_conversations_fit_the_default_budget_by_truncation():
    from logtune.sources import get_adapter

    convs = [c for c in get_adapter("sharegpt").read(REAL_SHAREGPT, {}, "sharegpt") if not c.get("quarantine")]
    policy = LongConversations()                     # the params.yaml default: truncate, 8,000 chars
    off = build(convs, BuildParams(long_conversations=LongConversations(max_chars=None)), [])
    out = build(convs, BuildParams(long_conversations=policy), [])
    assert max(sizes(off, policy)) > policy.max_chars           # real chats run past the budget
    assert max(sizes(out, policy)) <= policy.max_chars
    assert out.metrics["long_conversations"]["truncated"] > 0
    assert len(out.sft) + out.metrics["rejected_by_reason"]["too_long"] == len(off.sft)


@pytest.mark.skipif(not REAL_SHAREGPT.is_dir(), reason=f"real ShareGPT files not found at {REAL_SHAREGPT} "
                                                        "(../shared/real is absent)")
def test_with_a_token_budget_equal_to_validate_max_tokens_validate_guards_instead_of_blocking(tmp_path):
    """validate's token_length check failed 26 of 70 real ShareGPT SFT examples; build's policy, given the
    same tokenizer and budget, leaves it nothing to fail."""
    import dataclasses

    from logtune.sources import get_adapter
    from logtune.validate.contracts import schema_check
    from logtune.validate.gates import TRAINING_SETS, ValidateParams, validate_set
    from logtune.validate.suites import load_suite
    from logtune.validate.tokens import load_tokenizer
    from tests.fixtures.evaluate.tiny_model import tiny_tokenizer

    root = Path(__file__).resolve().parents[2]
    tiny_tokenizer().save_pretrained(tmp_path)
    v = ValidateParams()
    bounds = dataclasses.asdict(v)
    convs = [c for c in get_adapter("sharegpt").read(REAL_SHAREGPT, {}, "sharegpt") if not c.get("quarantine")]

    def token_length(policy):
        out = build(convs, BuildParams(long_conversations=policy), [])
        result = validate_set(TRAINING_SETS[0], out.sft, {}, load_suite(root / "expectations" / "sft.json", bounds),
                              schema_check(root / "schemas" / "sft_example.v1.schema.json"), v,
                              tokens=(load_tokenizer(tmp_path), load_suite(root / "expectations" / "sft_tokens.json",
                                                                           bounds)))
        return next(c for c in result.checks if c.name == "token_length"), out

    blocked, _ = token_length(LongConversations(max_chars=None))
    assert not blocked.passed and blocked.observed > 0
    guarded, out = token_length(LongConversations(max_chars=None, max_tokens=v.max_tokens, tokenizer=str(tmp_path)))
    assert guarded.passed and out.metrics["long_conversations"]["truncated"] > 0
