"""The encoder-decoder path (seed 001, issue #18): a tiny T5 base, Seq2SeqTrainer + LoRA through the three
curriculum phases in order, generation and scoring of its replies.

The base is a 1+1-layer, 32-wide T5 pre-trained for a few seconds on the training fixtures' conversations
(tests/fixtures/train): enough for LoRA to have something to move. The SFT records are literal, below:
two per phase, so each phase has its own loss curve.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from logtune.base.t5 import (SEQ2SEQ_TEMPLATE, T5Params, build_t5_base, build_tiny_t5, build_tokenizer, copy_pretrained_t5,
                             next_reply_pairs, prefix_lm, seq2seq_params, span_corruption)
from logtune.base.tiny import pretraining_corpus
from logtune.base.tiny import PretrainParams
from logtune.generate import generate_replies, prompt_token_ids
from logtune.models import is_encoder_decoder, load_model, read_marker
from logtune.params import ParamsError
from logtune.train.seq2seq import parse_seq2seq, seq2seq_records, train_seq2seq
from tests.unit.tiny_training import rows

SYSTEM = ("You are the iSPEC support assistant. Answer from CONTEXT only; never invent ids.\nCONTEXT: "
          '{"records":[{"id":"PRJ-1042","owner":"Ethan Ivanova","status":"in progress","title":"Plasma interactome map"}]}')
TINY_T5 = T5Params(vocab_size=320, d_model=32, d_ff=64, d_kv=16, num_layers=1, num_decoder_layers=1, num_heads=2,
                   relative_attention_num_buckets=8, max_length=256, sentinels=8,
                   pretrain=PretrainParams(batch_size=2, epochs=20, learning_rate=1e-2, warmup_steps=2))
SFT = {"seed": 0, "learning_rate": 2e-2, "lr_scheduler_type": "constant", "max_steps": 12,
       "per_device_train_batch_size": 2, "max_length": 256, "logging_steps": 1, "disable_tqdm": True,
       "lora": {"r": 8, "lora_alpha": 16},
       "curriculum": {"mode": "phased", "phases": ["extractive", "conversational", "refusals"], "replay": 0.0},
       "seq2seq": {"max_target_length": 32}}


def chat(question: str, reply: str, history: tuple[str, str] | None = None) -> list[dict[str, str]]:
    turns = [{"role": "user", "content": history[0]}, {"role": "assistant", "content": history[1]}] if history else []
    return [{"role": "system", "content": SYSTEM}, *turns, {"role": "user", "content": question},
            {"role": "assistant", "content": reply}]


# Two literal examples per phase, listed out of phase order (refusals first) so the order must come from the curriculum.
RECORDS = [
    {"id": "r1", "phase": "refusals", "messages": chat("What is the status of PRJ-9999?",
                                                        "I can't find PRJ-9999 in the records I have.")},
    {"id": "r2", "phase": "refusals", "messages": chat("Who owns SMP-4711?", "I can't find SMP-4711 in the records I have.")},
    {"id": "e1", "phase": "extractive", "messages": chat("Owner of PRJ-1042?", "Ethan Ivanova")},
    {"id": "e2", "phase": "extractive", "messages": chat("Status of PRJ-1042?", "in progress")},
    {"id": "v1", "phase": "conversational", "messages": chat(
        "And who owns it?", "Ethan Ivanova owns PRJ-1042.",
        history=("What is the status of PRJ-1042?", "PRJ-1042 (Plasma interactome map) is in progress."))},
    {"id": "v2", "phase": "conversational", "messages": chat("What is PRJ-1042 about?",
                                                             "PRJ-1042 is the Plasma interactome map.")},
]


@pytest.fixture(scope="module")
def t5_base(tmp_path_factory):
    path = tmp_path_factory.mktemp("t5") / "base"
    metrics = build_t5_base(rows("conversations.jsonl"), path, TINY_T5, seed=0, log=lambda _: None)
    return path, metrics


def test_tiny_t5_base_is_an_encoder_decoder_with_the_flattening_template(t5_base):
    path, metrics = t5_base
    assert metrics["architecture"] == "seq2seq" and metrics["loss_last"] < metrics["loss_first"]
    assert read_marker(path)["kind"] == "full" and is_encoder_decoder(path)
    model, tok = load_model(path)
    assert model.config.is_encoder_decoder and model.config.decoder_start_token_id == tok.pad_token_id
    assert (path / "chat_template.jinja").read_text() == SEQ2SEQ_TEMPLATE
    text = tok.apply_chat_template(RECORDS[4]["messages"][:-1], add_generation_prompt=True, tokenize=False)
    # seed 004's flattening: one `Role: content` line per turn, the history's reply ended by EOS, then the cue
    assert text.startswith("System: You are the iSPEC") and text.endswith(
        "User: What is the status of PRJ-1042?\nAssistant: PRJ-1042 (Plasma interactome map) is in progress.<|eos|>\n"
        "User: And who owns it?\nAssistant:")


def test_records_are_input_output_pairs_of_history_and_reply(t5_base):
    _, tok = load_model(t5_base[0])
    records = seq2seq_records(RECORDS[4:5], tok)
    assert records[0]["output"] == "Ethan Ivanova owns PRJ-1042."
    assert "And who owns it?" in records[0]["input"] and "Ethan Ivanova owns" not in records[0]["input"]
    with pytest.raises(ValueError, match="x1: last message must be the assistant reply"):
        seq2seq_records([{"id": "x1", "messages": RECORDS[0]["messages"][:-1]}], tok)


def test_three_phases_in_curriculum_order_loss_falls_in_each(t5_base, tmp_path):
    base, _ = t5_base
    said: list[str] = []
    metrics = train_seq2seq(base, RECORDS, tmp_path / "sft", SFT, echo=said.append)
    order = ["extractive", "conversational", "refusals"]
    assert metrics["phases_run"] == order and list(metrics["phases"]) == order
    assert [line.split("phase ")[1].split(":")[0] for line in said] == order   # trained in that order
    assert metrics["architecture"] == "seq2seq" and metrics["examples_trained"] == len(RECORDS)
    for name in order:
        phase = metrics["phases"][name]
        assert phase["examples"] == 2 and phase["steps"] == SFT["max_steps"]
        assert math.isfinite(phase["loss_first"]) and phase["loss_last"] < phase["loss_first"], (name, phase)
    adapter = json.loads((tmp_path / "sft" / "adapter_config.json").read_text())
    assert adapter["task_type"] == "SEQ_2_SEQ_LM" and set(adapter["target_modules"]) == {"q", "k", "v", "o", "wi", "wo"}
    assert read_marker(tmp_path / "sft")["kind"] == "adapter" and is_encoder_decoder(tmp_path / "sft")
    # sft.export_merged: the adapter folded into its T5 base, a full model that loads as one
    from logtune.train.merge import export_merged
    export_merged(tmp_path / "sft", tmp_path / "merged")
    merged, _ = load_model(tmp_path / "merged")
    assert read_marker(tmp_path / "merged")["kind"] == "full" and merged.config.is_encoder_decoder


def test_a_later_phase_continues_the_earlier_adapter(t5_base, tmp_path):
    """Phase 2 starts where phase 1 ended: the two-phase adapter differs from one trained on phase 2 alone."""
    base, _ = t5_base
    two = {**SFT, "curriculum": {"mode": "phased", "phases": ["extractive", "refusals"], "unlisted": "reject"}}
    one = {**SFT, "curriculum": {"mode": "phased", "phases": ["refusals"], "unlisted": "reject"}}
    m2 = train_seq2seq(base, RECORDS, tmp_path / "two", two, echo=lambda _: None)
    train_seq2seq(base, RECORDS, tmp_path / "one", one, echo=lambda _: None)
    assert m2["examples_rejected"] == {"phase_not_listed": 2}
    from safetensors.torch import load_file
    a, b = (load_file(tmp_path / d / "adapter_model.safetensors") for d in ("two", "one"))
    assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)


def test_generate_and_score_golden_cases_on_the_seq2seq_adapter(t5_base, tmp_path):
    """evaluate's own path (generate_for_dir -> generate_replies, score_case) on an encoder-decoder adapter."""
    from logtune.evaluate.metrics import aggregate
    from logtune.evaluate.run import EvaluateParams, check_chat_template, evaluate_model
    from logtune.golden.contract import read_golden
    from pathlib import Path

    base, _ = t5_base
    train_seq2seq(base, RECORDS, tmp_path / "sft", {**SFT, "max_steps": 30}, echo=lambda _: None)
    golden = Path(__file__).resolve().parents[2] / "golden" / "golden.jsonl"
    cases = read_golden(golden)[:4]
    assert check_chat_template(tmp_path / "sft") is not None   # adapter and base share the flattening template
    params = EvaluateParams(max_new_tokens=12, batch_size=2)
    results = evaluate_model("sft", tmp_path / "sft", cases, params, system_prompt=None, log=None)
    assert [r["case_id"] for r in results] == [c.id for c in cases]
    for r in results:
        assert isinstance(r["reply"], str) and "<extra_id" not in r["reply"] and "<|pad|>" not in r["reply"]
        assert json.loads(r["scores"])["accuracy"] in (0.0, 1.0) and r["model"] == "sft"
    summary = aggregate(results)["sft"]            # the same metrics the causal candidate gets, every one present
    assert summary["n_cases"] == 4 and {"accuracy", "hallucinated_id_rate", "refusal_accuracy", "token_f1"} <= set(summary)
    # the reply is the decoder's output alone: a trained example's prompt gets its reply back, not the prompt
    model, tok = load_model(tmp_path / "sft")
    reply = generate_replies(model, tok, [RECORDS[2]["messages"][:-1]], max_new_tokens=8, batch_size=1, log=None)[0]
    assert "System:" not in reply and "CONTEXT" not in reply
    assert len(prompt_token_ids(tok, RECORDS[2]["messages"][:-1])) > 8


