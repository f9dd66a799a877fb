"""Detecting and redacting PII and secrets in free text.

One set of detectors, used by `curate` (to redact) and by `validate` (to prove nothing is left), so
the two can never disagree. Each detector is a regex plus, where a format has one, a checksum
(Luhn for payment cards, mod-97 for IBANs) so that ordinary numbers in real text are not blurred.
Redaction replaces a value by a typed, numbered placeholder (`<EMAIL_1>`); the same value gets the
same placeholder throughout one conversation, so the text still reads coherently.

Kinds: EMAIL, PHONE (+CC / 00CC international forms, North-American shapes), IP_ADDRESS (IPv4 with a
real-looking octet, IPv6 full or compressed), CARD (Luhn), IBAN (mod-97), API_KEY (Anthropic, OpenAI,
AWS access key id and secret, GitHub, Slack, Google), JWT, BEARER_TOKEN, PRIVATE_KEY blocks,
URL_CREDENTIALS (the whole URL), SLACK_WEBHOOK, SECRET (the value after password= / api_key: / ...).
Measured (tests/unit/test_pii_corpus.py): recall 100% on 550 planted values in varied formats and
sentences; 0 of 6,842 real SQuAD v2 / Dolly texts changed. Speed: a text with no needle literal
(`@`, `://`, `sk-`, ...), fewer digits than any number kind needs and no colon returns after three C
scans; only the detectors a text can match run their regex.

Not for structured fields: the backend CONTEXT (ids, titles, people) is the assistant's ground
truth and is never passed through here.
"""

from __future__ import annotations

import ipaddress
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


def _ipv6_ok(value: str) -> bool:
    # a real address: parses, and has 3+ groups, or 1-2 groups one of which looks like an address
    # part (3+ hex digits with a number: "fe80::1"), so C++ "a::b" and "std::max" prose is not one
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    groups = [g for g in value.split(":") if g]
    return len(groups) >= 3 or any(len(g) >= 3 and any(c.isdigit() for c in g) for g in groups)


def _secret_hint(text: str) -> bool:
    lower = text.lower() if ("=" in text or ":" in text) else ""
    return any(n in lower for n in ("password", "passwd", "api_key", "apikey", "api-key", "secret", "_token"))


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern
    hint: Callable[[str], bool] | None = None  # a cheap pre-check before running the regex
    valid: Callable[[str], bool] | None = None
    group: int = 0                       # the regex group holding the value (the rest is its label)
    min_digits: int = 0                  # fewer digits in the whole text: the regex cannot match
    needles: tuple[str, ...] = ()        # literals one of which every match contains (checked with `in`)


# Order matters only for ties: overlapping matches are resolved longest-first, then by this order.
DETECTORS: list[Detector] = [
    Detector("PRIVATE_KEY", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S),
        needles=("PRIVATE KEY-----",)),
    # The whole URL goes (host and path can name the account too), minus trailing punctuation.
    Detector("URL_CREDENTIALS", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s/@]+@[^\s/<>\"'`),;]+(?:/[^\s<>\"'`)]*[^\s<>\"'`).,;:!?])?"),
        needles=("://",)),
    Detector("SLACK_WEBHOOK", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"), needles=("hooks.slack",)),
    Detector("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"), needles=("eyJ",)),
    Detector("BEARER_TOKEN", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), needles=("earer", "EARER")),
    Detector("API_KEY", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}"), needles=("sk-ant-",)),
    Detector("API_KEY", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), needles=("sk-",)),
    Detector("API_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), needles=("AKIA", "ASIA")),
    # AWS secret access keys are 40 base64 characters with no prefix: only found beside their name.
    Detector("API_KEY", re.compile(r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
             needles=("ecret_access_key", "ECRET_ACCESS_KEY"), group=1),
    # password=..., api_key: ..., "secret": "..." : the value after a secret's name.
    Detector("SECRET", re.compile(
        r"(?i)\b(?:password|passwd|api[_-]?key|secret|client_secret|access_token|auth_token)"
        r"[\"']?\s*[:=]\s*[\"']?([^\s\"',;&<>]{6,})"), _secret_hint, group=1,
             needles=("assword", "ASSWORD", "asswd", "ASSWD", "pi_key", "PI_KEY", "pikey", "PIKEY", "pi-key", "PI-KEY",
                      "ecret", "ECRET", "_token", "_TOKEN")),
    Detector("API_KEY", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
             needles=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Detector("API_KEY", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), needles=("xox",)),
    Detector("API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), needles=("AIza",)),
    Detector("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), needles=("@",)),
    Detector("CARD", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), valid=_luhn_ok, min_digits=13),
    Detector("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
             hint=re.compile(r"[A-Z]{2}\d\d").search, valid=_iban_ok, min_digits=8),
    Detector("IP_ADDRESS", re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)"), valid=_ipv4_ok, min_digits=4),
    # IPv6: full, or compressed with "::"; times like 12:30:45 have no "::" and too few groups.
    Detector("IP_ADDRESS", re.compile(
        r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
        r"|(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}"
        r"|(?:[0-9A-Fa-f]{1,4}:){1,7}:|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4})(?![\w:])"),
        hint=re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f:]|::").search, valid=_ipv6_ok),
    # Phone numbers: international (+CC ...) or North-American shapes; bare digit runs are not phones.
    Detector("PHONE", re.compile(
        r"(?<![\w+])(?:\+|00(?=[1-9]))\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
        r"|(?<![\w(])\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?!\w)"
        r"|(?<![\w-])\d{3}[-. ]\d{3}[-. ]\d{4}(?![\w-])"), min_digits=7),
]


# Every detector's needles in one scan: most texts hold none, and then no needle detector runs.
_ANY_NEEDLE = re.compile("|".join(sorted({re.escape(n) for d in DETECTORS for n in d.needles})))
_RANKED = list(enumerate(DETECTORS))
_RANKED_WITHOUT_NEEDLES = [(rank, d) for rank, d in _RANKED if not d.needles]
_MIN_DIGITS = min(d.min_digits for d in DETECTORS if not d.needles and d.min_digits)
assert all(d.needles or d.min_digits or d.kind == "IP_ADDRESS" for d in DETECTORS), "a detector the fast path skips"


def find_pii(text: str | None) -> list[PiiMatch]:
    """Every PII/secret match in `text`, non-overlapping (longest wins), in order of position."""
    if not text:
        return []
    found: list[tuple[int, int, int, PiiMatch]] = []
    # Counted once per text (str.count runs in C): most texts have too few digits for any number kind.
    digits = sum(map(text.count, "0123456789"))
    any_needle = _ANY_NEEDLE.search(text) is not None
    if not any_needle and digits < _MIN_DIGITS and ":" not in text:
        return []   # the common case: no needle, too few digits for a number kind, no IPv6 colon
    for rank, det in (_RANKED if any_needle else _RANKED_WITHOUT_NEEDLES):
        if digits < det.min_digits:
            continue
        if det.needles and not any(n in text for n in det.needles):
            continue
        if det.hint is not None and not det.hint(text):
            continue
        for m in det.pattern.finditer(text):
            value = m.group(det.group)
            if det.kind == "PHONE" and sum(c.isdigit() for c in value) < 7:
                continue
            if det.valid is not None and not det.valid(value):
                continue
            start, end = m.start(det.group), m.end(det.group)
            found.append((start, start - end, rank, PiiMatch(det.kind, value, start, end)))
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
