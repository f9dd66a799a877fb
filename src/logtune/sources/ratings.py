"""Thumbs up/down in every spelling the log formats use -> +1 / -1 (never guessed: anything else is Unfit)."""

from __future__ import annotations

from typing import Any

from logtune.sources import Unfit

RATING_WORDS = {"1": 1, "+1": 1, "-1": -1, "up": 1, "down": -1, "thumbsup": 1, "thumbsdown": -1,
                "thumbs_up": 1, "thumbs_down": -1, "thumb_up": 1, "thumb_down": -1, "positive": 1,
                "negative": -1, "like": 1, "dislike": -1, "good": 1, "bad": -1}


def parse_rating(value: Any) -> int | None:
    """+1 / -1 for a thumbs value in any spelling the formats use (1/-1, "thumbsUp", "thumbs_down", "up",
    true/false, ...), None for None; Unfit("unknown_rating") for anything else (never guessed)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1 if value else -1
    if isinstance(value, (int, float)) and value in (1, -1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in RATING_WORDS:
        return RATING_WORDS[value.strip().lower()]
    raise Unfit("unknown_rating", f"rating {value!r} is not a thumbs up/down")
