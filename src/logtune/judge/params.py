"""The `judge` params section: which judge, how it is asked, and when its numbers are trusted.

The API key is not a parameter: `anthropic` reads $ANTHROPIC_API_KEY only (`logtune.llm.providers.api_key`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logtune.params import ParamsError

PROVIDERS = ("offline", "anthropic", "local")


@dataclass(frozen=True)
class JudgeParams:
    """params.yaml `judge`. The first block mirrors `rewrite`'s client settings (logtune.llm.LLMSettings)."""
    SECTION = "judge"             # class attribute, not a param: names this section in messages

    provider: str = "offline"     # offline: rule-based stand-in (no LLM); anthropic; local (model_path)
    model: str = "claude-haiku-4-5"
    model_path: str | None = None     # provider local: a model folder (loaded with local_files_only)
    max_tokens: int = 8           # a verdict is one token ("A", "B", "TIE", or a 1-10 score)
    temperature: float = 0.0      # a judge should not sample: the same question gets the same verdict
    seed: int = 0
    concurrency: int = 4
    max_retries: int = 4
    timeout_s: float = 60.0
    batch_threshold: int = 500    # more requests than this go through the Message Batches API
    poll_interval_s: float = 30.0
    prices: dict = field(default_factory=lambda: {                    # $ per million tokens (dry-run cost)
        "claude-haiku-4-5": {"input": 1.0, "output": 5.0}, "claude-sonnet-4-5": {"input": 3.0, "output": 15.0}})
    batch_discount: float = 0.5   # the Message Batches API bills half
    candidate: str = "preference" # the judge stage: pairwise candidate vs baseline on the golden cases
    baseline: str = "base"
    swap_positions: bool = True   # ask every pair in both orders; a verdict that flips with the order is a tie
    tie_margin: float = 0.05      # offline stand-in: scores closer than this are a tie
    thumbs_threshold: float = 0.5 # quality >= this predicts a thumbs up (agreement with logged thumbs)
    confidence: float = 0.95      # of the agreement interval (Wilson)
    min_agreement_cases: int = 20 # fewer rated replies than this: agreement unknown, judge not trusted
    # paid verdicts, one file per request hash, outside DVC's outputs (`dvc exp run` resets outputs, and a
    # killed run would pay again): logtune.llm.cache
    cache_dir: str = ".cache/judge"

    def __post_init__(self):
        if self.provider not in PROVIDERS:
            raise ParamsError(f"judge.provider: {self.provider!r} is not one of {', '.join(PROVIDERS)}")
        if self.provider == "local" and not self.model_path:
            raise ParamsError("judge.provider is 'local' but judge.model_path is not set")
        if not 0 < self.confidence < 1:
            raise ParamsError(f"judge.confidence: {self.confidence} must be in (0, 1)")
        if not 0 <= self.thumbs_threshold <= 1:
            raise ParamsError(f"judge.thumbs_threshold: {self.thumbs_threshold} must be in [0, 1]")
