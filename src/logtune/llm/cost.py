"""What an LLM run (rewrite, judge) costs: token estimates before it (dry run) and usage-based dollars after it.

Prices come from the calling section's params (`rewrite.prices`, `judge.prices`: $ per million input / output tokens per model); the Message
Batches API bills `batch_discount` (0.5) of them. Before a run, tokens are estimated from text length
(~3.5 characters per token for English prose and JSON: a planning figure, typically within 20% of
Claude's tokenizer); output tokens from the offline rules' answer to the same request, which has the
length the template asks for. After a run the API's own usage counts are used.
"""

from __future__ import annotations

import math
from typing import Any

CHARS_PER_TOKEN = 3.5
MESSAGE_OVERHEAD_TOKENS = 8       # role markers and message framing the API counts on every request


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text or "") / CHARS_PER_TOKEN)


def usd(params: Any, model: str, input_tokens: int, output_tokens: int, batch: bool = False) -> float | None:
    """Dollars for these tokens at the model's price (`params.prices`, `params.batch_discount`) (None when the price table does not list the model)."""
    price = params.prices.get(model)
    if price is None:
        return None
    dollars = (input_tokens * price["input"] + output_tokens * price["output"]) / 1_000_000
    return round(dollars * (params.batch_discount if batch else 1.0), 6)
