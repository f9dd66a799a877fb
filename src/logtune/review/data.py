"""`logtune review-data`: a seeded, stratified sample of the mixed training records on an offline review page.

Seed 004's spot-check before training. `--n` records are drawn from `data/train` (sft, preference, kto),
stratified by set, record type and provenance (`logtune.review_page`, shared with `logtune serve` and
the `review` stage: a rare stratum is not drowned), each shown as the trainer sees it: SFT examples through the base model's chat template with
the trained tokens marked (`train.preview`, when `--tokenizer` is given), pairs and KTO examples as
prompt / chosen / rejected. The page (`--out`, one self-contained HTML file, no network) has keep /
reject / fix per record with a reason, and "Save marks" downloads `<date>.jsonl` in the format of
`logtune.reviews` (with this data's `data_version`), to be committed under `reviews/`. The same page is
served by `logtune serve` at GET /review, where Save posts the marks to the service, which writes
`reviews/<date>.jsonl` itself (`logtune.serve.review`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

from logtune.io import atomic_open
from logtune.review_page import current_version, draw, load_sets, page
from logtune.train.preview import prepare_example, render


def sft_renderer(tokenizer: Any) -> Callable[[dict[str, Any]], str] | None:
    """An SFT row through the chat template, trained tokens marked as the trainer masks them (None: no tokenizer)."""
    if tokenizer is None:
        return None
    return lambda row: render(prepare_example(row, tokenizer), tokenizer)


def load_tokenizer(path: Path | None) -> Any:
    """The chat template that marks the trained tokens (None: the plain transcript)."""
    if path is None:
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def command(args) -> int:
    """Write an offline review page for a seeded, stratified sample of the training records."""
    sets = load_sets(args.train)
    sample = draw(sets, args.n, args.seed)
    date = args.date or dt.date.today().isoformat()
    with atomic_open(args.out) as f:
        f.write(page(sample, current_version(args.train, sets), date, sft_renderer(load_tokenizer(args.tokenizer))))
    print(f"review-data: {len(sample)} records on {args.out}; save the marks into reviews/{date}.jsonl")
    return 0


ARGS = (
    (("--train",), dict(type=Path, default=Path("data/train"))),
    (("--n",), dict(type=int, default=100)),
    (("--seed",), dict(type=int, default=0)),
    (("--tokenizer",), dict(type=Path, help="model folder whose chat template marks the trained tokens (models/base)")),
    (("--out",), dict(type=Path, default=Path("data/review/index.html"))),
    (("--date",), dict(help="the review's date (default: today), its file name in reviews/")),
)
