"""The review queue served by `logtune serve` (issue #17): GET /review renders the page `logtune review-data`
writes, POST /api/review/marks writes reviews/<date>.jsonl as mix reads it; bad, stale and unauthorised marks
are refused and write nothing. A real uvicorn server on 127.0.0.1; the page's Save clicked in headless Chromium."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from logtune.io import write_rows
from logtune.records import KTO_EXAMPLE, PREFERENCE_PAIR, SFT_EXAMPLE
from logtune.review.data import draw, load_sets, page
from logtune.reviews import apply_marks, data_version, latest_review, read_marks
from logtune.serve.config import ServeParams, WorkflowParams
from tests.unit.serve_server import running
from tests.unit.test_reviews import CLICKS   # the same clicks as the static page's test

SFT = [{"id": f"s{i}", "record_type": "chat" if i < 3 else "refusal", "provenance": "real",
        "messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]} for i in range(4)]
PAIRS = [{"id": "p0", "record_type": "chat", "provenance": "real", "prompt": [{"role": "user", "content": "Q"}],
          "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad"}]}]
V = data_version({"sft": SFT, "preference": PAIRS, "kto": []})
DATE = "2026-12-03"


def mark(rid, m, reason=None, fix=None, s="sft", version=V):
    return {"id": rid, "set": s, "mark": m, "reason": reason, "fix": fix, "reviewed_at": DATE, "data_version": version}


@pytest.fixture()
def srv(tmp_path):
    repo = tmp_path / "repo"
    write_rows(repo / "data" / "train" / "sft.parquet", SFT, SFT_EXAMPLE)
    write_rows(repo / "data" / "train" / "preference.parquet", PAIRS, PREFERENCE_PAIR)
    write_rows(repo / "data" / "train" / "kto.parquet", [], KTO_EXAMPLE)
    # file:// pages send Origin "null": the Chromium test below posts from one
    params = replace(ServeParams(), workflow=WorkflowParams(repo=str(repo)), cors_origins=["null"])
    with running(tmp_path, params) as s:
        s.repo = repo
        yield s


def test_the_served_page_is_the_review_data_page_with_save_posting(srv):
    anon = srv.client(None)
    assert anon.get("/review").status_code == 401
    assert anon.get("/review", params={"key": "lt_nope_nope"}).status_code == 401
    resp = anon.get("/review", params={"key": srv.keys["read"], "n": 3, "seed": 0, "date": DATE})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-store"
    sets = load_sets(srv.repo / "data" / "train")
    assert resp.text == page(draw(sets, 3, 0), V, DATE, save_url="/api/review/marks")
    assert srv.client("read").get("/review", params={"n": 3, "date": DATE}).text == resp.text   # a header works too
    assert srv.client("write").get("/review").status_code == 403                              # no read scope
    assert srv.client("read").get("/review", params={"date": "../../etc"}).status_code == 422


def test_marks_are_written_as_mix_reads_them_and_merge_per_record(srv):
    w = srv.client("write")
    resp = w.post("/api/review/marks", json={"date": DATE, "marks": [mark("s0", "keep"), mark("s1", "reject", "wrong id")]})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"file": f"reviews/{DATE}.jsonl", "marks": 2, "received": 2, "rejected": 1, "data_version": V}
    again = w.post("/api/review/marks", json={"date": DATE, "marks": [mark("s1", "keep"), mark("s2", "fix", "terse", "A2!")]})
    assert again.json()["marks"] == 3 and again.json()["rejected"] == 0       # s1's later mark replaced its first
    path = latest_review(srv.repo / "reviews")
    assert path.name == f"{DATE}.jsonl"
    marks = read_marks(path)
    assert {(m["id"], m["mark"]) for m in marks} == {("s0", "keep"), ("s1", "keep"), ("s2", "fix")}
    sets, rejected, pairs = apply_marks({"sft": SFT, "preference": PAIRS, "kto": []}, marks)
    assert rejected == [] and pairs[0]["chosen"][0]["content"] == "A2!" and pairs[0]["rule"] == "human_edit"


def test_bad_stale_or_unauthorised_marks_write_nothing(srv):
    w = srv.client("write")
    bad = [({"date": DATE, "marks": [mark("s1", "reject")]}, 422, "a 'reject' mark needs a reason"),
           ({"date": DATE, "marks": [mark("s1", "fix", "typo")]}, 422, "needs the corrected reply"),
           ({"date": DATE, "marks": [mark("s1", "maybe")]}, 422, "mark"),
           ({"date": DATE, "marks": [mark("s1", "keep", s="dpo")]}, 422, "set"),
           ({"date": "2026-13-45", "marks": [mark("s1", "keep")]}, 422, "month must be in 1..12"),
           ({"date": "../x", "marks": [mark("s1", "keep")]}, 422, "date"),
           ({"date": DATE, "marks": []}, 422, "marks"),
           ({"date": DATE, "marks": [{**mark("s1", "keep"), "extra": 1}]}, 422, "extra"),
           ({"date": DATE, "marks": [mark("s1", "keep", version="0000")]}, 409, "reload the review page")]
    for body, status, text in bad:
        resp = w.post("/api/review/marks", json=body)
        assert resp.status_code == status and text in resp.text, (body, resp.status_code, resp.text)
    assert srv.client("read").post("/api/review/marks", json={"date": DATE, "marks": [mark("s0", "keep")]}).status_code == 403
    assert srv.client(None).post("/api/review/marks", json={"date": DATE, "marks": [mark("s0", "keep")]}).status_code == 401
    assert not (srv.repo / "reviews").exists()


def test_served_page_saves_by_clicking_in_headless_chromium(srv, tmp_path):
    """The served page's own script in a real browser: marks clicked, Save posts them, the service writes the file.
    The page is fetched, the clicks appended and the page opened from a file (so the test can click), its save
    URL made absolute: everything else is the page as served."""
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium on this machine: the click-through test of the served review page needs one")
    served = srv.client("read").get("/review", params={"n": 3, "seed": 0, "date": DATE}).text
    assert '"save_url": "/api/review/marks"' in served
    local = tmp_path / "served.html"
    local.write_text(served.replace('"save_url": "/api/review/marks"', f'"save_url": "{srv.base}/api/review/marks"')
                     + CLICKS)
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000",
                          "--dump-dom", f"{local.as_uri()}?key={srv.keys['write']}"],
                         capture_output=True, text=True, timeout=90).stdout
    status = htmllib.unescape(re.search(r'<span id="status">(.*?)</span>', dom, re.S).group(1))
    assert status == f"3 marks in reviews/{DATE}.jsonl", status
    marks = read_marks(srv.repo / "reviews" / f"{DATE}.jsonl")
    sample = draw(load_sets(srv.repo / "data" / "train"), 3, 0)
    assert [(m["id"], m["mark"]) for m in marks] == [(e["row"]["id"], k) for e, k in zip(sample, ("keep", "reject", "fix"))]
    assert {m["data_version"] for m in marks} == {V} and marks[1]["reason"] == "wrong id"
