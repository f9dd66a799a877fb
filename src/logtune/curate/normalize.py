"""Normalized text and CONTEXT keys: what "the same" means for duplicates and golden-set overlap.

Two texts are the same when they differ only in Unicode form, case and whitespace; two CONTEXTs are
the same when they are the same JSON value (key order and spacing do not matter). Used by curate
(exact duplicates, golden decontamination) and by build (golden overlap of single turns).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from logtune.prompt import compact_context

_SPACE = re.compile(r"\s+")


def normalize_text(text: str | None) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped ('' for None)."""
    if not text:
        return ""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def normalize_context(context: str | dict | list | None) -> str:
    """CONTEXT as normalized compact, key-sorted JSON ('' when absent); raises ValueError if not JSON."""
    if context is None:
        return ""
    return normalize_text(compact_context(context))


def context_is_valid(context: Any) -> bool:
    try:
        normalize_context(context)
    except (ValueError, TypeError):
        return False
    return True
