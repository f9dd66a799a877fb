"""Long conversations: the `build.long_conversations` policy, applied to every reply before its records are kept.

Real logs hold conversations longer than any training window (issue #14: 109 SFT examples of a real
export over 2,048 tokens, 92% of its KTO examples over a 512-token model), and validate's length
check would stop the whole pipeline on them. Build decides instead, per reply, on the records the
reply makes (an SFT example; both sides of a pair, prompt + chosen and prompt + rejected; a KTO
prompt + completion), measured with the system message (prompt + CONTEXT) included:
- `truncate` (default): drop the oldest exchanges of the history, one whole exchange at a time (a
  turn boundary: a user turn and everything up to the next one), and route the reply again, until
  every record fits. The system prompt, the user turn answered and the reply itself are always kept;
  when even they do not fit, the reply is rejected with reason `too_long`.
- `reject`: a reply whose records do not fit is rejected with reason `too_long`.
The budget is `max_chars` (characters of every message's content), or `max_tokens` counted with a
local `tokenizer` folder through its chat template, as validate and the trainer count them (set it
to the model you will train and to `validate.max_tokens`; then validate's length check guards
rather than blocks). Both null: no limit. Not for the trainer's own truncation (`sft.max_length`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable

from logtune.build.replies import Reply

POLICIES = ("truncate", "reject")


@dataclass(frozen=True)
class LongConversations:
    policy: str = "truncate"          # truncate | reject
    max_chars: int | None = 8000      # ~2,000 tokens of English text (validate.max_tokens is 2048); null: no char limit
    max_tokens: int | None = None     # instead of max_chars: tokens through `tokenizer`'s chat template
    tokenizer: str | None = None      # a local tokenizer folder (e.g. your base model's); needed with max_tokens

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"build.long_conversations.policy must be one of {POLICIES}, got {self.policy!r}")
        for name in ("max_chars", "max_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"build.long_conversations.{name} must be a positive integer or null, got {value!r}")
        if self.max_chars is not None and self.max_tokens is not None:
            raise ValueError("build.long_conversations: give max_chars or max_tokens, not both")
        if self.max_tokens is not None and not self.tokenizer:
            raise ValueError("build.long_conversations.max_tokens needs `tokenizer` (a local tokenizer folder)")

    @property
    def limit(self) -> int | None:
        return self.max_tokens if self.max_tokens is not None else self.max_chars

    @property
    def unit(self) -> str:
        return "tokens" if self.max_tokens is not None else "chars"


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def measure(chat: list[dict[str, str]], policy: LongConversations) -> int:
    """The size of one chat (role/content messages) in the policy's unit."""
    if policy.max_tokens is None:
        return sum(len(m.get("content") or "") for m in chat)
    tok = _tokenizer(policy.tokenizer)
    if getattr(tok, "chat_template", None):      # as validate.tokens counts: return_dict, input_ids
        return len(tok.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"])
    return len(tok("\n".join(m.get("content") or "" for m in chat))["input_ids"])


def record_chats(set_name: str, record: dict[str, Any]) -> list[list[dict[str, str]]]:
    """The sequences a built record is trained on: sft messages; prompt + chosen and prompt + rejected;
    prompt + completion."""
    if set_name == "sft":
        return [record["messages"]]
    if set_name == "preference":
        return [record["prompt"] + record["chosen"], record["prompt"] + record["rejected"]]
    return [record["prompt"] + record["completion"]]


def largest(records: dict[str, list[dict[str, Any]]], policy: LongConversations) -> int:
    """The largest sequence among the records (by set name), in the policy's unit; 0 when there are none."""
    return max((measure(chat, policy) for name, rows in records.items() for r in rows
                for chat in record_chats(name, r)), default=0)


def shorter(reply: Reply) -> tuple[Reply, int] | None:
    """(the reply with its oldest history exchange dropped, messages dropped), or None when no history is left."""
    users = [i for i, m in enumerate(reply.prompt) if m["role"] == "user"]
    if len(users) < 2:
        return None
    return replace(reply, prompt=reply.prompt[users[1]:]), users[1]


@dataclass
class Fitted:
    reply: Reply
    routed: Any                 # pipeline.Routed of the (possibly truncated) reply
    too_long: str | None        # the reject detail when the reply cannot fit
    dropped: int = 0            # history messages dropped


def _sets(routed: Any) -> dict[str, list[dict[str, Any]]]:
    return {"sft": routed.sft, "preference": routed.preference, "kto": routed.kto}


def fit(reply: Reply, routed: Any, policy: LongConversations, reroute: Callable[[Reply], Any]) -> Fitted:
    """Apply the policy to one routed reply (module docstring); `reroute` routes a truncated reply again."""
    limit = policy.limit
    if limit is None:
        return Fitted(reply, routed, None)
    size = largest(_sets(routed), policy)
    dropped = 0
    while size > limit and policy.policy == "truncate":
        cut = shorter(reply)
        if cut is None:
            break
        reply, n = cut
        dropped += n
        routed = reroute(reply)
        if routed.reject is not None:          # the shorter reply cannot be built at all: say why
            return Fitted(reply, routed, None, dropped)
        size = largest(_sets(routed), policy)
    if size > limit:
        how = "with no history left" if policy.policy == "truncate" else f"policy {policy.policy}"
        return Fitted(reply, routed, f"{size} {policy.unit} > {limit} ({how})", dropped)
    return Fitted(reply, routed, None, dropped)
