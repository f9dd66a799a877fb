"""The generic skills corpus (logtune.base.skills): deterministic, copy-only answers, no golden or sample text."""

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("faker", reason="the skills corpus draws its words from Faker (pip install faker==40.63.0)")

from logtune.base.skills import SkillsCorpus, answer_mask, batch  # noqa: E402
from logtune.base.tokenizer import train_tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_same_rows_other_seed_other_rows():
    assert SkillsCorpus(3).rows(50) == SkillsCorpus(3).rows(50)
    assert SkillsCorpus(3).rows(50) != SkillsCorpus(4).rows(50)


def test_every_answer_copies_its_id_and_the_asked_value_or_says_the_id_is_absent():
    corpus = SkillsCorpus(0)
    seen_absent = seen_present = 0
    for _ in range(300):
        records, fields, turns = corpus.chat()
        for question, answer, record, field in turns:
            assert field in fields
            if record is None:  # an id shaped like the table's that no record has
                (asked,) = re.findall(r"\b[A-Z]{2,5}-\d{2,6}\b", question)
                assert asked in answer and all(r["id"] != asked for r in records)
                seen_absent += 1
            else:
                assert record in records and record["id"] in answer and record[field] in answer
                seen_present += 1
    assert seen_absent > 50 and seen_present > 300


def test_rows_render_the_table_and_every_turn():
    corpus, copy = SkillsCorpus(5), SkillsCorpus(5)
    row = corpus.row()
    records, _, turns = copy.chat()
    assert all(r["id"] in row.split("<|user|>")[0] for r in records)
    assert row.count("<|assistant|>") == len(turns) and row.startswith("<|system|>")
    assert not row.endswith("<|eos|>")  # the batcher adds it


def test_no_golden_question_id_or_sample_template_in_the_corpus():
    rows = "\n".join(SkillsCorpus(0).rows(2000))
    golden = [json.loads(line) for line in (ROOT / "golden" / "golden.jsonl").read_text().splitlines() if line]
    for case in golden:
        for m in case["messages"]:
            if m["role"] == "user":
                assert m["content"] not in rows
        for rec in (case.get("context") or {}).get("records", []):
            assert rec["id"] not in rows
    from logtune.sample import db

    templates = [*db.PI_QUESTIONS, *db.OTHER_RECORD_FOLLOWUPS,
                 *(t for group in (db.QUESTIONS, db.FOLLOWUPS, db.ABSENT_FIELDS) for ts in group.values() for t in ts)]
    assert len(templates) > 50
    for t in templates:
        assert re.search(re.escape(t).replace(r"\{ref\}", r"\S+").replace(r"\{kind\}", r"\w+"), rows) is None
    # ids: random 2-5 letter prefixes (the sample's PRJ/SMP/ORD only by chance), not a few memorisable shapes
    assert len(set(re.findall(r"\b([A-Z]{2,5})-\d{2,6}\b", rows))) > 1000


def test_answer_mask_covers_reply_tokens_and_eos_only():
    corpus = SkillsCorpus(0).rows(40)
    tok = train_tokenizer(corpus, vocab_size=400, digit_group=4, all_numbers=True)
    ids, mask, target = batch(corpus[:4], tok, 512)
    text = tok.decode(ids[0][target[0]].tolist())
    assert "<|user|>" not in text and "<|system|>" not in text and text.endswith("<|eos|>")
    first = corpus[0].split("<|assistant|>\n")[1].split("<|eos|>")[0]
    assert text.startswith(first)
    assert answer_mask([5, 9, 1, 2, 3, 7, 4], assistant_id=9, eos_id=7) == [False, False, False, True, True, True, False]
