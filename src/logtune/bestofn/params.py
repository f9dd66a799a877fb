"""The `bestofn` params section."""

from __future__ import annotations

from dataclasses import dataclass

from logtune.params import ParamsError


@dataclass(frozen=True)
class BestOfNParams:
    """params.yaml `bestofn`."""
    n: int = 4                    # candidates sampled per prompt
    max_prompts: int = 48         # prompts answered (a stable sample: sorted by id); each costs n generations
    seed: int = 0
    temperature: float = 1.0      # sampling: n greedy replies would be n copies of one
    top_p: float = 0.95
    max_new_tokens: int = 48
    min_margin: float = 0.2       # best minus worst score below this: a tie, dropped (no clear preference)
    use_judge: bool = False       # also grade with the `judge` section's judge (mixed in with judge_weight)
    judge_weight: float = 0.5
    torch_threads: int = 1        # see evaluate.torch_threads

    def __post_init__(self):
        if self.n < 2:
            raise ParamsError(f"bestofn.n must be >= 2 (a pair needs two candidates), got {self.n}")
        if not 0 <= self.min_margin <= 1 or not 0 <= self.judge_weight <= 1:
            raise ParamsError("bestofn.min_margin and bestofn.judge_weight must be in [0, 1]")
        if self.temperature <= 0:
            raise ParamsError(f"bestofn.temperature must be > 0 (sampling), got {self.temperature}")
