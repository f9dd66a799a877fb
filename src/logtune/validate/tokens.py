"""Token-level facts about training records, as the trainer will see them through the model's chat template.

Training (logtune.train.sft) gives TRL each example as prompt = all but the last message, completion =
the last reply, with an assistant-only loss over the template's `{% generation %}` span. Two failures
are silent there: a template without generation markers yields an all-zero loss mask (TRL trains on
nothing, or errors late), and an assistant turn that does not end with EOS teaches a model that never
stops. Preference pairs (DPO) and KTO examples are scored on their completion the same way: a pair is
checked on both sides (prompt + chosen, prompt + rejected: a rejected reply that is empty after the
template, or runs past max_length, makes the pair meaningless just as a bad chosen one does), a KTO
example on prompt + completion. This module tokenizes every record once, in one batched call per side,
and returns one flat row per record; `expectations/<set>_tokens.json` decides. It does not load the
tokenizer's model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from logtune.chat_templates import last_trained_token, stop_token_ids


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


def _messages(value: Any) -> list[dict[str, Any]]:
    return [m for m in value or [] if isinstance(m, dict)]


def record_chats(set_name: str, record: dict[str, Any]) -> list[tuple[str, list[dict[str, str]], int]]:
    """(side, chat, prompt messages) per templated sequence of one record: what the trainer tokenizes.

    sft: the messages, the last one trained; preference: prompt + chosen and prompt + rejected;
    kto: prompt + completion.
    """
    if set_name == "sft":
        chat = _chat(_messages(record.get("messages")))
        return [("", chat, max(len(chat) - 1, 0))]
    prompt = _chat(_messages(record.get("prompt")))
    if set_name == "preference":
        return [(side, prompt + _chat(_messages(record.get(side))), len(prompt)) for side in ("chosen", "rejected")]
    return [("", prompt + _chat(_messages(record.get("completion"))), len(prompt))]


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


def _sequence_facts(tokenizer: Any, chats: list[tuple[list[dict[str, str]], int]], max_length: int) -> list[dict]:
    """Token facts of each (chat, prompt messages): one batched template call for the chats, one for prompts."""
    if not chats:
        return []
    full = tokenizer.apply_chat_template([c for c, _ in chats], tokenize=True, return_dict=True,
                                         return_assistant_tokens_mask=True)
    # a chat of one message has no prompt: tokenize something cheap and ignore it
    prompts = tokenizer.apply_chat_template([c[:n] or c[:1] for c, n in chats], tokenize=True, return_dict=True)
    stops = set(stop_token_ids(tokenizer))   # EOS, and the family's end-of-turn token the base stage recorded
    facts = []
    for (chat, n_prompt), ids, mask, prompt_ids in zip(chats, full["input_ids"], full["assistant_masks"],
                                                      prompts["input_ids"]):
        n_assistant = sum(1 for m in chat if m["role"] == "assistant")
        spans = _spans(list(mask))
        prompt_len = len(prompt_ids) if n_prompt else 0
        facts.append({
            "n_tokens": len(ids),
            "trained_tokens": int(sum(mask[prompt_len:])),
            "assistant_turns": n_assistant,
            "assistant_spans": len(spans),
            "assistant_turns_end_eos": bool(spans) and len(spans) == n_assistant
                                       and all(last_trained_token(tokenizer, ids[start:end], [1] * (end - start))
                                               in stops for start, end in spans),
            "truncated": int(len(ids) > max_length),
        })
    return facts


def token_features(records: list[dict[str, Any]], tokenizer: Any, max_length: int,
                   set_name: str = "sft") -> list[dict[str, Any]]:
    """One row per record: token count, trained (completion) mask tokens, EOS at each assistant turn's end.

    `trained_tokens` counts mask tokens after the prompt's own tokens (the history's assistant turns are
    masked too by the template, but training uses only the last reply). `assistant_turns_end_eos` is True
    when the mask has one span per assistant turn and each ends on a token generation stops at (EOS, or the
    family's end-of-turn token: `logtune.chat_templates.stop_token_ids`; whitespace after it, such as the
    newline Qwen and Gemma templates close a turn with, may follow inside the span); with no
    generation markers there are no spans, so it is False as well. `truncated`: longer than `max_length`
    (0/1: the truncated share is the column mean). A record of several sequences (a preference pair) gets
    the worst of them: the longest `n_tokens`, the fewest `trained_tokens`, EOS only if every one has it,
    truncated if any is; `sides` shows each side's trained tokens and length ("chosen 12/80, rejected 0/75").
    """
    if not records:
        return []
    per_record = [record_chats(set_name, r) for r in records]
    flat = [(chat, n) for chats in per_record for _, chat, n in chats]
    facts = iter(_sequence_facts(tokenizer, flat, max_length))
    rows = []
    for record, chats in zip(records, per_record):
        sides = [(side, next(facts)) for side, _, _ in chats]
        rows.append({
            "id": str(record.get("id")),
            "n_tokens": max(f["n_tokens"] for _, f in sides),
            "trained_tokens": min(f["trained_tokens"] for _, f in sides),
            "assistant_turns": sum(f["assistant_turns"] for _, f in sides),
            "assistant_spans": sum(f["assistant_spans"] for _, f in sides),
            "assistant_turns_end_eos": all(f["assistant_turns_end_eos"] for _, f in sides),
            "truncated": max(f["truncated"] for _, f in sides),
            "sides": ", ".join(f"{side or 'completion'} {f['trained_tokens']}/{f['n_tokens']}" for side, f in sides),
        })
    return rows
