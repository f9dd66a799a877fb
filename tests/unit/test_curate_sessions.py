"""Session filters: one literal input each, one expected reason."""

from logtune.curate.pipeline import CurateParams
from logtune.curate.sessions import (broken_context, empty_message, error_status, first_reject, low_confidence,
                                     no_assistant_reply, not_approved, truncated)

P = CurateParams(drop_statuses=("error",), min_confidence=0.5, drop_approvals=("rejected",))


def conv(*turns, **fields):
    messages = [{"id": str(i), "role": r, "content": c, "tool_calls": None} for i, (r, c) in enumerate(turns)]
    return {"id": "c1", "messages": messages, "status": "ok", "error": None, "context": None, **fields}


GOOD = [("user", "Status of PRJ-1042?"), ("assistant", "In progress.")]


def test_good_session_passes_every_filter():
    assert first_reject(conv(*GOOD, context='{"projects": []}', confidence=0.9, approval="approved"), P) is None


def test_error_status_from_status():
    assert error_status(conv(*GOOD, status="error"), P).reason == "error_status"


def test_error_status_from_error_text():
    assert error_status(conv(*GOOD, error="backend timeout"), P).reason == "error_status"


def test_empty_message():
    assert empty_message(conv(("user", " \n "), ("assistant", "Hi")), P).reason == "empty_message"


def test_tool_call_only_reply_is_not_empty():
    c = conv(*GOOD)
    c["messages"][1].update(content="", tool_calls='[{"name": "lookup"}]')
    assert empty_message(c, P) is None


def test_no_assistant_reply():
    assert no_assistant_reply(conv(("system", "x"), ("user", "hello?")), P).reason == "no_assistant_reply"


def test_truncated_ends_on_user_turn():
    assert truncated(conv(*GOOD, ("user", "And the owner?")), P).reason == "truncated"


def test_broken_context():
    assert broken_context(conv(*GOOD, context='{"projects": ['), P).reason == "broken_context"


def test_low_confidence():
    assert low_confidence(conv(*GOOD, confidence=0.2), P).reason == "low_confidence"


def test_missing_confidence_is_kept():
    assert low_confidence(conv(*GOOD, confidence=None), P) is None


def test_not_approved():
    assert not_approved(conv(*GOOD, approval="rejected"), P).reason == "not_approved"


def test_first_reason_wins():
    # errored AND truncated AND broken context: the error is the root cause, so it is the reason.
    c = conv(("user", "Status?"), status="error", context="{")
    assert first_reject(c, P).reason == "error_status"
