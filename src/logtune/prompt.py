"""How a conversation is shown to the model: system prompt plus the backend's CONTEXT.

One function used by `build` (training examples) and `evaluate` (golden cases), so the model is
scored with exactly the prompt layout it was trained on; a mismatch there is a classic silent failure.
"""

from __future__ import annotations

import json
import re
from typing import Any


def _ids_first(obj: Any) -> Any:
    # A record's fields follow its id: a model that finds the id it was asked about then reads the
    # fact right after it (sorted keys would put e.g. "due" before "id", out of that reach).
    if isinstance(obj, dict):
        keys = sorted(obj, key=lambda k: (k != "id", k))
        return {k: _ids_first(obj[k]) for k in keys}
    if isinstance(obj, list):
        return [_ids_first(v) for v in obj]
    return obj


def compact_context(context: str | dict | list | None) -> str | None:
    """CONTEXT as compact canonical JSON text: `id` first in each object, other keys sorted.

    None stays None; text that is not JSON is an error. Canonical, so the same CONTEXT always
    renders the same, whatever key order the backend logged it in.
    """
    if context is None:
        return None
    obj = json.loads(context) if isinstance(context, str) else context
    return json.dumps(_ids_first(obj), separators=(",", ":"), ensure_ascii=False)


def render_system(system_prompt: str | None, context: str | dict | list | None) -> str | None:
    """The system message the model sees: the prompt, then `CONTEXT:` and the compact JSON."""
    ctx = compact_context(context)
    parts = [p for p in (system_prompt, f"CONTEXT: {ctx}" if ctx is not None else None) if p]
    return "\n".join(parts) if parts else None


_CONTEXT_LINE = re.compile(r"(?m)^CONTEXT: ")


def split_system(system: str | None) -> tuple[str, str | None]:
    """The inverse of `render_system`: (system prompt, CONTEXT JSON text or None) of a rendered system message."""
    text = system or ""
    for m in _CONTEXT_LINE.finditer(text):
        rest = text[m.end():]
        try:
            json.loads(rest)
        except ValueError:
            continue  # "CONTEXT: " inside the prompt itself, not the rendered CONTEXT line
        return text[:m.start()].rstrip("\n"), rest
    return text, None


def with_system(messages: list[dict[str, Any]], system_prompt: str | None, context: Any) -> list[dict[str, str]]:
    """Chat messages (role/content only) with the rendered system message first."""
    system = render_system(system_prompt, context)
    out = [{"role": "system", "content": system}] if system else []
    out += [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
    return out


ENV_PREFIX = "LOGTUNE_"   # params `assistant.env_prefix`; seed 000's deployment used "ISPEC_ASSISTANT_"
SYSTEM_PROMPT_ENV = ENV_PREFIX + "SYSTEM_PROMPT"              # replaces the prompt from params (seed 000)
SYSTEM_PROMPT_EXTRA_ENV = ENV_PREFIX + "SYSTEM_PROMPT_EXTRA"  # appended to it, after a blank line


def env_names(env_prefix: str = ENV_PREFIX) -> tuple[str, str]:
    """(replace, extra) variable names under a deployment's prefix: "ISPEC_ASSISTANT_" gives
    ISPEC_ASSISTANT_SYSTEM_PROMPT and ISPEC_ASSISTANT_SYSTEM_PROMPT_EXTRA (seed 000's names)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_prefix or ""):
        raise ValueError(f"assistant.env_prefix {env_prefix!r} is no environment variable prefix "
                         "(letters, digits and _, not starting with a digit)")
    return env_prefix + "SYSTEM_PROMPT", env_prefix + "SYSTEM_PROMPT_EXTRA"


def params_env_prefix(params: dict[str, Any]) -> str:
    """`assistant.env_prefix` of a params.yaml mapping, LOGTUNE_ when unset."""
    return (params.get("assistant") or {}).get("env_prefix") or ENV_PREFIX


def effective_system_prompt(from_params: str | None, environ: dict[str, str] | None = None,
                            env_prefix: str = ENV_PREFIX) -> str | None:
    """The system prompt in force: params' `assistant.system_prompt`, replaced by $<prefix>SYSTEM_PROMPT when
    set, then $<prefix>SYSTEM_PROMPT_EXTRA appended (seed 000's serving overrides; the prefix is params
    `assistant.env_prefix`, LOGTUNE_ by default).

    DVC does not track environment variables, so whatever uses this must record `ids.prompt_version` of
    the result (metrics, model card, release manifest): a changed prompt then shows up as a changed version.
    """
    import os

    replace, append = env_names(env_prefix)
    env = os.environ if environ is None else environ
    prompt = env.get(replace) or from_params
    extra = env.get(append)
    if extra:
        prompt = f"{prompt}\n\n{extra}" if prompt else extra
    return prompt
