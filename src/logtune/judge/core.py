"""The judge interface: pairwise with position swapping, pointwise similarity, data quality; any provider.

A `Judge` wraps a backend that answers three kinds of question in batches (so an LLM backend sends
each batch through the cache and the Anthropic client at once):
- `pairwise(items)`: candidate vs baseline. With `swap_positions`, every pair is asked in both orders
  (candidate as A, then as B) and a winner counts only when both orders name it; a pair whose verdict
  follows the position is a tie and counted as `position_inconsistent` (the judge's order bias, measured);
- `similarity(pairs)`: how close a reply is to a reference (the logged, up-voted reply), in [0, 1];
- `quality(items)`: a data-quality score in [0, 1], curate's filter with `curate.judge_min_quality`
  (`logtune.curate.quality`).
A backend's answer that cannot be read is None: it becomes `unparsed`, never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from logtune.judge import offline, prompts
from logtune.judge.params import JudgeParams
from logtune.llm import cost
from logtune.llm.cache import ResponseCache, cache_key
from logtune.llm.providers import Request, complete, make_provider
from logtune.params import load_params


def transcript(messages: list[dict[str, Any]]) -> str:
    """A conversation as the judge reads it: one `role: content` line per message."""
    return "\n".join(f"{m.get('role')}: {m.get('content') or ''}" for m in messages)


def context_text(context: Any) -> str | None:
    if context is None or isinstance(context, str):
        return context
    return json.dumps(context, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class PairItem:
    id: str
    prompt: str                   # the conversation as text, ending on the user's turn
    candidate: str
    baseline: str
    context: str | None = None
    reference: str | None = None  # what a good reply contains (golden expectation), if known


@dataclass(frozen=True)
class QualityItem:
    id: str
    prompt: str
    reply: str
    context: str | None = None


@dataclass(frozen=True)
class PairVerdict:
    id: str
    winner: str                   # candidate | baseline | tie | unparsed
    orders: tuple[str | None, ...]    # the raw verdict per order asked ('first' / 'second' / 'tie' / None)
    position_inconsistent: bool


class OfflineBackend:
    """The rule-based stand-in (`judge.offline`)."""

    stand_in = True

    def __init__(self, params: JudgeParams):
        self.params = params
        self.name = f"{offline.NAME} (rule-based stand-in, not an LLM judge)"

    def compare(self, asks: list[tuple[str, str, str, str | None, str | None]]) -> list[str | None]:
        return [offline.compare(p, a, b, c, r, self.params.tie_margin) for p, a, b, c, r in asks]

    def similarity(self, pairs: list[tuple[str, str]]) -> list[float | None]:
        return [offline.similarity(reply, ref) for reply, ref in pairs]

    def quality(self, asks: list[tuple[str, str, str | None]]) -> list[float | None]:
        return [offline.quality(p, reply, c)[0] for p, reply, c in asks]


class LLMBackend:
    """An LLM (anthropic or local) through `logtune.llm`: every answer cached by content hash."""

    stand_in = False

    def __init__(self, params: JudgeParams, cache: ResponseCache, provider: Any):
        self.params, self.cache, self.provider = params, cache, provider
        self.name = f"{params.provider}:{provider.model} (prompt {prompts.PROMPT_VERSION})"
        self.requests = self.cached = self.failed = 0

    def _ask(self, task: str, rendered: list[tuple[str, str]]) -> list[str | None]:
        sampling = {"max_tokens": self.params.max_tokens, "temperature": self.params.temperature}
        requests = [Request(cache_key(self.params.provider, self.provider.model, prompts.PROMPT_VERSION, s, u,
                                      sampling), f"judge_{task}", prompts.PROMPT_VERSION, s, u)
                    for s, u in rendered]
        results = complete(self.provider, requests, self.cache)
        out = []
        for r in requests:
            res = results[r.key]
            self.requests += 1
            self.cached += res.cached
            self.failed += res.text is None
            out.append(res.text)
        return out

    def compare(self, asks):
        return [prompts.parse_choice(t) for t in self._ask("pairwise", [prompts.pairwise(*a) for a in asks])]

    def similarity(self, pairs):
        return [prompts.parse_score(t) for t in self._ask("similarity", [prompts.similarity(*p) for p in pairs])]

    def quality(self, asks):
        return [prompts.parse_score(t) for t in self._ask("quality", [prompts.quality(*a) for a in asks])]


class DryRunBackend(LLMBackend):
    """Asks nothing: counts the requests an LLM judge would send (cache hits apart) and what they would cost.
    Needs no key, so `--dry-run` works before one is set."""

    def __init__(self, params: JudgeParams, cache: ResponseCache):
        model = params.model if params.provider == "anthropic" else str(params.model_path)
        super().__init__(params, cache, type("Planned", (), {"model": model})())
        self.input_tokens = self.output_tokens = 0

    def _ask(self, task: str, rendered: list[tuple[str, str]]) -> list[str | None]:
        sampling = {"max_tokens": self.params.max_tokens, "temperature": self.params.temperature}
        for s, u in rendered:
            self.requests += 1
            if cache_key(self.params.provider, self.provider.model, prompts.PROMPT_VERSION, s, u, sampling) in self.cache:
                self.cached += 1
                continue
            self.input_tokens += cost.estimate_tokens(s) + cost.estimate_tokens(u) + cost.MESSAGE_OVERHEAD_TOKENS
            self.output_tokens += self.params.max_tokens
        return [None] * len(rendered)

    def plan(self) -> dict[str, Any]:
        to_ask = self.requests - self.cached
        batch = to_ask > self.params.batch_threshold
        return {"provider": self.params.provider, "model": self.provider.model, "requests": self.requests,
                "cached": self.cached, "to_ask": to_ask, "input_tokens_est": self.input_tokens,
                "output_tokens_est": self.output_tokens, "via": "batch" if batch else "sync",
                "usd_est": cost.usd(self.params, self.provider.model, self.input_tokens, self.output_tokens, batch)}


# the reasons a session leaves curate by the judge's quality score (`curate.judge_min_quality`)
FILTER_REASONS = ("judge_low_quality", "judge_unparsed")

_SWAP = {"first": "second", "second": "first", "tie": "tie", None: None}
_SIDE = {"first": "candidate", "second": "baseline", "tie": "tie"}


def combine(forward: str | None, swapped: str | None) -> tuple[str, bool]:
    """(winner, position_inconsistent) from the verdict with the candidate first and the one with it second."""
    if forward is None or swapped is None:
        return "unparsed", False
    back = _SWAP[swapped]             # the swapped verdict in the forward order's terms
    if forward == back:
        return _SIDE[forward], False
    # one order said tie and the other a side: a weak preference, kept as a tie; opposite sides: order bias
    return "tie", forward != "tie" and back != "tie"


class Judge:
    def __init__(self, params: JudgeParams, backend: Any):
        self.params, self.backend = params, backend

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def stand_in(self) -> bool:
        return self.backend.stand_in

    def pairwise(self, items: list[PairItem]) -> list[PairVerdict]:
        forward = self.backend.compare([(i.prompt, i.candidate, i.baseline, i.context, i.reference) for i in items])
        if not self.params.swap_positions:
            return [PairVerdict(i.id, _SIDE.get(f, "unparsed") if f else "unparsed", (f,), False)
                    for i, f in zip(items, forward)]
        swapped = self.backend.compare([(i.prompt, i.baseline, i.candidate, i.context, i.reference) for i in items])
        out = []
        for i, f, s in zip(items, forward, swapped):
            winner, inconsistent = combine(f, s)
            out.append(PairVerdict(i.id, winner, (f, s), inconsistent))
        return out

    def similarity(self, pairs: list[tuple[str, str]]) -> list[float | None]:
        return self.backend.similarity(pairs)

    def quality(self, items: list[QualityItem]) -> list[float | None]:
        return self.backend.quality([(i.prompt, i.reply, i.context) for i in items])


def make_judge(params: JudgeParams, cache_dir: str | None = None, *, client: Any = None, http_client: Any = None,
               sleep: Callable[[float], None] | None = None, log: Callable[[str], None] = print,
               dry_run: bool = False) -> Judge:
    """The judge params name. For tests, as `logtune.llm.providers.make_provider`: `client` or `http_client`.
    `dry_run`: an LLM judge that asks nothing and plans (`judge.backend.plan()`)."""
    if params.provider == "offline":
        return Judge(params, OfflineBackend(params))
    if dry_run:
        return Judge(params, DryRunBackend(params, ResponseCache(cache_dir)))
    provider = make_provider(params, client=client, http_client=http_client, sleep=sleep, log=log)
    return Judge(params, LLMBackend(params, ResponseCache(cache_dir), provider))


def load_judge(params_path: str | Path, cache: str | Path | None = None, *, dry_run: bool = False) -> Judge:
    """The judge the `judge` section of `params_path` describes, as every stage that asks one builds it;
    `cache` (a stage's --cache) overrides `judge.cache_dir`."""
    params = load_params(params_path, "judge", JudgeParams)
    return make_judge(params, str(cache or params.cache_dir), dry_run=dry_run)


def summarize_pairwise(verdicts: Iterable[PairVerdict]) -> dict[str, Any]:
    """Counts and the candidate's win rate (ties count half; unparsed verdicts are left out)."""
    verdicts = list(verdicts)
    counts = {k: sum(v.winner == k for v in verdicts) for k in ("candidate", "baseline", "tie", "unparsed")}
    judged = counts["candidate"] + counts["baseline"] + counts["tie"]
    return {"n": len(verdicts), **{f"{k}_wins" if k in ("candidate", "baseline") else k: v for k, v in counts.items()},
            "position_inconsistent": sum(v.position_inconsistent for v in verdicts),
            "candidate_win_rate": round((counts["candidate"] + 0.5 * counts["tie"]) / judged, 4) if judged else None}
