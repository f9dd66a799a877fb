"""Timestamps as the formats write them (ISO-8601 text, epoch seconds or milliseconds) -> ISO-8601 text.

A value that is no timestamp is a quarantine reason (`Unfit("wrong_type")`), never kept as-is or nulled:
a wrong time would misorder turns with no trace. Used by the adapters and `logtune.sources.sql`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from logtune.sources import Unfit

EPOCH_MS_ABOVE = 1e11  # a number above this is epoch milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973
TIME_UNITS = ("auto", "iso", "epoch_s", "epoch_ms")


def parse_time(value: Any, unit: str = "auto") -> tuple[str, float] | None:
    """(ISO-8601 text, epoch seconds) for a timestamp, None for None; ValueError when it is none.

    ISO text is kept as the source wrote it (checked with `datetime.fromisoformat`; a naive time counts
    as UTC for ordering); numbers, and text that is only a number, are epoch seconds or milliseconds
    (`unit`; "auto" tells them apart by size) and become ISO-8601 UTC. Anything else ("yesterday", a
    bool, an object) is a ValueError for the adapter to quarantine: a kept-as-is or silently nulled
    time would misorder turns with no trace.
    """
    if value is None:
        return None
    if unit not in TIME_UNITS:
        raise ValueError(f"time unit {unit!r} is not one of {TIME_UNITS}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"timestamp {value!r} is {type(value).__name__}, not text or a number")
    number = value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            if unit in ("epoch_s", "epoch_ms"):
                raise ValueError(f"timestamp {value!r} is not a number ({unit})") from None
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"timestamp {value!r} is not ISO-8601 text or epoch seconds/milliseconds") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return value, parsed.timestamp()
    if unit == "iso":
        raise ValueError(f"timestamp {value!r} is a number, not ISO-8601 text")
    seconds = float(number)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"timestamp {value!r} is not a finite number")
    if unit == "epoch_ms" or (unit == "auto" and abs(seconds) > EPOCH_MS_ABOVE):
        seconds /= 1000.0
    try:
        iso = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {value!r} is out of range") from None
    return iso, seconds


def to_iso(value: Any, unit: str = "auto") -> str | None:
    """A timestamp as ISO-8601 text (see `parse_time`); raises Unfit("wrong_type") when it is not one."""
    try:
        parsed = parse_time(value, unit)
    except ValueError as e:
        raise Unfit("wrong_type", str(e)) from None
    return None if parsed is None else parsed[0]
