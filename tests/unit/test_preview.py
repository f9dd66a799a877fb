"""logtune.train.preview: exactly the last assistant reply (and its EOS) is marked as trained, as TRL trains it.

The tokenizer is the repo's own tiny byte-level BPE with its chat template, trained here on a few
lines (as tests/unit/test_train_tokenizer.py does); nothing is downloaded.
"""

from __future__ import annotations

import pytest

from logtune.train.preview import OPEN, CLOSE, prepare_example, preview, render, sample_rows, summary
from logtune.base.tokenizer import train_tokenizer

TEXTS = ["PRJ-1042 is in progress.", "Who owns SMP-64804?", "It is due on 2026-01-01."] * 5
ROW = {
    "id": "sft-1",
    "messages": [
        {"role": "system", "content": "Answer from CONTEXT only."},
        {"role": "user", "content": "Status of PRJ-1042?"},
        {"role": "assistant", "content": "PRJ-1042 is in progress."},
        {"role": "user", "content": "And when is it due?"},
        {"role": "assistant", "content": "It is due on 2026-01-01."},
    ],
}


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300)


def test_only_the_last_assistant_reply_and_its_eos_are_trained(tok):
    example = prepare_example(ROW, tok)
    trained = [t for t, m in zip(example.input_ids, example.trained) if m]
    assert tok.decode(trained) == "It is due on 2026-01-01." + tok.eos_token


def test_render_wraps_exactly_the_last_reply(tok):
    text = render(prepare_example(ROW, tok), tok)
    assert text.count(OPEN) == 1 and text.count(CLOSE) == 1
    assert f"{OPEN}It is due on 2026-01-01.{tok.eos_token}{CLOSE}" in text
    assert "PRJ-1042 is in progress." in text and f"{OPEN}PRJ-1042" not in text  # history: shown, not trained


def test_truncation_at_max_length_is_reported_and_cuts_the_reply(tok):
    full = prepare_example(ROW, tok)
    short = prepare_example(ROW, tok, max_length=len(full.input_ids) - 3)
    assert short.truncated and len(short.input_ids) == len(full.input_ids) - 3
    assert short.trained_tokens == full.trained_tokens - 3
    assert "truncated at max_length=" in summary(short) and "(3 tokens cut)" in summary(short)


def test_truncation_before_the_reply_leaves_nothing_trained(tok):
    example = prepare_example(ROW, tok, max_length=5)
    assert example.trained_tokens == 0
    assert "NO trained tokens" in summary(example)


def test_template_without_generation_markers_marks_nothing(tok):
    plain = train_tokenizer(TEXTS, vocab_size=300)
    plain.chat_template = plain.chat_template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    example = prepare_example(ROW, plain)
    assert example.trained_tokens == 0  # the silent all-zero mask, made visible


def test_summary_names_id_tokens_and_trained_tokens(tok):
    example = prepare_example(ROW, tok, max_length=512)
    assert summary(example) == (f"sft-1: {len(example.input_ids)} tokens, {example.trained_tokens} trained, "
                                f"not truncated (max_length=512)")


def test_record_not_ending_on_an_assistant_reply_is_an_error(tok):
    row = {"id": "bad", "messages": ROW["messages"][:2]}
    with pytest.raises(ValueError, match="bad: last message must be the assistant reply"):
        prepare_example(row, tok)


def test_sample_is_seeded_and_capped(tok):
    rows = [{"id": str(i)} for i in range(10)]
    assert sample_rows(rows, 3, seed=0) == sample_rows(rows, 3, seed=0)
    assert len(sample_rows(rows, 3, seed=0)) == 3
    assert sample_rows(rows[:2], 5, seed=0) == rows[:2]


def test_preview_blocks_start_with_the_summary_line(tok):
    (block,) = preview([ROW], tok, n=5)
    assert block.startswith("=== sft-1: ")
