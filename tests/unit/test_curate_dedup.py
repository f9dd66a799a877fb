from logtune.curate.dedup import split_duplicates


def conv(cid, user, reply, rating=None, context=None):
    return {"id": cid, "context": context, "messages": [
        {"id": "1", "role": "user", "content": user, "rating": None, "rewrite": None},
        {"id": "2", "role": "assistant", "content": reply, "rating": rating, "rewrite": None}]}


def test_best_rated_copy_is_kept_whatever_its_case_and_spacing():
    first, better = conv("a", "Where is Uploads?", "Files > Uploads."), conv("b", "where is  uploads?", "Files > Uploads.", 1)
    kept, dropped = split_duplicates([first, better])
    assert [c["id"] for c in kept] == ["b"]
    assert [(c["id"], r.reason, r.detail) for c, r in dropped] == [("a", "exact_duplicate", "duplicate of b")]


def test_tie_keeps_the_first_read():
    kept, dropped = split_duplicates([conv("a", "Hi", "Hello"), conv("b", "Hi", "Hello")])
    assert [c["id"] for c in kept] == ["a"] and [c["id"] for c, _ in dropped] == ["b"]


def test_same_text_under_a_different_context_is_not_a_duplicate():
    kept, dropped = split_duplicates([conv("a", "Status?", "Done.", context='{"id": "PRJ-1"}'),
                                      conv("b", "Status?", "Done.", context='{"id": "PRJ-2"}')])
    assert len(kept) == 2 and dropped == []


def test_near_duplicate_under_the_same_context_is_dropped_and_the_better_copy_kept():
    from logtune.curate.dedup import split_near_duplicates
    ctx = '{"id": "PRJ-1"}'
    reply = "Open the Files tab, choose Uploads, then drag the raw files into the drop zone and press Start."
    a = conv("a", "How do I upload raw files for PRJ-1 please?", reply, context=ctx)
    b = conv("b", "How do I upload raw files for PRJ-1?", reply, rating=1, context=ctx)
    other_ctx = conv("c", "How do I upload raw files for PRJ-1?", reply, context='{"id": "PRJ-2"}')
    kept, dropped = split_near_duplicates([a, b, other_ctx], threshold=0.8)
    assert [c["id"] for c in kept] == ["b", "c"]
    ((dup, reject),) = dropped
    assert dup["id"] == "a" and reject.reason == "near_duplicate" and "near-duplicate of b" in reject.detail
