"""Detecting and redacting PII and secrets in free text.

One set of detectors, used by `curate` (to redact) and by `validate` (to prove nothing is left), so
the two can never disagree. Each detector is a regex plus, where a format has one, a checksum
(Luhn for payment cards, mod-97 for IBANs) so that ordinary numbers in real text are not blurred.
Redaction replaces a value by a typed, numbered placeholder (`<EMAIL_1>`); the same value gets the
same placeholder throughout one conversation, so the text still reads coherently.

Not for structured fields: the backend CONTEXT (ids, titles, people) is the assistant's ground
truth and is never passed through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    value: str
    start: int
    end: int


def _luhn_ok(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    s = re.sub(r"\s+", "", value).upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ipv4_ok(value: str) -> bool:
    parts = value.split(".")
    # version strings like 1.2.3.4 are rare in logs, but all-small octets are too: keep it simple,
    # require valid octets and at least one octet above 9 so "1.2.3.4"-style section numbers pass.
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts) \
        and any(int(p) > 9 for p in parts)


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern
    hint: Callable[[str], bool]          # cheap literal pre-check before running the regex
    valid: Callable[[str], bool] | None = None


def _has(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(n in text for n in needles)


def _has_digits(min_count: int) -> Callable[[str], bool]:
    return lambda text: sum(c.isdigit() for c in text) >= min_count


# Order matters only for ties: overlapping matches are resolved longest-first, then by this order.
DETECTORS: list[Detector] = [
    Detector("PRIVATE_KEY", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)", re.S),
        _has("PRIVATE KEY-----")),
    Detector("URL_CREDENTIALS", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s/@]+@[^\s/]+"), _has("://")),
    Detector("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"), _has("eyJ")),
    Detector("BEARER_TOKEN", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), lambda t: "earer" in t or "EARER" in t),
    Detector("API_KEY", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}"), _has("sk-ant-")),
    Detector("API_KEY", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), _has("sk-")),
    Detector("API_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _has("AKIA", "ASIA")),
    Detector("API_KEY", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
             _has("gh", "github_pat_")),
    Detector("API_KEY", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), _has("xox")),
    Detector("API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), _has("AIza")),
    Detector("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), _has("@")),
    Detector("CARD", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _has_digits(13), _luhn_ok),
    Detector("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _has_digits(4), _iban_ok),
    Detector("IP_ADDRESS", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), _has("."), _ipv4_ok),
    # Phone numbers: international (+CC ...) or North-American shapes; bare digit runs are not phones.
    Detector("PHONE", re.compile(
        r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
        r"|(?<![\w(])\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?!\w)"
        r"|(?<![\w-])\d{3}[-. ]\d{3}[-. ]\d{4}(?![\w-])"), _has_digits(7)),
]


def find_pii(text: str | None) -> list[PiiMatch]:
    """Every PII/secret match in `text`, non-overlapping (longest wins), in order of position."""
    if not text:
        return []
    found: list[tuple[int, int, int, PiiMatch]] = []
    for rank, det in enumerate(DETECTORS):
        if not det.hint(text):
            continue
        for m in det.pattern.finditer(text):
            value = m.group(0)
            if det.kind == "PHONE" and sum(c.isdigit() for c in value) < 7:
                continue
            if det.valid is not None and not det.valid(value):
                continue
            found.append((m.start(), -(m.end() - m.start()), rank, PiiMatch(det.kind, value, m.start(), m.end())))
    found.sort()
    out: list[PiiMatch] = []
    end = -1
    for start, _, _, match in found:
        if start >= end:
            out.append(match)
            end = match.end
    return out


def redact(text: str | None, seen: dict[str, str]) -> tuple[str | None, list[str]]:
    """Replace each PII value by its placeholder; `seen` (value -> placeholder) spans one conversation.

    Returns the redacted text and the kinds replaced (one entry per occurrence).
    """
    matches = find_pii(text)
    if not matches:
        return text, []
    counts: dict[str, int] = {}
    for placeholder in seen.values():
        kind = placeholder[1:placeholder.rindex("_")]
        counts[kind] = counts.get(kind, 0) + 1
    pieces, kinds, pos = [], [], 0
    for m in matches:
        if m.value not in seen:
            counts[m.kind] = counts.get(m.kind, 0) + 1
            seen[m.value] = f"<{m.kind}_{counts[m.kind]}>"
        pieces.append(text[pos:m.start])
        pieces.append(seen[m.value])
        kinds.append(m.kind)
        pos = m.end
    pieces.append(text[pos:])
    return "".join(pieces), kinds
