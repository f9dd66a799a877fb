"""The `rewrite` params section as frozen dataclasses: provider, sampling, limits, prices, one block per task.

Checked when loaded (a typo or an impossible value fails at start, before any request is paid for).
The API key is deliberately NOT a parameter: it comes only from $ANTHROPIC_API_KEY (`providers.api_key`),
so it can never reach params.yaml, dvc.lock or `dvc exp show`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logtune.params import ParamsError

PROVIDERS = ("offline", "anthropic", "local")
DEFAULT_ID_PATTERNS = (r"\b[A-Z]{2,5}-\d{2,6}\b",)
# $ per million tokens (Anthropic list prices); the Message Batches API bills half of these.
DEFAULT_PRICES = {
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "claude-opus-4-1": {"input": 15.0, "output": 75.0},
    "claude-3-5-haiku-latest": {"input": 0.8, "output": 4.0},
}


@dataclass(frozen=True)
class ConversationalParams:
    """Seed 001 phase 2: extractive answers said naturally."""
    enabled: bool = True
    limit: int | None = None      # at most this many source records (None: every extractive record)
    min_words: int = 8            # seed 001: "8-30 words (1-2 sentences)"
    max_words: int = 30


@dataclass(frozen=True)
class RefusalParams:
    """Seed 001 phase 3: varied polite refusals for questions the CONTEXT cannot answer."""
    enabled: bool = True
    limit: int | None = 60
    min_words: int = 5
    max_words: int = 30


@dataclass(frozen=True)
class DownvoteParams:
    """Seed 000 phase 3: a better `chosen` answer for each down-voted reply without a human rewrite."""
    enabled: bool = True
    limit: int | None = None
    min_words: int = 3
    max_words: int = 60


@dataclass(frozen=True)
class PersonaParams:
    """Seed 002: persona-conditioned agentic examples in the canonical tool-call format."""
    enabled: bool = False
    count: int = 50
    multi_turn_ratio: float = 0.3
    system_prompt: str = "You are AJ, an ops agent. Call tools in the canonical format; use only agents in CONTEXT."


@dataclass(frozen=True)
class CorrectionsParams:
    """Seed 002's `--multiply 10`: variations of each documented tool-call error with its fix."""
    enabled: bool = True
    limit: int | None = None
    multiply: int = 10            # each correction appears this many times in all: itself + (multiply - 1) variations


@dataclass(frozen=True)
class NotesParams:
    """Seed 004 (issue 18): each curated note (source kind `notes`) -> grounded question-answer exchanges."""
    enabled: bool = True
    limit: int | None = None      # at most this many notes (None: every note)
    per_note: int = 3             # at most this many exchanges asked of one note
    min_words: int = 3
    max_words: int = 80           # a status line or two, not the whole note


@dataclass(frozen=True)
class AugmentParams:
    """Seed 002's --augment-existing (issue 18): persona variants of built tool trajectories, calls byte-identical."""
    enabled: bool = False         # opt-in, as the seed's flag is
    limit: int | None = None      # at most this many source trajectories (None: every one)
    variants: int = 1             # persona variants asked per trajectory


@dataclass(frozen=True)
class RewriteParams:
    provider: str = "offline"
    model: str = "claude-haiku-4-5"
    model_path: str | None = None
    max_tokens: int = 400
    temperature: float = 0.7
    seed: int = 0
    concurrency: int = 4
    max_retries: int = 4
    timeout_s: float = 60.0
    batch_threshold: int = 500
    poll_interval_s: float = 30.0
    batch_discount: float = 0.5
    max_api_error_share: float = 0.02
    min_real_share: float = 0.4
    id_patterns: tuple[str, ...] = DEFAULT_ID_PATTERNS
    prices: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    conversational: ConversationalParams = ConversationalParams()
    refusal: RefusalParams = RefusalParams()
    downvote: DownvoteParams = DownvoteParams()
    persona: PersonaParams = PersonaParams()
    corrections: CorrectionsParams = CorrectionsParams()
    notes: NotesParams = NotesParams()
    augment: AugmentParams = AugmentParams()
    cache_dir: str = ".cache/rewrite"   # paid responses; outside DVC's outputs (see logtune.llm.cache)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ParamsError(f"rewrite.provider must be one of {PROVIDERS}, got {self.provider!r}")
        if self.provider == "local" and not self.model_path:
            raise ParamsError("rewrite.provider local needs rewrite.model_path (a local transformers model folder)")
        for name in ("concurrency", "max_tokens"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ParamsError(f"rewrite.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ParamsError(f"rewrite.max_retries must be an integer >= 0, got {self.max_retries!r}")
        if not 0 <= self.batch_discount <= 1 or not 0 <= self.min_real_share <= 1:
            raise ParamsError("rewrite.batch_discount and rewrite.min_real_share must lie in [0, 1]")
        for model, price in self.prices.items():
            if not isinstance(price, dict) or set(price) != {"input", "output"}:
                raise ParamsError(f"rewrite.prices.{model} must be {{input: $/MTok, output: $/MTok}}, got {price!r}")
        if not isinstance(self.notes.per_note, int) or self.notes.per_note < 1:
            raise ParamsError("rewrite.notes.per_note must be an integer >= 1")
        if not isinstance(self.augment.variants, int) or self.augment.variants < 1:
            raise ParamsError("rewrite.augment.variants must be an integer >= 1")
        if self.corrections.multiply < 1:
            raise ParamsError("rewrite.corrections.multiply must be >= 1")
        if not 0 <= self.persona.multi_turn_ratio <= 1:
            raise ParamsError("rewrite.persona.multi_turn_ratio must lie in [0, 1]")
