"""Stable content-hash ids, so the same input always yields the same ids across re-exports."""

from __future__ import annotations

import hashlib


def content_id(*parts: object, length: int = 16) -> str:
    """Hex sha256 of the parts joined by a separator that cannot occur in them unescaped."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def conversation_id(source: str, source_id: str) -> str:
    """Id of a normalized conversation: hash of the source name and the id it had in that source."""
    return content_id("conversation", source, source_id)


def prompt_version(system_prompt: str | None) -> str | None:
    """Version of a system prompt: the first 12 hex digits of its sha256 (None when there is none)."""
    if system_prompt is None:
        return None
    return hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()[:12]
