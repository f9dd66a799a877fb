from logtune.base.tokenizer import train_tokenizer

TEXTS = ["PRJ-1042 is in progress.", "Who owns SMP-64804?", "I couldn't find PRJ-7101 in the current context."] * 5
CHAT = [
    {"role": "system", "content": "Answer from CONTEXT only."},
    {"role": "user", "content": "Status of PRJ-1042?"},
    {"role": "assistant", "content": "PRJ-1042 is in progress."},
]


def test_chat_template_masks_assistant_content_and_its_eos():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    out = tok.apply_chat_template(CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    trained = [t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(trained) == "PRJ-1042 is in progress." + tok.eos_token
    assert trained[-1] == tok.eos_token_id  # the model learns to stop


def test_generation_prompt_ends_with_assistant_header():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    text = tok.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|user|>\nStatus of PRJ-1042?<|end|>\n<|assistant|>\n")
    assert text.startswith(tok.bos_token + "<|system|>\n")


def test_digits_are_single_tokens_and_text_round_trips():
    tok = train_tokenizer(TEXTS, vocab_size=300)
    ids = tok("PRJ-98765", add_special_tokens=False)["input_ids"]
    assert [tok.decode([i]) for i in ids][-5:] == ["9", "8", "7", "6", "5"]
    assert tok.decode(ids) == "PRJ-98765"
    assert tok.decode(tok("naïve ünïcode ✓")["input_ids"]) == "naïve ünïcode ✓"  # byte-level: nothing unknown


def test_digit_group_cuts_digit_runs_into_pairs_left_to_right():
    texts = TEXTS + [f"{i:02d}" for i in range(100)] * 3  # every pair seen often: BPE learns each as a token
    tok = train_tokenizer(texts, vocab_size=1000, digit_group=2)
    ids = tok("PRJ-98765 due 2026-06-30", add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([i]) for i in ids]
    assert pieces[:5] == ["PRJ", "-", "98", "76", "5"]  # cut left to right; never a piece across a pair boundary
    assert pieces[-5:] == ["26", "-", "06", "-", "30"]
    assert tok.decode(ids) == "PRJ-98765 due 2026-06-30"
    single = train_tokenizer(texts, vocab_size=1000)  # the default: one digit per token
    assert [single.decode([i]) for i in single("PRJ-98765", add_special_tokens=False)["input_ids"]][2:] == list("98765")


def test_padding_side_survives_save_and_reload(tmp_path):
    from transformers import AutoTokenizer

    train_tokenizer(TEXTS, vocab_size=300, padding_side="left").save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.padding_side == "left"
    assert reloaded.pad_token == "<|pad|>" and reloaded.eos_token == "<|eos|>"
    assert "{% generation %}" in reloaded.chat_template


def test_same_corpus_in_any_order_gives_same_vocabulary():
    a = train_tokenizer(TEXTS, vocab_size=300)
    b = train_tokenizer(list(reversed(TEXTS)), vocab_size=300)
    assert a.get_vocab() == b.get_vocab()


def test_all_numbers_makes_every_digit_group_one_token_whatever_the_corpus():
    import itertools

    tok = train_tokenizer(TEXTS, vocab_size=300, digit_group=4, all_numbers=True)
    # 1-4 digit strings, seen or not, leading zeros included: one token each (BPE merges in any order end there)
    for width in (1, 2, 3, 4):
        for digits in itertools.islice(itertools.product("0123456789", repeat=width), 0, None, 7):
            piece = "".join(digits)
            assert len(tok(piece, add_special_tokens=False)["input_ids"]) == 1, piece
    ids = tok("PRJ-6763 SMP-94410 due 2026-06-30", add_special_tokens=False)["input_ids"]
    pieces = [tok.decode([i]) for i in ids]
    assert "6763" in pieces and ["9441", "0"] == pieces[pieces.index("9441"):pieces.index("9441") + 2]
    assert tok.decode(ids) == "PRJ-6763 SMP-94410 due 2026-06-30"
    assert len(tok) >= 11110 and len(set(tok.get_vocab().values())) == len(tok)  # dense, distinct ids
    words = train_tokenizer(TEXTS, vocab_size=300, digit_group=4)  # letters tokenize as without the numbers
    assert tok.tokenize("Who owns it?") == words.tokenize("Who owns it?")
