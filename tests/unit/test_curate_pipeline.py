"""The curate ledger: every session leaves kept or rejected, rejects hold no PII, order is fixed."""

import json

from logtune.curate import CurateParams, curate

GOLDEN = [{"id": "g001", "context": None, "messages": [{"role": "user", "content": "Where is Uploads?"}]}]


def conv(cid, user, reply="Files > Uploads.", **fields):
    return {"id": cid, "context": None, "status": "ok", "error": None, "messages": [
        {"id": "1", "role": "user", "content": user, "rating": None, "feedback_note": None, "rewrite": None},
        {"id": "2", "role": "assistant", "content": reply, "rating": None, "feedback_note": None, "rewrite": None}],
        **fields}


def test_ledger_adds_up_and_rejects_are_redacted():
    rows = [conv("c3", "I'm ann@example.org, where do I log in?"),
            conv("c1", "I'm bob@example.org, where do I log in?"),   # same as c3 once redacted
            conv("c2", "where is uploads?"),                            # golden g001
            conv("c0", "help, ann@example.org here", status="error")]
    out = curate(rows, CurateParams(), GOLDEN)
    m = out.metrics
    assert m["read"] == 4 and m["kept"] + m["rejected"] == 4
    assert [c["id"] for c in out.kept] == ["c3"]
    assert [(r["id"], r["reason"]) for r in out.rejected] == [
        ("c0", "error_status"), ("c1", "exact_duplicate"), ("c2", "golden_overlap")]
    assert m["rejected_by_reason"]["truncated"] == 0      # every reason listed, zeros included
    assert m["redacted_by_kind"] == {"EMAIL": 3} and m["conversations_redacted"] == 3
    assert all("@example.org" not in r["record"] for r in out.rejected)
    assert json.loads(out.rejected[0]["record"])["messages"][0]["content"] == "help, <EMAIL_1> here"


def test_same_input_gives_same_output_whatever_the_read_order():
    rows = [conv("b", "one?"), conv("a", "two?"), conv("c", "two?")]
    first, second = curate(rows, CurateParams(), []), curate(rows[::-1], CurateParams(), [])
    assert [c["id"] for c in first.kept] == ["a", "b"]
    # a tie between duplicates goes to the first read, so read order (file name, row) is part of the input
    assert [c["id"] for c in second.kept] == ["b", "c"]
