"""Prompt templates: one file per task under `prompts/`, versioned by the hash of its text.

A file holds the system prompt, a line `=== user ===`, then the user message. Placeholders are
`$name` / `${name}` (string.Template), so JSON braces in a template need no escaping. The version
(first 12 hex digits of the sha256 of the whole file) is recorded on every generated record
(`generated_by.prompt_version`) and is part of every cache key: editing a template re-requests
exactly the responses that template produced, and old records say which wording made them.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path

SEPARATOR = "=== user ==="
PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"   # the repo's prompts/ (version-controlled)


class TemplateError(ValueError):
    """A template file without the separator, or a placeholder the task does not fill."""


@dataclass(frozen=True)
class Template:
    task: str
    system: string.Template
    user: string.Template
    version: str

    def render(self, values: dict[str, str]) -> tuple[str, str]:
        """(system, user) with every placeholder filled; a missing value is a TemplateError."""
        try:
            return self.system.substitute(values).strip(), self.user.substitute(values).strip()
        except (KeyError, ValueError) as e:
            raise TemplateError(f"prompts/{self.task}.txt: placeholder {e} has no value") from None


def template_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_template(task: str, prompts_dir: str | Path | None = None) -> Template:
    path = Path(prompts_dir or PROMPTS_DIR) / f"{task}.txt"
    text = path.read_text(encoding="utf-8")
    if SEPARATOR not in text:
        raise TemplateError(f"{path}: no '{SEPARATOR}' line between the system prompt and the user message")
    system, user = text.split(SEPARATOR, 1)
    return Template(task, string.Template(system), string.Template(user), template_version(text))
