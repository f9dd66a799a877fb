"""Token-level facts about SFT examples, as the trainer will see them through the model's chat template.

Training (logtune.train.sft) gives TRL each example as prompt = all but the last message, completion =
the last reply, with an assistant-only loss over the template's `{% generation %}` span. Two failures
are silent there: a template without generation markers yields an all-zero loss mask (TRL trains on
nothing, or errors late), and an assistant turn that does not end with EOS teaches a model that never
stops. This module tokenizes every example once, in one batched call per side, and returns one flat
row per example; `expectations/sft_tokens.json` decides. It does not load the tokenizer's model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable


def load_tokenizer(path: str | Path) -> Any:
    """The tokenizer (with its chat template) saved in `path`, e.g. models/base; never downloads.

    A directory with a tokenizer.json loads as PreTrainedTokenizerFast: the same tokens and template
    as AutoTokenizer gives, in ~1 s instead of ~5 s (AutoTokenizer imports torch on 2 busy cores).
    """
    if (Path(path) / "tokenizer.json").exists():
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def _chat(messages: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in messages]


def _spans(mask: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of 1s in an assistant mask: one run per assistant turn."""
    spans, start = [], None
    for i, bit in enumerate([*mask, 0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            spans.append((start, i))
            start = None
    return spans


def token_features(records: list[dict[str, Any]], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """One row per SFT example: token count, trained (last-reply) mask tokens, EOS at each assistant turn's end.

    `trained_tokens` counts mask tokens after the prompt's own tokens (the history's assistant turns are
    masked too by the template, but training uses only the last reply). `assistant_turns_end_eos` is True
    when the mask has one span per assistant turn and each ends on `tokenizer.eos_token_id`; with no
    generation markers there are no spans, so it is False as well. `truncated`: longer than `max_length`.
    """
    if not records:
        return []
    chats = [_chat(m for m in r.get("messages") or [] if isinstance(m, dict)) for r in records]
    full = tokenizer.apply_chat_template(chats, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    prompts = tokenizer.apply_chat_template([c[:-1] or [c[0]] for c in chats], tokenize=True, return_dict=True)
    eos = tokenizer.eos_token_id
    rows = []
    for record, chat, ids, mask, prompt_ids in zip(records, chats, full["input_ids"], full["assistant_masks"],
                                                   prompts["input_ids"]):
        n_assistant = sum(1 for m in chat if m["role"] == "assistant")
        spans = _spans(list(mask))
        prompt_len = len(prompt_ids) if len(chat) > 1 else 0
        rows.append({
            "id": str(record.get("id")),
            "n_tokens": len(ids),
            "trained_tokens": int(sum(mask[prompt_len:])),
            "assistant_turns": n_assistant,
            "assistant_spans": len(spans),
            "assistant_turns_end_eos": bool(spans) and len(spans) == n_assistant
                                       and all(ids[end - 1] == eos for _, end in spans),
            "truncated": int(len(ids) > max_length),  # 0/1: the truncated share is the column mean
        })
    return rows
