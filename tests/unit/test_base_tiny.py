import json
from pathlib import Path

import torch

from logtune.prompt import render_system

from logtune.models import load_model
from logtune.base.tiny import (BaseParams, PretrainParams, build_base, TinyModelParams, build_tiny_model, conversation_text, copy_drills,
                               document_batches, pretrain, pretraining_corpus)
from logtune.base.tokenizer import train_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "train"


def conversations():
    return [json.loads(line) for line in (FIXTURES / "conversations.jsonl").read_text().splitlines()]


def test_conversation_text_is_plain_text_with_system_context_and_messages():
    text = conversation_text(conversations()[0])
    c = conversations()[0]
    assert text.splitlines() == [
        *render_system(c["system_prompt"], c["context"]).splitlines(),  # the one layout build and evaluate use
        "What is the status of PRJ-1042?",
        "PRJ-1042 (Plasma interactome map) is in progress.",
    ]
    assert "<|" not in text  # not chat-formatted: SFT is left to teach the format


def test_corpus_is_sorted_by_id_and_skips_missing_context():
    texts = pretraining_corpus(list(reversed(conversations())))
    assert [t.splitlines()[-1] for t in texts][0] == "PRJ-1042 (Plasma interactome map) is in progress."
    assert texts[-1].splitlines()[1] == "Where do I upload a new sample sheet?"  # c4: no CONTEXT line


def test_document_batches_hold_one_conversation_per_row_and_mask_padding():
    tok = train_tokenizer(["abc abc", "de de"] * 3, vocab_size=270)
    (ids, mask, labels), = document_batches(["abc abc", "de"], tok, max_length=64, batch_size=2)
    assert ids[0].tolist() == [tok.bos_token_id, *tok("de")["input_ids"], tok.eos_token_id, tok.pad_token_id,
                               tok.pad_token_id][: ids.shape[1]]  # shorter row first, right-padded
    assert ids[1, 0] == tok.bos_token_id and ids[1, -1] == tok.eos_token_id
    assert labels[0].tolist().count(-100) == int((mask[0] == 0).sum()) > 0  # pads never trained on


def test_copy_drills_ask_fresh_corpus_shaped_keys_and_answer_with_their_values():
    texts = pretraining_corpus(conversations())
    drills = copy_drills(texts, 50, seed=0)
    assert len(drills) == 50 and drills == copy_drills(list(reversed(texts)), 50, seed=0)  # seeded, order-free
    corpus = "\n".join(texts)
    for row in drills:
        listing, *asked = row.split("\n")
        pairs = dict(p.split(": ", 1) for p in listing.split("; "))
        assert 2 <= len(pairs) <= 5 and 1 <= len(asked) <= len(pairs)
        for line in asked:
            key, value = line.split(": ", 1)
            assert pairs[key] == value  # the answer is what follows the key in the listing: only copying predicts it
        assert all(k.split("-")[0] in {"PRJ", "SMP", "ORD"} for k in pairs)
        assert all(f'"{v}"' in corpus for v in pairs.values())  # values are CONTEXT strings, never questions or replies
    assert copy_drills(texts, 0, seed=0) == [] and copy_drills(["no ids here"], 5, seed=0) == []


def test_pretraining_lowers_the_loss():
    texts = pretraining_corpus(conversations())
    tok = train_tokenizer(texts, vocab_size=320)
    size = TinyModelParams(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                           intermediate_size=64, max_position_embeddings=128)
    model = build_tiny_model(tok, size, seed=0)
    assert model.config.eos_token_id == tok.eos_token_id and model.config.vocab_size == len(tok)
    stats = pretrain(model, document_batches(texts, tok, 128, 2), PretrainParams(batch_size=2, epochs=8,
                     warmup_steps=2, learning_rate=1e-2), seed=0, log=lambda _: None)
    assert torch.isfinite(torch.tensor(stats["loss_last"])) and stats["loss_last"] < stats["loss_first"] - 1.0


def test_a_local_checkpoint_is_copied_in_as_a_full_model(tmp_path):
    tiny = BaseParams(tiny=TinyModelParams(vocab_size=300, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                           num_key_value_heads=2, intermediate_size=32, max_position_embeddings=64),
                      pretrain=PretrainParams(epochs=1))
    build_base(conversations(), tmp_path / "checkpoint", tiny, log=lambda _: None)

    metrics = build_base([], tmp_path / "base", BaseParams(model=str(tmp_path / "checkpoint")))

    assert metrics["model"] == str(tmp_path / "checkpoint") and metrics["params"] > 0
    model, tok = load_model(tmp_path / "base")
    assert model.config.hidden_size == 16 and "{% generation %}" in tok.chat_template


def test_a_skills_checkpoint_is_continued_on_the_curated_text_with_its_own_tokenizer(tmp_path):
    import pytest

    pytest.importorskip("faker", reason="the skills corpus draws its words from Faker")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from pretrain_skills import main as pretrain_skills

    skills = tmp_path / "skills"
    assert pretrain_skills([str(skills), "--steps", "3", "--batch-size", "2", "--tokenizer-rows", "50",
                            "--bpe-vocab", "300", "--digit-group", "2", "--hidden-size", "16", "--layers", "1",
                            "--heads", "2", "--intermediate-size", "32", "--max-positions", "256",
                            "--save-every", "0"]) == 0
    card = json.loads((skills / "skills.json").read_text())
    assert card["steps"] == 3 and "--steps 3" in card["command"] and len(card["sha256_model_safetensors"]) == 64
    size = TinyModelParams(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                           intermediate_size=32, max_position_embeddings=256, init=str(skills))
    metrics = build_base(conversations(), tmp_path / "base", BaseParams(tiny=size, pretrain=PretrainParams(epochs=1)),
                         log=lambda _: None)
    assert metrics["init"] == str(skills) and metrics["loss_last"] > 0
    model, tok = load_model(tmp_path / "base")
    from transformers import PreTrainedTokenizerFast

    assert tok.get_vocab() == PreTrainedTokenizerFast.from_pretrained(skills).get_vocab()  # its tokenizer, not a new one
    assert "{% generation %}" in tok.chat_template and model.dtype == torch.float32
    assert tok.padding_side == "left" and len(tok("37")["input_ids"]) == 1  # its 2-digit numbers are one token

    more = tmp_path / "more"  # continued for 2 steps: the card counts 5 and names both commands
    assert pretrain_skills([str(more), "--init", str(skills), "--skip-steps", "3", "--steps", "2", "--batch-size", "2",
                            "--max-positions", "256", "--save-every", "0"]) == 0
    card = json.loads((more / "skills.json").read_text())
    assert card["steps"] == 5 and "--skip-steps 3" in card["command"] and "--steps 3" in card["command"]

    with pytest.raises(ValueError, match="hidden_size"):
        build_base(conversations(), tmp_path / "wrong", BaseParams(tiny=TinyModelParams(init=str(skills))),
                   log=lambda _: None)
    with pytest.raises(FileNotFoundError, match="pretrain_skills"):
        build_base(conversations(), tmp_path / "none", BaseParams(tiny=TinyModelParams(init=str(tmp_path / "no"))),
                   log=lambda _: None)
