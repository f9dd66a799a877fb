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


def test_max_records_and_turns_bound_each_chat():
    corpus = SkillsCorpus(2, max_records=1, max_turns=6)
    for _ in range(100):
        records, _, turns = corpus.chat()
        assert len(records) == 1 and len(turns) <= 6
    assert max(len(SkillsCorpus(2, max_turns=6).chat()[2]) for _ in range(50)) > 4
    corpus.max_records = 4  # what pretrain_skills' curriculum does as training goes
    assert {len(corpus.chat()[0]) for _ in range(200)} == {2, 3, 4}


def test_json_tables_put_the_id_first_or_after_fields_it_owns():
    rows = SkillsCorpus(0).rows(400)
    json_rows = [r for r in rows if ': {"' in r.split("<|end|>")[0]]
    first = sum('[{"id":' in r for r in json_rows)
    assert 0 < first < len(json_rows)  # sometimes sorted / shuffled: a value may precede its record's id


class _Echo:
    """A stand-in model whose greedy reply is a fixed text per prompt (what `probe` scores)."""

    def __init__(self, tokenizer, replies):
        self.tok, self.replies, self.calls = tokenizer, replies, 0

    def generate(self, input_ids, attention_mask, **_):
        import torch

        out = []
        for row in input_ids:
            reply = self.tok(self.replies[self.calls], add_special_tokens=False)["input_ids"]
            self.calls += 1
            out.append(row.tolist() + reply)
        width = max(len(r) for r in out)
        return torch.tensor([r + [self.tok.pad_token_id] * (width - len(r)) for r in out])


def test_probe_scores_copied_ids_values_and_absent_answers():
    from logtune.base.skills import probe, probe_set

    cases = probe_set(7, n=12)
    assert any(c[2] is None for c in cases) and any(c[2] is not None for c in cases)
    assert all(c[0].endswith("<|assistant|>\n") and c[1] in c[0] for c in cases)
    tok = train_tokenizer(SkillsCorpus(0).rows(200), vocab_size=400)
    right = [f"{i} is {v}." if v is not None else f"There is no {i}." for _, i, v in cases]
    scores = probe(_Echo(tok, right), tok, cases, batch_size=5)
    assert scores["answer_ok"] == 1.0 and scores["absent_ok"] == 1.0
    wrong = [f"{i} is nothing." if v is not None else "ZZ-12 is there." for _, i, v in cases]
    scores = probe(_Echo(tok, wrong), tok, cases, batch_size=5)
    assert scores["id_copied"] == 1.0 and scores["value_copied"] == 0.0 and scores["absent_ok"] == 0.0


def test_curriculum_grows_tables_from_one_record_in_equal_stages():
    from logtune.base.skills import curriculum_records

    assert [curriculum_records(s, 4, 1200) for s in (1, 400, 401, 800, 801, 1200, 1201, 5000)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert curriculum_records(1, 5, 0) == 5  # no curriculum: the full range from the start
