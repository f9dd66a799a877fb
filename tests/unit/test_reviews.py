"""The human review queue on literal inputs: marks read (bad ones named), applied (reject -> human_review,
fix -> new target + human_edit pair), gated (validate.review), and the review page."""

import json
import shutil

import pytest

from logtune.cli import main
from logtune.io import write_rows
from logtune.records import KTO_EXAMPLE, PREFERENCE_PAIR, SFT_EXAMPLE
from logtune.review_page import draw, load_sets, page
from logtune.reviews import ReviewError, ReviewParams, apply_marks, data_version, read_marks, review_gate

SFT = [{"id": f"s{i}", "record_type": "chat" if i < 3 else "refusal", "provenance": "real",
        "messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]} for i in range(4)]
PAIRS = [{"id": "p0", "record_type": "chat", "provenance": "real", "prompt": [{"role": "user", "content": "Q"}],
          "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad"}]}]
SETS = {"sft": SFT, "preference": PAIRS, "kto": []}
V = data_version(SETS)


def mark(rid, m, reason=None, fix=None, s="sft", version=V):
    return {"id": rid, "set": s, "mark": m, "reason": reason, "fix": fix, "reviewed_at": "2026-12-03", "data_version": version}


def write(path, marks):
    path.write_text("".join(json.dumps(m) + "\n" for m in marks))
    return path


def test_bad_marks_are_errors_naming_file_and_line(tmp_path):
    with pytest.raises(ReviewError, match=r"r.jsonl: mark 2: a 'reject' mark needs a reason"):
        read_marks(write(tmp_path / "r.jsonl", [mark("s0", "keep"), mark("s1", "reject")]))
    with pytest.raises(ReviewError, match="needs the corrected reply"):
        read_marks(write(tmp_path / "r.jsonl", [mark("s1", "fix", "typo")]))


def test_apply_rejects_and_fixes():
    marks = [mark("s0", "keep"), mark("s1", "reject", "wrong id"), mark("s2", "fix", "rude", "A2, politely."),
             mark("p0", "fix", "better", "great", s="preference")]
    sets, rejected, pairs = apply_marks(SETS, marks)
    assert [r["id"] for r in sets["sft"]] == ["s0", "s2", "s3"] and rejected[0][:1] == ("sft",)
    assert rejected[0][1]["id"] == "s1" and rejected[0][2] == "wrong id"
    assert sets["sft"][1]["messages"][-1]["content"] == "A2, politely."
    assert pairs[0]["chosen"][0]["content"] == "A2, politely." and pairs[0]["rejected"][0]["content"] == "A2"
    assert pairs[0]["rule"] == "human_edit" and pairs[0]["prompt"] == [{"role": "user", "content": "Q2"}]
    assert sets["preference"][0]["chosen"][0]["content"] == "great"
    assert SFT[2]["messages"][-1]["content"] == "A2"          # the input is not modified


def test_review_gate(tmp_path):
    required = ReviewParams(required=True, max_reject_share=0.25)
    assert review_gate(None, V, required)["passed"] is False
    assert review_gate(None, V, ReviewParams())["passed"] is True
    ok = write(tmp_path / "2026-12-03.jsonl", [mark("s0", "keep"), mark("s1", "reject", "x"), mark("s2", "keep"),
                                               mark("s3", "keep")])
    assert review_gate(ok, V, required) == {"passed": True, "reason": None, "file": ok.name, "rejected_share": 0.25}
    stale = review_gate(ok, "another-version", required)
    assert stale["passed"] is False and "the data is now another-version" in stale["reason"]
    assert review_gate(ok, "another-version", ReviewParams())["passed"] is True     # not required: a warning
    many = write(tmp_path / "2026-12-04.jsonl", [mark("s0", "reject", "x"), mark("s1", "keep")])
    assert "rejected 50%" in review_gate(many, V, ReviewParams())["reason"]
    assert review_gate(many, V, ReviewParams())["passed"] is False


def test_draw_is_stratified_and_the_page_marks_trained_text():
    sample = draw(SETS, 3, seed=0)
    assert sorted(e["stratum"] for e in sample) == ["preference/chat/real", "sft/chat/real", "sft/refusal/real"]
    html = page(sample, V, "2026-12-03")
    assert html.count('class="rec"') == 3 and "<mark>A3</mark>" in html and V in html and "Save marks" in html


def test_review_data_command_writes_the_page(tmp_path, capsys):
    write_rows(tmp_path / "train" / "sft.parquet", SFT, SFT_EXAMPLE)
    write_rows(tmp_path / "train" / "preference.parquet", PAIRS, PREFERENCE_PAIR)
    write_rows(tmp_path / "train" / "kto.parquet", [], KTO_EXAMPLE)
    assert data_version(load_sets(tmp_path / "train")) == V
    assert main(["review-data", "--train", str(tmp_path / "train"), "--n", "2", "--seed", "1",
                 "--out", str(tmp_path / "review.html"), "--date", "2026-12-03"]) == 0
    assert (tmp_path / "review.html").read_text().count('class="rec"') == 2
    assert "reviews/2026-12-03.jsonl" in capsys.readouterr().out


CLICKS = """<script>
// a real download keeps headless Chromium open (it waits on the file); record the request instead
window.__downloads = [];
HTMLAnchorElement.prototype.click = function () { window.__downloads.push(this.download); document.title = 'saved ' + this.download; };
const recs = document.querySelectorAll('.rec');
recs[0].querySelector('input[value=keep]').click();
recs[1].querySelector('input[value=reject]').click(); recs[1].querySelector('.reason').value = 'wrong id';
recs[2].querySelector('input[value=fix]').click(); recs[2].querySelector('.reason').value = 'terse';
recs[2].querySelector('.fix').value = 'A fixed reply.';
document.getElementById('save').click();
</script>"""


def test_review_page_in_headless_chromium(tmp_path):
    """The page in a real browser: marks made by clicking, saved by the Save button, applied as mix applies them."""
    import html as htmllib
    import re
    import subprocess

    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine: the click-through test of the review page needs one")
    sample = draw(SETS, 3, seed=0)
    (tmp_path / "review.html").write_text(page(sample, V, "2026-12-03") + CLICKS)
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (tmp_path / "review.html").as_uri()], capture_output=True, text=True, timeout=90).stdout
    assert "<title>saved 2026-12-03.jsonl</title>" in dom, "the Save button did not ask for the download"
    saved = htmllib.unescape(re.search(r'<textarea id="out" readonly="">(.*?)</textarea>', dom, re.S).group(1))
    marks = write(tmp_path / "2026-12-03.jsonl", [json.loads(line) for line in saved.splitlines() if line.strip()])
    marks = read_marks(marks)
    assert [m["mark"] for m in marks] == ["keep", "reject", "fix"] and {m["data_version"] for m in marks} == {V}
    sets, rejected, pairs = apply_marks(SETS, marks)
    assert [r[1]["id"] for r in rejected] == [sample[1]["row"]["id"]] and rejected[0][2] == "wrong id"
    fixed = sample[2]
    if fixed["set"] == "sft":
        assert pairs and pairs[0]["chosen"][0]["content"] == "A fixed reply."
    else:
        assert next(r for r in sets[fixed["set"]] if r["id"] == fixed["row"]["id"])["chosen"][0]["content"] == "A fixed reply."
