"""`logtune preview`: SFT examples as the trainer sees them, chat-templated, with the trained tokens marked.

The command's argv and defaults (the repository's data/train/sft.parquet, models/base and params.yaml);
the rendering is `logtune.train.preview`, the settings the `sft` section parsed as the stage parses it
(`logtune.train.config.parse_sft`), so max_length and the loss masks are the trainer's own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logtune.commandline import CliError, repo_path, repo_root


def preview(args: argparse.Namespace) -> int:
    """Print SFT examples as the trainer sees them: chat-templated text with the trained tokens marked."""
    import tempfile

    from logtune.io import read_rows
    from logtune.params import read_params
    from logtune.train.config import parse_sft
    from logtune.train.preview import preview as preview_blocks

    data, model = repo_path(args.data, "data/train/sft.parquet"), repo_path(args.model, "models/base")
    if not data.is_file():
        raise CliError(f"{data}: no such file (run `dvc repro mix` or pass --data)")
    if not model.is_dir():
        raise CliError(f"{model}: no such model folder (run `dvc repro base` or pass --model)")
    params_path = args.params if args.params is not None else repo_root() / "params.yaml"
    section = read_params(params_path).get("sft") if params_path.is_file() else None
    with tempfile.TemporaryDirectory() as out:  # SFTConfig wants an output dir; nothing is written to it
        config = parse_sft(section, out).args   # the trainer's own settings, defaults included
    from transformers import AutoTokenizer

    from logtune.chat_templates import ChatTemplateError, require_markers

    tokenizer = AutoTokenizer.from_pretrained(model)
    try:
        require_markers(tokenizer, f"preview --model {model}")
    except ChatTemplateError as e:
        raise CliError(str(e)) from None
    blocks = preview_blocks(read_rows(data), tokenizer, n=args.n, seed=args.seed, color=sys.stdout.isatty(),
                            max_length=config.max_length, truncation_mode=config.truncation_mode,
                            completion_only_loss=config.completion_only_loss is not False,
                            assistant_only_loss=bool(config.assistant_only_loss))
    print("\n\n".join(blocks))
    return 0


PREVIEW_ARGS = (
    (("--data",), dict(type=Path, help="SFT examples Parquet (default: the repo's data/train/sft.parquet)")),
    (("--model",), dict(type=Path, help="model folder whose tokenizer and chat template to use "
                                        "(default: the repo's models/base)")),
    (("--n",), dict(type=int, default=5, help="examples to show (default: 5)")),
    (("--seed",), dict(type=int, default=0, help="which examples: the sample's seed (default: 0)")),
    (("--params",), dict(type=Path, help="params.yaml whose `sft` section sets max_length and the loss masks "
                                         "(default: the repo's params.yaml)")),
)
