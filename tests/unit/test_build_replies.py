from logtune.build.replies import history_window, iter_replies
from logtune.rejects import Reject


def dialogue(n_exchanges, **last_fields):
    msgs = []
    for i in range(n_exchanges):
        msgs += [{"id": f"u{i}", "role": "user", "content": f"question {i}"},
                 {"id": f"a{i}", "role": "assistant", "content": f"answer {i}", "rating": None, "rewrite": None}]
    msgs[-1].update(last_fields)
    return {"id": "c1", "context": None, "system_prompt": "sys", "messages": msgs}


def test_history_keeps_at_most_history_turns_exchanges_before_the_answered_turn():
    replies = [r for _, r in iter_replies(dialogue(5), history_turns=2)]
    assert [m["id"] for m in replies[4].prompt] == ["u2", "a2", "u3", "a3", "u4"]
    assert [m["id"] for m in replies[0].prompt] == ["u0"]


def test_zero_history_turns_keeps_only_the_answered_turn():
    replies = [r for _, r in iter_replies(dialogue(3), history_turns=0)]
    assert [m["id"] for m in replies[2].prompt] == ["u2"]


def test_history_shows_the_rewrite_of_a_downvoted_turn():
    conv = dialogue(2)
    conv["messages"][1].update(rating=-1, rewrite="better answer 0")
    reply = [r for _, r in iter_replies(conv, history_turns=3)][1]
    assert [m["content"] for m in reply.prompt] == ["question 0", "better answer 0", "question 1"]


def test_history_window_starts_on_a_user_turn():
    # a greeting the assistant sent before any question is no exchange: it is dropped, not half-kept
    earlier = [{"role": "assistant", "content": "welcome"}, {"role": "user", "content": "hi"},
               {"role": "assistant", "content": "hello"}]
    assert [m["content"] for m in history_window(earlier, 2)] == ["hi", "hello"]


def test_reply_not_answering_a_user_turn_is_rejected_and_a_tool_call_is_a_reply():
    conv = {"id": "c1", "messages": [{"id": "a0", "role": "assistant", "content": "Welcome!"},
                                     {"id": "u1", "role": "user", "content": "hi"},
                                     {"id": "a1", "role": "assistant", "content": "", "tool_calls": '[{"name": "f"}]'}]}
    outcomes = [(m["id"], r.reason if isinstance(r, Reject) else "reply") for m, r in iter_replies(conv, 3)]
    assert outcomes == [("a0", "no_user_turn"), ("a1", "reply")]


def test_a_step_after_a_tool_result_answers_the_user_turn_with_the_earlier_steps_shown_canonically():
    call = '[{"function": {"arguments": {"city": "Oslo"}, "name": "weather"}, "id": null, "type": "function"}]'
    conv = {"id": "c1", "context": None, "messages": [
        {"id": "0", "role": "user", "content": "Weather in Oslo?"},
        {"id": "1", "role": "assistant", "content": "", "tool_calls": call},
        {"id": "2", "role": "tool", "content": "4C", "tool_calls": '{"name": "weather", "tool_call_id": null}'},
        {"id": "3", "role": "assistant", "content": "It is 4C."}]}
    (_, first), (_, last) = iter_replies(conv, 3)
    assert [m["id"] for m in last.prompt] == ["0", "1", "2"] and last.user_turn["id"] == "0"
    assert last.prompt[1]["content"] == '{"tool": "weather", "args": {"city": "Oslo"}}'
    assert (first.exchange_steps, last.exchange_steps, last.tool_conversation) == (2, 2, True)


def test_history_keeps_earlier_tool_steps_of_whole_exchanges():
    earlier = [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"},
               {"role": "user", "content": "q1"}, {"role": "assistant", "content": "", "tool_calls": "[]"},
               {"role": "tool", "content": "r1"}, {"role": "assistant", "content": "a1"}]
    assert [m["content"] for m in history_window(earlier, 1)] == ["q1", "", "r1", "a1"]


def test_prompt_messages_equal_prompt_with_system():
    from logtune.build.replies import Reply
    from logtune.build.sft import prompt_messages
    from logtune.prompt import with_system
    conv = {"id": "c", "system_prompt": "sys", "context": '{"b": 1, "id": "PRJ-1"}'}
    turns = [{"id": "u", "role": "user", "content": "q"}]
    assert prompt_messages(Reply(conv, {"id": "a"}, turns)) == with_system(turns, "sys", conv["context"])
