from logtune.curate.decontaminate import golden_conversation_keys, golden_overlap, golden_turn_keys, turn_key

GOLDEN = [{"id": "g001", "context": {"projects": [{"id": "PRJ-1042", "status": "in progress"}]},
           "messages": [{"role": "user", "content": "What is the status of PRJ-1042?"}]},
          {"id": "g002", "context": None, "messages": [
              {"role": "user", "content": "Where do I upload?"}, {"role": "assistant", "content": "Uploads page."},
              {"role": "user", "content": "Who can see them?"}]}]


def conv(context, *user_turns):
    messages = []
    for i, text in enumerate(user_turns):
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": f"answer {i}"}]
    return {"id": "c1", "context": context, "messages": messages}


def test_replayed_golden_case_is_rejected():
    c = conv('{"projects": [{"status": "in progress", "id": "PRJ-1042"}]}', "what is the  status of PRJ-1042?")
    reject = golden_overlap(c, golden_conversation_keys(GOLDEN))
    assert reject.reason == "golden_overlap" and "g001" in reject.detail


def test_same_question_against_another_context_is_kept():
    c = conv('{"projects": [{"status": "done", "id": "PRJ-1042"}]}', "What is the status of PRJ-1042?")
    assert golden_overlap(c, golden_conversation_keys(GOLDEN)) is None


def test_multi_turn_golden_case_needs_all_user_turns():
    keys = golden_conversation_keys(GOLDEN)
    assert golden_overlap(conv(None, "Where do I upload?", "Who can see them?"), keys).reason == "golden_overlap"
    assert golden_overlap(conv(None, "Who can see them?"), keys) is None


def test_turn_keys_are_each_cases_final_user_turn():
    keys = golden_turn_keys(GOLDEN)
    assert keys[turn_key(None, "who can see them? ")] == "g002"
    assert turn_key(None, "Where do I upload?") not in keys
