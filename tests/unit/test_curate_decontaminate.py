from logtune.golden.overlap import golden_conversation_keys, golden_overlap, golden_turn_keys, turn_key

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


def test_reworded_golden_question_under_another_context_is_a_near_overlap():
    from logtune.golden.overlap import golden_near_overlaps
    cases = [{"id": "g010", "context": None, "messages": [
        {"role": "user", "content": "Quick one: what is the current status of PRJ-6763 for the PI?"}]}]
    rows = [conv('{"id": "PRJ-6763"}', "Hi! Quick one: what is the current status of PRJ-6763 for the PI?"),
            conv(None, "quick one: what is the current status of PRJ-1111 for the PI?"),   # another record
            conv(None, "What is the status?")]                                               # too short to judge
    found = golden_near_overlaps(rows, cases, threshold=0.8)
    assert list(found) == [0]
    assert found[0].reason == "golden_near_overlap" and "g010" in found[0].detail


def test_multi_turn_golden_follow_up_alone_is_not_a_near_overlap():
    # "and who can see them now?" means nothing without the golden case's first turn
    from logtune.golden.overlap import golden_near_overlaps
    cases = [{"id": "g002", "context": None, "messages": [
        {"role": "user", "content": "Where do I upload the raw files from the Orbitrap?"},
        {"role": "assistant", "content": "Uploads page."}, {"role": "user", "content": "and who can see them now?"}]}]
    rows = [conv(None, "Status of PRJ-1?", "and who can see them now?"),
            conv(None, "Where do I upload the raw files from the Orbitrap?", "And who can see them now?")]
    assert list(golden_near_overlaps(rows, cases, threshold=0.8)) == [1]
