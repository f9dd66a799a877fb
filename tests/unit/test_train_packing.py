"""Packing (TRL `packing: true`, `packing_strategy: bfd`) keeps packed examples apart, and `token_shares`
counts padding and trained tokens on the batches the model sees.

What isolates packed examples on a CPU (no flash-attention): bfd packing turns on TRL's padding-free
collator, which flattens a batch into ONE row with no attention mask, `position_ids` restarting at 0
at each example, and the label of each example's first token set to -100. transformers'
`create_causal_mask` sees position ids that restart with no attention mask and builds a block-diagonal
causal mask from them (`find_packed_sequence_indices`), for sdpa and eager attention alike. So the
logits of a packed example must equal those of the same example run alone: checked here, together
with a control run whose positions do NOT restart (the mask is then plain causal), which must differ.
"""

import json
import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES / "evaluate"))
from tiny_model import save_tiny_model  # noqa: E402

SECTION = {"seed": 0, "max_length": 512, "per_device_train_batch_size": 4, "max_steps": 1, "disable_tqdm": True,
           "lora": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}}


def rows():
    return [json.loads(line) for line in (FIXTURES / "train" / "sft.jsonl").read_text().splitlines()]


def make_trainer(model_dir, tmp, **overrides):
    from trl import SFTTrainer

    from logtune.train.config import parse_sft
    from logtune.models import load_model
    from logtune.train.sft import sft_dataset

    setup = parse_sft({**SECTION, **overrides}, tmp)
    model, tok = load_model(model_dir, trainable=True)
    return SFTTrainer(model=model, args=setup.args, train_dataset=sft_dataset(rows()),
                      processing_class=tok, peft_config=setup.lora)


@pytest.fixture(scope="module")
def trainers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packing")
    model_dir = save_tiny_model(tmp / "tiny")
    return {"packed": make_trainer(model_dir, tmp / "p", packing=True, packing_strategy="bfd"),
            "unpacked": make_trainer(model_dir, tmp / "u", packing=False)}


def test_bfd_packing_is_padding_free_with_positions_restarting_per_example(trainers):
    trainer = trainers["packed"]
    assert trainer.padding_free  # TRL turns padding-free on for bfd: no attention mask, position ids instead
    seq_lengths = [n for row in trainer.train_dataset["seq_lengths"] for n in row]
    assert sorted(seq_lengths) == sorted(len(ids) for ids in trainers["unpacked"].train_dataset["input_ids"])
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    pos = batch["position_ids"][0]
    starts = (pos == 0).nonzero().flatten().tolist()
    bounds = starts + [pos.numel()]
    lengths = [b - a for a, b in zip(bounds, bounds[1:])]
    assert len(starts) == 4 and sorted(lengths) == sorted(seq_lengths)   # every example restarts at 0
    for a, n in zip(starts, lengths):
        assert pos[a:a + n].tolist() == list(range(n))
        assert batch["labels"][0, a] == -100   # no example is trained to predict its first token from the one before


@pytest.mark.parametrize("attention", ["sdpa", "eager"])  # the CPU implementations (flash-attention needs CUDA)
def test_packed_examples_do_not_attend_across_boundaries(trainers, attention):
    trainer = trainers["packed"]
    model = trainer.model.eval()
    model.base_model.model.set_attn_implementation(attention)
    assert model.base_model.model.config._attn_implementation == attention
    batch = next(iter(trainer.get_train_dataloader()))
    ids, pos = batch["input_ids"], batch["position_ids"]
    starts = (pos[0] == 0).nonzero().flatten().tolist() + [ids.shape[1]]
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos).logits[0]
        # control: the same row with positions that never restart is one long causal sequence
        leaky = model(input_ids=ids, position_ids=torch.arange(ids.shape[1])[None]).logits[0]
        for a, b in zip(starts, starts[1:]):
            alone = model(input_ids=ids[:, a:b]).logits[0]
            assert torch.allclose(packed[a:b], alone, atol=1e-5), f"example at {a}:{b} saw its neighbours"
        second = slice(starts[1], starts[2])
        assert not torch.allclose(leaky[second], model(input_ids=ids[:, second]).logits[0], atol=1e-3)


def test_token_shares_counts_padding_and_trained_tokens(trainers):
    from logtune.train.tracking import token_shares

    packed, unpacked = token_shares(trainers["packed"]), token_shares(trainers["unpacked"])
    real = sum(len(ids) for ids in trainers["unpacked"].train_dataset["input_ids"])
    trained = sum(sum(1 for t in lab if t != -100) for lab in trainers["unpacked"].train_dataset["labels"])
    # unpacked: 4 examples of different lengths in one right-padded batch: pads = width * 4 - real
    widths = max(len(ids) for ids in trainers["unpacked"].train_dataset["input_ids"]) * 4
    assert unpacked == {"tokens": widths, "padding_share": round((widths - real) / widths, 6),
                        "trained_share": round(trained / widths, 6)}
    assert unpacked["padding_share"] > 0.05
    assert packed["tokens"] == real and packed["padding_share"] == 0.0
    # packing drops the first-token label of each example (-100): never a reply token, so trained is the same
    assert packed["trained_share"] == round(trained / real, 6)


def test_token_shares_leaves_the_rng_where_it_was(trainers):
    from logtune.train.tracking import token_shares

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    token_shares(trainers["unpacked"])
    assert torch.equal(torch.rand(3), expected)


class FakeTrainer:
    """Just what token_shares reads: the train dataloader (literal batches) and the tokenizer's pad id."""

    def __init__(self, batches, pad_token_id=0):
        self.batches = batches
        self.processing_class = type("Tok", (), {"pad_token_id": pad_token_id})()

    def get_train_dataloader(self):
        return iter(self.batches)


def test_token_shares_on_preference_batches_counts_the_completion_mask():
    from logtune.train.tracking import token_shares

    # a DPO batch: chosen row then rejected row, right-padded; completion_mask marks the scored reply tokens
    dpo = {"input_ids": torch.tensor([[5, 6, 7, 8], [5, 6, 9, 0]]),
           "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
           "completion_mask": torch.tensor([[0, 0, 1, 1], [0, 0, 1, 0]])}
    assert token_shares(FakeTrainer([dpo])) == {"tokens": 8, "padding_share": 0.125, "trained_share": 0.375}


def test_token_shares_counts_the_padding_free_tail_only():
    from logtune.train.tracking import token_shares

    # two packed examples (3 and 2 tokens; the second ends on token 0 = the pad id), then 3 pads to a multiple
    batch = {"input_ids": torch.tensor([[4, 5, 6, 7, 0, 0, 0, 0]]),
             "position_ids": torch.tensor([[0, 1, 2, 0, 1, 0, 0, 0]]),
             "labels": torch.tensor([[-100, 5, 6, -100, 0, -100, -100, -100]])}
    assert token_shares(FakeTrainer([batch])) == {"tokens": 8, "padding_share": 0.375, "trained_share": 0.375}
