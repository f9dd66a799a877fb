"""The tiny base model's tokenizer: byte-level BPE trained on the curated text, plus the chat template.

Byte-level, so any text (ids, JSON, emoji) round-trips with no unknown token. The chat template wraps
assistant content in `{% generation %}` markers with the EOS token *inside* them, so TRL's
assistant-only loss also trains the model to stop. Not for Hub tokenizers: those bring their own.
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
END = "<|end|>"  # ends a non-assistant turn; the assistant's turn ends with EOS, so generation stops there
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
SPECIAL_TOKENS = [BOS, EOS, PAD, END, *ROLE_TOKENS]

# One line per turn header; the assistant's content and its EOS are the only trained span.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}\n"
    "{% else %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def digit_splitter(group: int) -> pre_tokenizers.PreTokenizer:
    """Digit runs cut into pieces of at most `group` digits, left to right (2: 94410 -> 94 41 0)."""
    if group == 1:
        return pre_tokenizers.Digits(individual_digits=True)
    return pre_tokenizers.Split(Regex(rf"\d{{1,{group}}}"), behavior="isolated")


def with_number_tokens(bpe: Tokenizer, group: int) -> Tokenizer:
    """`bpe` plus every digit string of 2..`group` digits as one token (appended merges, digit-only).

    With digit runs pre-split into pieces of at most `group` digits, every piece is then ONE token, and
    every such token exists whether or not the corpus had it: an id never seen in training is still a
    distinct token (PRJ-6763: PRJ - 6763) that an attention head can copy in one step, its embedding
    tied to the output so a copied token can be predicted. Merges only join digits, so the rest of the
    vocabulary tokenizes exactly as before.
    """
    import itertools
    import json

    spec = json.loads(bpe.to_str())
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    as_pair = (lambda m: tuple(m)) if merges and isinstance(merges[0], list) else (lambda m: tuple(m.split(" ")))
    # drop the learned digit merges, then add them all back systematically (below)
    merges[:] = [m for m in merges if not all(side.isdigit() for side in as_pair(m))]
    known = {as_pair(m) for m in merges}
    for width in range(2, group + 1):
        for digits in itertools.product("0123456789", repeat=width):
            piece = "".join(digits)
            if piece not in vocab:
                vocab[piece] = len(vocab) + len(spec.get("added_tokens", []))
            for cut in range(1, width):  # every split: whatever order BPE merges in, it ends at one token
                pair = (piece[:cut], piece[cut:])
                if pair not in known:
                    merges.append(list(pair) if merges and isinstance(merges[0], list) else " ".join(pair))
                    known.add(pair)
    # ids must stay dense: renumber the model vocabulary after the special (added) tokens
    specials = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    ordered = sorted((i, t) for t, i in vocab.items() if t not in specials)
    base = max(specials.values(), default=-1) + 1
    spec["model"]["vocab"] = {**{t: i for t, i in specials.items() if t in vocab},
                              **{t: base + k for k, (_, t) in enumerate(ordered)}}
    return Tokenizer.from_str(json.dumps(spec))


def train_tokenizer(texts: Iterable[str], vocab_size: int, *, padding_side: str = "left",
                    model_max_length: int = 512, digit_group: int = 1,
                    all_numbers: bool = False) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on `texts` and wrap it with the special tokens and chat template.

    Digit runs are cut into pieces of at most `digit_group` digits before BPE, so an id is a few
    familiar number tokens (PRJ-7736: PRJ - 7 7 3 6 with 1, PRJ - 77 36 with 2) that the model sees
    thousands of times: copying an id it has never seen is a sequence of familiar copies, not one rare
    token. Pairs (100 tokens) make each copy step unambiguous where single digits (10) are not: the
    digit after a "7" could be any of the ids' digits that follow a 7, the piece after "77" is one.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([digit_splitter(digit_group),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        # every byte is in the vocabulary even if the corpus lacks it, so nothing is ever unknown
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(sorted(texts), trainer)  # sorted: same corpus in any order -> same merges
    if all_numbers:
        bpe = with_number_tokens(bpe, digit_group)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens=[END, *ROLE_TOKENS],
        # passed to the constructor because setting it afterwards is not saved with the tokenizer;
        # left padding keeps a batch of prompts flush against the tokens they generate
        padding_side=padding_side,
        model_max_length=model_max_length,
        chat_template=CHAT_TEMPLATE,
    )
