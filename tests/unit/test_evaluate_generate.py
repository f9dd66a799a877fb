"""Batched greedy generation: left padding, prompt rendering, replies independent of batching."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from logtune.generate import generate_replies, left_pad, prompt_token_ids
from tests.fixtures.evaluate.tiny_model import save_tiny_model, tiny_tokenizer


def test_left_pad_puts_padding_before_each_prompt():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_prompt_ends_with_the_assistant_header_and_has_one_bos():
    tok = tiny_tokenizer()
    ids = prompt_token_ids(tok, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
    assert tok.decode(ids).endswith("<|assistant|>\n")


def test_replies_do_not_depend_on_batch_size_and_stop_at_eos(tmp_path):
    prompts = [[{"role": "user", "content": "What is the status of PRJ-1042?"}],
               [{"role": "user", "content": "Hi, a much longer question so this prompt needs padding in a batch"}]]
    replies = ["PRJ-1042 is in progress.", "I couldn't find that."]
    model_dir = save_tiny_model(tmp_path / "m", prompts=prompts, replies=replies, steps=80)
    model, tok = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    batched = generate_replies(model, tok, prompts, max_new_tokens=24, batch_size=2, log=None)
    single = generate_replies(model, tok, prompts, max_new_tokens=24, batch_size=1, log=None)
    # exact taught replies: generation stopped at EOS and nothing after it leaked into the text
    assert batched == replies
    assert single == batched


def test_generation_is_deterministic_for_a_random_model(tmp_path):
    model_dir = save_tiny_model(tmp_path / "m")
    model, tok = AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    prompts = [[{"role": "user", "content": "Status?"}], [{"role": "user", "content": "Who owns PRJ-1042?"}]]
    first = generate_replies(model, tok, prompts, max_new_tokens=8, batch_size=2, log=None)
    torch.manual_seed(123)  # a different global RNG state must not change greedy replies
    assert generate_replies(model, tok, prompts, max_new_tokens=8, batch_size=2, log=None) == first
