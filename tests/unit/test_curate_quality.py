"""The judge's data-quality score as a curate filter (`curate.judge_min_quality`, issue #17), on literal sessions."""

from __future__ import annotations

import json

import pytest

from logtune.curate import CurateParams, curate
from logtune.curate.quality import judge_sessions, reply_items
from logtune.judge.core import Judge, make_judge
from logtune.judge.params import JudgeParams

CTX = json.dumps({"projects": [{"id": "PRJ-1042", "status": "in progress", "owner": "Dana Ruiz"}]})


def session(sid: str, *replies: str | None, context: str = CTX) -> dict:
    """A support session: one user question before each assistant reply (None: a reply with no text)."""
    messages = []
    for i, reply in enumerate(replies):
        messages.append({"id": f"u{i}", "role": "user", "content": f"What is the status of PRJ-1042? ({i})"})
        messages.append({"id": f"a{i}", "role": "assistant", "content": reply})
    return {"id": sid, "source": "support", "context": context, "status": "ok", "messages": messages}


GOOD = session("s-good", "PRJ-1042 is in progress, owned by Dana Ruiz.")
# the second reply cites PRJ-7777, which neither CONTEXT nor the user mentions: offline quality 0.4
ONE_BAD = session("s-one-bad", "PRJ-1042 is in progress.", "PRJ-7777 is done and PRJ-1042 waits on it.")
# a reply that only calls a tool, then the tool's answer and a reply with text: only the last is asked
NO_TEXT = {**session("s-no-text", None), "messages": [
    {"id": "u0", "role": "user", "content": "Refresh PRJ-1042, please."},
    {"id": "a0", "role": "assistant", "content": None,
     "tool_calls": '[{"function":{"arguments":{"id":"PRJ-1042"},"name":"lims_refresh"},"id":"t1","type":"function"}]'},
    {"id": "t0", "role": "tool", "content": "refreshed", "tool_calls": '{"name":"lims_refresh","tool_call_id":"t1"}'},
    {"id": "a1", "role": "assistant", "content": "PRJ-1042 is refreshed."}]}
TOOL_ONLY = {**NO_TEXT, "id": "s-tool-only", "messages": NO_TEXT["messages"][:2]}


class FixedBackend:
    """A backend answering the quality question with fixed scores per reply text (None: an unreadable answer)."""
    stand_in, name = False, "fixed-test-judge"

    def __init__(self, scores: dict[str, float | None]):
        self.scores, self.asked = scores, []

    def quality(self, asks):
        self.asked += [reply for _, reply, _ in asks]
        return [self.scores[reply] for _, reply, _ in asks]


def test_reply_items_ask_about_every_reply_with_text_after_its_conversation():
    items = reply_items(ONE_BAD)
    assert [i.id for i in items] == ["s-one-bad:a0", "s-one-bad:a1"]
    assert items[1].prompt.splitlines() == ["user: What is the status of PRJ-1042? (0)", "assistant: PRJ-1042 is in progress.",
                                            "user: What is the status of PRJ-1042? (1)"]
    assert items[1].context == CTX
    assert [i.id for i in reply_items(NO_TEXT)] == ["s-no-text:a1"]
    assert reply_items(TOOL_ONLY) == []


def test_a_session_is_as_good_as_its_worst_reply():
    judge = make_judge(JudgeParams())            # the offline stand-in
    rejects, stats = judge_sessions([GOOD, ONE_BAD, TOOL_ONLY], judge, 0.5)
    assert list(rejects) == [1]
    assert rejects[1].reason == "judge_low_quality"
    assert rejects[1].detail.startswith("reply s-one-bad:a1 scored 0.400 < 0.5 by offline-rules-v1 (rule-based stand-in")
    assert stats == {"judge": judge.name, "stand_in": True, "min_quality": 0.5, "sessions_scored": 2,
                     "sessions_unscored": 1, "replies_scored": 3, "replies_unparsed": 0, "replies_below": 1}
    assert judge_sessions([GOOD, ONE_BAD], judge, 0.4)[0] == {}      # 0.4 is not below 0.4


def test_an_unreadable_score_rejects_rather_than_keeps():
    judge = Judge(JudgeParams(), FixedBackend({"PRJ-1042 is in progress.": 0.9,
                                               "PRJ-7777 is done and PRJ-1042 waits on it.": None}))
    rejects, stats = judge_sessions([ONE_BAD], judge, 0.1)
    assert rejects[0].reason == "judge_unparsed" and "s-one-bad:a1" in rejects[0].detail
    assert stats["replies_unparsed"] == 1 and stats["replies_scored"] == 1


def test_curate_counts_every_judged_reject_and_asks_only_the_survivors():
    backend = FixedBackend({"PRJ-1042 is in progress, owned by Dana Ruiz.": 0.9, "PRJ-1042 is in progress.": 0.8,
                            "PRJ-1042 is refreshed.": 0.7,
                            "PRJ-7777 is done and PRJ-1042 waits on it.": 0.3})
    broken = {**session("s-error", "never judged"), "status": "error"}          # leaves first, as error_status
    copy = {**GOOD, "id": "s-good-copy"}                                         # an exact duplicate of s-good
    out = curate([GOOD, ONE_BAD, NO_TEXT, broken, copy], CurateParams(judge_min_quality=0.5), [],
                 judge=Judge(JudgeParams(), backend))
    assert [c["id"] for c in out.kept] == ["s-good", "s-no-text"]
    reasons = {r["id"]: r["reason"] for r in out.rejected}
    assert reasons == {"s-error": "error_status", "s-good-copy": "exact_duplicate", "s-one-bad": "judge_low_quality"}
    m = out.metrics
    assert m["read"] == 5 == m["kept"] + m["rejected"]
    assert m["rejected_by_reason"]["judge_low_quality"] == 1 and m["rejected_by_reason"]["judge_unparsed"] == 0
    assert m["judge_quality"]["sessions_scored"] == 3 and m["judge_quality"]["replies_below"] == 1
    # neither the broken session nor the duplicate reached the judge
    assert sorted(backend.asked) == sorted(["PRJ-1042 is in progress, owned by Dana Ruiz.", "PRJ-1042 is in progress.",
                                            "PRJ-7777 is done and PRJ-1042 waits on it.", "PRJ-1042 is refreshed."])


def test_off_by_default_and_checked():
    out = curate([GOOD, ONE_BAD], CurateParams(), [])
    assert len(out.kept) == 2 and out.metrics["judge_quality"] is None
    assert out.metrics["rejected_by_reason"]["judge_low_quality"] == 0       # listed, so metrics diffs stay aligned
    with pytest.raises(ValueError, match="no judge"):
        curate([GOOD], CurateParams(judge_min_quality=0.5), [])
    with pytest.raises(ValueError, match="judge_min_quality"):
        CurateParams(judge_min_quality=1.5)
