"""Session filters: one literal input each, one expected reason."""

from logtune.curate.pipeline import CurateParams
from logtune.curate.sessions import (broken_context, empty_message, error_status, failed_tool_call, first_reject,
                                     low_confidence, no_assistant_reply, not_approved, task_type_excluded, truncated)

P = CurateParams(drop_statuses=("error",), min_confidence=0.5, exclude_rejected=True)


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


def test_unanswerable_squad_question_is_kept():
    # squad_v2 leaves the reply empty on purpose: build writes the refusal
    c = conv(("user", "Who ruled Normandy in 1300?"), ("assistant", None))
    c["messages"][1]["feedback_meta"] = '{"plausible_answers": [], "unanswerable": true}'
    assert first_reject(c, P) is None


def test_empty_reply_without_unanswerable_mark_is_empty():
    c = conv(("user", "Who ruled Normandy in 1300?"), ("assistant", None))
    c["messages"][1]["feedback_meta"] = '{"unanswerable": false}'
    assert empty_message(c, P).reason == "empty_message"


def test_failed_tool_call_from_tool_error_text():
    c = conv(("user", "Restart the pod"), ("assistant", "Restarting."), ("tool", "Error: pod not found"),
             ("assistant", "Done!"))
    assert failed_tool_call(c, P).reason == "failed_tool_call"


def test_failed_tool_call_from_json_error_field():
    c = conv(("user", "Weather?"), ("tool", '{"error": "timeout", "result": null}'), ("assistant", "Sunny."))
    assert failed_tool_call(c, P).reason == "failed_tool_call"


def test_successful_json_tool_result_with_null_error_is_fine():
    c = conv(("user", "Weather?"), ("tool", '{"error": null, "result": "sunny"}'), ("assistant", "Sunny."))
    assert failed_tool_call(c, P) is None


def test_failed_tool_call_from_unparseable_tool_calls():
    c = conv(*GOOD)
    c["messages"][1]["tool_calls"] = '[{"name": "lookup", "arguments": {'
    assert failed_tool_call(c, P).reason == "failed_tool_call"


def test_task_type_excluded():
    p = CurateParams(task_types=("support",))
    assert task_type_excluded(conv(*GOOD, task_type="game"), p).reason == "task_type_excluded"
    assert task_type_excluded(conv(*GOOD, task_type="support"), p) is None


def test_exclude_rejected_off_keeps_rejected_calls():
    assert not_approved(conv(*GOOD, approval="rejected"), CurateParams(exclude_rejected=False)) is None