def test_span_corruption_and_prefix_lm_hide_and_return_every_token():
    import random

    ids = list(range(100, 140))
    source, target = span_corruption(ids, random.Random(0), 0.15, 3.0, sentinels=[1, 2, 3, 4], eos=9)
    assert source[-1] == target[-1] == 9 and 1 in source and target[0] == 1
    # putting each span back where its sentinel stands gives the text again
    spans, current = {}, None
    for t in target[:-1]:
        if t in (1, 2, 3, 4):
            current = t
            spans[t] = []
        else:
            spans[current].append(t)
    restored = [x for t in source[:-1] for x in (spans[t] if t in spans else [t])]
    assert restored == ids and 0 < sum(len(v) for v in spans.values()) < len(ids)
    head, tail = prefix_lm(ids, random.Random(0), eos=9)
    assert head[:-1] + tail[:-1] == ids and 10 <= len(head) - 1 <= 30


def test_next_reply_pairs_are_each_logged_reply_after_its_flattened_history():
    conversations = rows("conversations.jsonl")
    tok = build_tokenizer(pretraining_corpus(conversations), TINY_T5)
    pairs = next_reply_pairs(conversations, tok, TINY_T5)
    replies = [m["content"] for c in sorted(conversations, key=lambda c: c["id"]) for m in c["messages"]
               if m["role"] == "assistant"]
    assert len(pairs) == len(replies) == 5     # c2 has two replies: the second one's history holds the first
    for (source, target), reply in zip(pairs, replies):
        assert target[-1] == tok.eos_token_id and tok.decode(target[:-1]) == reply
        text = tok.decode(source)
        assert text.endswith("Assistant:") and "User: " in text and reply not in text
    second = tok.decode(pairs[2][0])
    assert replies[1] in second and second.count("Assistant:") == 2


