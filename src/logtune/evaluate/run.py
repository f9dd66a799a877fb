"""Evaluating model directories on the golden set: load, check the prompt layout, generate, score.

Glue between the model loader (`logtune.models`), the shared prompt layout (`logtune.prompt`),
generation and scoring, so the evaluate stage stays a thin script. Parameters of the `evaluate` and
`assistant` sections of params.yaml are defined here.

Two silent failures are checked, not trusted: a model scored with a different chat template than it
was trained with (each model directory's template must equal its base's: `check_chat_template`), and
a model scored under a system prompt it never saw in training (`check_prompt_trained`: the prompt in
force, after the LOGTUNE_SYSTEM_PROMPT overrides, must be one the SFT data was rendered with). Either
mismatch is an error naming both sides. The prompt's version (`ids.prompt_version`) goes into the
metrics, because DVC does not track the environment variables that can change it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from logtune.generate import generate_replies
from logtune.golden.contract import GoldenCase
from logtune.evaluate.metrics import ScoringRules, score_case
from logtune.evaluate.metrics.hallucination import DEFAULT_PATTERNS
from logtune.evaluate.metrics.safety import DEFAULT_UNSAFE
from logtune.evaluate.metrics.style import DEFAULT_PREAMBLES
from logtune.ids import prompt_version
from logtune.prompt import with_system

BASELINES = ("base", "champion")
CHAMPION = "champion"   # the model name the release manifest's model is scored under


class EvaluateError(ValueError):
    """Evaluation would score something other than what was trained: a template or prompt mismatch."""


@dataclass(frozen=True)
class AssistantParams:
    """params.yaml `assistant`: the system prompt the model was trained with (and is scored with)."""
    system_prompt: str | None = None


@dataclass(frozen=True)
class EvaluateParams:
    """params.yaml `evaluate`."""
    id_patterns: list[str] = field(default_factory=lambda: [r"\b[A-Z]{2,5}-\d{2,6}\b"])
    hallucination_patterns: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_PATTERNS))
    preamble_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_PREAMBLES))
    unsafe_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_UNSAFE))
    max_new_tokens: int = 48
    batch_size: int = 16
    seed: int = 0
    allow_prompt_ids: bool = True
    torch_threads: int = 1        # 0 = torch's default; see generate_for_dir
    baseline: str = "base"        # base: the --model models only; champion: also the last release's model

    def __post_init__(self):
        if self.baseline not in BASELINES:
            raise ValueError(f"evaluate.baseline must be one of {', '.join(BASELINES)}, got {self.baseline!r}")

    def rules(self) -> ScoringRules:
        return ScoringRules(self.id_patterns, dict(self.hallucination_patterns), list(self.preamble_patterns),
                            list(self.unsafe_patterns), self.allow_prompt_ids)


def case_messages(case: GoldenCase, system_prompt: str | None) -> list[dict[str, str]]:
    """The chat the model sees for a case: system prompt + CONTEXT (tools included), then the turns."""
    return with_system(list(case.messages), system_prompt, case.shown_context)


# ---------------------------------------------------------------- prompt-layout checks

def chat_template_of(model_dir: str | Path) -> str | None:
    """The chat template saved in a model directory (chat_template.jinja, else tokenizer_config.json)."""
    model_dir = Path(model_dir)
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        return template if isinstance(template, str) else None
    return None


def template_version(template: str | None) -> str | None:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:12] if template is not None else None


def check_chat_template(model_dir: str | Path) -> str | None:
    """The model's chat template version; EvaluateError when it differs from its base's (an adapter
    saved with another tokenizer would be scored with a layout it was never trained on)."""
    from logtune.models import base_dir_of

    base = base_dir_of(model_dir)
    mine, theirs = chat_template_of(model_dir), chat_template_of(base)
    if mine != theirs:
        raise EvaluateError(f"chat template mismatch: {model_dir} has {template_version(mine)}, its base {base} "
                            f"has {template_version(theirs)}; score with the template the model was trained with")
    return template_version(mine)


def trained_prompt_versions(sft_rows: list[dict[str, Any]]) -> dict[str, str]:
    """{prompt_version: prompt} of the system prompts the SFT examples were rendered with (the text before
    the `CONTEXT:` line of each example's system message; `prompt.render_system` writes that layout)."""
    versions: dict[str, str] = {}
    for row in sft_rows:
        messages = row["messages"]
        messages = json.loads(messages) if isinstance(messages, str) else messages
        if not messages or messages[0].get("role") != "system":
            continue
        text = messages[0]["content"]
        prompt = None if text.startswith("CONTEXT: ") else text.split("\nCONTEXT: ", 1)[0]
        if prompt is not None:
            versions.setdefault(prompt_version(prompt), prompt)
    return versions


def check_prompt_trained(system_prompt: str | None, trained: dict[str, str]) -> None:
    """EvaluateError when the prompt in force was never trained on (no check without training prompts)."""
    if not trained or system_prompt is None:
        return
    version = prompt_version(system_prompt)
    if version not in trained:
        seen = "; ".join(f"{v}: {p[:60]!r}" for v, p in sorted(trained.items()))
        raise EvaluateError(f"system prompt mismatch: evaluating under {version} ({system_prompt[:60]!r}, from params "
                            f"assistant.system_prompt or LOGTUNE_SYSTEM_PROMPT[_EXTRA]) but the SFT data was "
                            f"rendered with {seen}")


# ---------------------------------------------------------------- baseline

def champion_dir(manifest_path: str | Path | None, log: Callable[[str], None] | None = print) -> Path | None:
    """The released champion's model directory from `release/manifest.json` (`model.dir`, relative to the
    repository root, i.e. the manifest folder's parent), or None with a message when there is none yet."""
    say = log or (lambda _: None)
    if manifest_path is None or not Path(manifest_path).is_file():
        say(f"[evaluate] baseline champion: no release manifest at {manifest_path}; scoring the --model models only")
        return None
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    rel = (manifest.get("model") or {}).get("dir")
    if not rel:
        say(f"[evaluate] baseline champion: {manifest_path} names no model.dir; scoring the --model models only")
        return None
    path = Path(manifest_path).resolve().parent.parent / rel
    if not path.is_dir():
        raise EvaluateError(f"{manifest_path}: model.dir {rel!r} is not a directory ({path})")
    return path


# ---------------------------------------------------------------- generation and scoring

def generate_for_dir(model_dir: str | Path, conversations: list[list[dict[str, str]]], *, max_new_tokens: int = 48,
                     batch_size: int = 16, seed: int = 0, torch_threads: int = 1,
                     log: Callable[[str], None] | None = print, label: str = "") -> list[str]:
    """Greedy replies of the model in `model_dir` to each chat (role/content lists, system message included),
    in order. The public entry point for anything that replays prompts through a model (evaluate, dry-run):
    loads the directory (adapters merged in memory), then `generate.generate_replies`."""
    import torch

    from logtune.models import load_model  # heavy import (peft) only when a model is scored

    model, tokenizer = load_model(model_dir)
    if hasattr(model, "merge_and_unload"):
        # A PEFT adapter generates about 2x slower unmerged on CPU (extra LoRA matmuls every step);
        # merged weights give the same function, and this in-memory copy is never saved.
        model = model.merge_and_unload()
    # A tiny model's per-token matmuls are too small to split across threads: on a shared 2-core CPU,
    # 2 threads measured ~10x slower than 1 (threads spin waiting for each other). Restored afterwards.
    threads = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    try:
        return generate_replies(model, tokenizer, conversations, max_new_tokens=max_new_tokens,
                                batch_size=batch_size, seed=seed, log=log, label=label)
    finally:
        torch.set_num_threads(threads)


def evaluate_model(name: str, model_dir: str | Path, cases: list[GoldenCase], params: EvaluateParams,
                   system_prompt: str | None, log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """Scored EVAL_RESULT rows of model `name` (loaded from `model_dir`) on every case, in case order."""
    replies = generate_for_dir(model_dir, [case_messages(c, system_prompt) for c in cases],
                               max_new_tokens=params.max_new_tokens, batch_size=params.batch_size, seed=params.seed,
                               torch_threads=params.torch_threads, log=log, label=name)
    rules = params.rules()
    return [score_case(c, r, name, rules) for c, r in zip(cases, replies)]


def reply_record(case: GoldenCase, row: dict[str, Any]) -> dict[str, Any]:
    """A human-readable line of replies.jsonl: the question, what was expected, what the model said, what failed."""
    expected: dict[str, Any] = {"contains": list(case.contains), "must_refuse": case.must_refuse}
    if case.tool_call is not None:
        expected["tool_call"] = case.tool_call if isinstance(case.tool_call, str) else \
            {"name": case.tool_call.name, "arguments": case.tool_call.arguments}
    if case.persona:
        expected["persona"] = case.persona
    return {
        "model": row["model"],
        "case_id": case.id,
        "case_type": case.case_type,
        "question": case.messages[-1]["content"],
        "expected": expected,
        "reply": row["reply"],
        "passed": row["passed"],
        "refused": row["refused"],
        "hallucinated_ids": row["hallucinated_ids"],
        "problems": row.get("problems", {}),
    }
