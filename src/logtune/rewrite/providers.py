"""Who answers a rewrite request: `offline` (rule-based, the default), `anthropic` (Claude), `local` (a model folder).

Every provider takes the same `Request`s (a task's rendered system + user prompt, plus the task's own
rule-based answer for `offline`) and returns a `Result` per cache key. `complete` asks the cache first
and the provider only for what is missing; paid providers store each response in the cache as it
arrives (offline answers are not cached: they are free, and their rules are code DVC already tracks).
The Anthropic client and its retry/batch machinery live in `rewrite.client`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from logtune.rewrite.cache import ResponseCache
from logtune.rewrite.params import RewriteParams

API_KEY_ENV = "ANTHROPIC_API_KEY"


class MissingApiKey(RuntimeError):
    """Provider `anthropic` without $ANTHROPIC_API_KEY."""


@dataclass(frozen=True)
class Request:
    key: str                      # cache key (rewrite.cache.cache_key)
    task: str
    prompt_version: str
    system: str
    user: str
    offline: Callable[[], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Result:
    text: str | None = None       # None when the request failed
    error: str | None = None      # failure kind: rate_limited, server_error, timeout, malformed_response, ...
    detail: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    via: str = "sync"             # sync | batch | offline | local
    cached: bool = False          # answered from the cache: nothing requested (or paid) this run


class Provider(Protocol):
    name: str
    model: str

    def fetch(self, requests: list[Request], cache: ResponseCache) -> dict[str, Result]: ...


def api_key(environ: dict[str, str] | None = None) -> str:
    """The key, from the environment only: never a parameter, never logged."""
    key = (os.environ if environ is None else environ).get(API_KEY_ENV, "").strip()
    if not key:
        raise MissingApiKey(f"rewrite.provider is 'anthropic' but ${API_KEY_ENV} is not set: export it (the key is "
                            f"read from the environment only, never from params), or run `logtune rewrite --dry-run` "
                            f"to see what the run would cost without calling the API")
    return key


def cache_entry(provider: str, model: str, request: Request, result: Result, stop_reason: str | None) -> dict[str, Any]:
    return {"key": request.key, "provider": provider, "model": model, "task": request.task,
            "prompt_version": request.prompt_version, "via": result.via, "text": result.text,
            "input_tokens": result.input_tokens, "output_tokens": result.output_tokens, "stop_reason": stop_reason}


def complete(provider: Provider, requests: list[Request], cache: ResponseCache) -> dict[str, Result]:
    """A Result for every request key: cached ones first, the rest from the provider."""
    unique = {r.key: r for r in requests}
    resume = getattr(provider, "resume", None)
    if resume is not None:
        resume(cache, unique)    # batches a crashed run submitted: collect them before asking anything new
    out: dict[str, Result] = {}
    missing = []
    for key, request in unique.items():
        hit = cache.get(key)
        if hit is not None:
            out[key] = Result(hit["text"], input_tokens=hit.get("input_tokens", 0),
                              output_tokens=hit.get("output_tokens", 0), via=hit.get("via", "sync"), cached=True)
        else:
            missing.append(request)
    if missing:
        out.update(provider.fetch(missing, cache))
    return out


class OfflineProvider:
    """Deterministic and rule-based: each task's own `offline` answer. No network, no key, no cost."""

    name = "offline"
    model = "rules-v1"

    def fetch(self, requests: list[Request], cache: ResponseCache) -> dict[str, Result]:
        out = {}
        for r in requests:
            text = r.offline() if r.offline is not None else ""
            out[r.key] = Result(text, via="offline", output_tokens=0)
        return out


class LocalProvider:
    """A transformers model from a local folder (loaded with local_files_only: never a download)."""

    name = "local"

    def __init__(self, params: RewriteParams, log: Callable[[str], None] = print):
        self.params, self.log = params, log
        self.model = str(params.model_path)
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from pathlib import Path

            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = Path(self.model)
            if (path / "logtune_model.json").is_file():
                from logtune.models import load_model

                self._loaded = load_model(path)
            else:
                tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
                self._loaded = (model, tok)
        return self._loaded

    def generate(self, request: Request) -> Result:
        import torch

        model, tok = self._load()
        messages = [{"role": "system", "content": request.system}, {"role": "user", "content": request.user}]
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=True)["input_ids"]
        else:
            ids = tok(f"{request.system}\n\n{request.user}\n", return_tensors="pt")["input_ids"]
        torch.manual_seed(self.params.seed)
        sample = self.params.temperature > 0
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=self.params.max_tokens, do_sample=sample,
                                 temperature=self.params.temperature if sample else None,
                                 pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        new = out[0, ids.shape[1]:]
        return Result(tok.decode(new, skip_special_tokens=True).strip(), input_tokens=int(ids.shape[1]),
                      output_tokens=int(new.shape[0]), via="local")

    def fetch(self, requests: list[Request], cache: ResponseCache) -> dict[str, Result]:
        out = {}
        for i, r in enumerate(requests, 1):
            result = self.generate(r)
            cache.put(cache_entry(self.name, self.model, r, result, None))
            out[r.key] = result
            if i % 20 == 0 or i == len(requests):
                self.log(f"rewrite: local model answered {i}/{len(requests)}")
        return out


def make_provider(params: RewriteParams, *, client: Any = None, http_client: Any = None,
                  sleep: Callable[[float], None] | None = None, log: Callable[[str], None] = print) -> Provider:
    """The provider params name. For tests: `client` (an anthropic.Anthropic), or `http_client` (an httpx2.Client,
    e.g. over a MockTransport) under a client made as in production (key from the environment); `sleep`."""
    if params.provider == "offline":
        return OfflineProvider()
    if params.provider == "local":
        return LocalProvider(params, log=log)
    from logtune.rewrite.client import AnthropicProvider

    from logtune.rewrite.client import make_client

    return AnthropicProvider(params, client=client if client is not None else make_client(params, http_client),
                             sleep=sleep, log=log)