def test_a_local_t5_checkpoint_is_copied_in_with_the_flattening_template(tmp_path):
    """base.model: PATH with base.architecture seq2seq: a plain save_pretrained T5 folder (no logtune marker, its
    own tokenizer without our template) becomes a logtune model folder; a causal checkpoint is refused."""
    from tests.unit.tiny_training import tiny_base

    tok = build_tokenizer(pretraining_corpus(rows("conversations.jsonl")), TINY_T5)
    tok.chat_template = None
    build_tiny_t5(tok, TINY_T5, seed=0).save_pretrained(tmp_path / "ckpt")
    tok.save_pretrained(tmp_path / "ckpt")
    metrics = copy_pretrained_t5(tmp_path / "ckpt", tmp_path / "base")
    assert metrics["architecture"] == "seq2seq" and metrics["params"] > 0
    model, copied = load_model(tmp_path / "base")
    assert model.config.is_encoder_decoder and copied.chat_template == SEQ2SEQ_TEMPLATE
    with pytest.raises(ParamsError, match="not an encoder-decoder checkpoint"):
        copy_pretrained_t5(tiny_base(tmp_path / "llama"), tmp_path / "other")


def test_params_architecture_and_sft_seq2seq_are_checked(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("base: {model: tiny, architecture: seq2seq, t5: {d_model: 64}}\n")
    assert seq2seq_params(p).architecture == "seq2seq" and seq2seq_params(p).t5.d_model == 64
    p.write_text("base: {architecture: encoder}\n")
    with pytest.raises(ParamsError, match="base.architecture"):
        seq2seq_params(p)
    p.write_text("base: {architecture: seq2seq, t5: {dmodel: 64}}\n")
    with pytest.raises(ParamsError, match="base.t5.*dmodel"):
        seq2seq_params(p)
    with pytest.raises(ParamsError, match="sft.seq2seq.*max_source"):
        parse_seq2seq({**SFT, "seq2seq": {"max_source": 3}}, tmp_path)
    setup = parse_seq2seq({**SFT, "seq2seq": {"learning_rate": 1e-3, "lora": {"r": 4}}}, tmp_path)
    assert setup.args.learning_rate == 1e-3 and setup.args.max_steps == 12 and setup.lora.r == 4
    assert setup.lora.task_type == "SEQ_2_SEQ_LM" and setup.max_target_length == 128
