"""Detecting and redacting PII and secrets in free text.

One set of detectors, used by `curate` (to redact) and by `validate` (to prove nothing is left), so
the two can never disagree. Each detector is a regex plus, where a format has one, a checksum or
validity rule, so that ordinary numbers in real text are not blurred. Redaction replaces a value by a
typed, numbered placeholder (`<EMAIL_1>`); the same value gets the same placeholder throughout one
conversation, so the text still reads coherently.

Kinds:
- EMAIL; PHONE: found by Google's libphonenumber (`phonenumbers.PhoneNumberMatcher`) for each region
  in `PiiParams.regions` (any number written with +CC / 00CC is found whatever the regions), with
  extensions (`x0522`); a candidate is kept when it is international, or valid in a region and
  written like a phone (grouped, in brackets, with an extension, or a bare run with the national 0),
  or a phone word (call, tel, Telefon, numéro, 电话, ...) stands just before it. Never kept: dates,
  year ranges, decimals, dotted versions and IPs, ISBNs, parts of UUIDs or hashes.
- NATIONAL_ID: US SSN (area/group/serial rules; bare 9 digits only after "SSN"), UK National
  Insurance number (prefix rules), French NIR (mod-97 key), Italian codice fiscale (check letter).
- CARD: 12-19 digits with Luhn and a card-network prefix (Visa, Mastercard, Amex, Discover, JCB,
  Diners, UnionPay, Maestro incl. 12-digit); never inside a decimal, never ISBN-13 or epoch millis.
- IBAN (mod-97); IP_ADDRESS: IPv4 / IPv6, except loopback, unspecified, netmasks and a dotted quad
  written as a version ("version 5.57.91.88", "v1.2.3.40").
- Secrets: API_KEY (Anthropic, OpenAI, AWS access key id, AWS secret access key with or without its
  variable name: 40 base64 characters with mixed case, digits and high entropy, never a hex hash),
  GitHub, Slack, Google), JWT, BEARER_TOKEN, PRIVATE_KEY blocks, URL_CREDENTIALS (the whole URL,
  trailing `/` included), SLACK_WEBHOOK, SECRET (the value after password= / pwd: / Passwort: /
  mot de passe : / contraseña: / "my password is ..." / api_key: ..., symbols such as & and * kept in).
Names and street addresses are NOT found by default: they need a named-entity model. Opt in with
`PiiParams.names = "presidio"` (Microsoft Presidio's analyzer over a spaCy model the user installed;
`presidio-analyzer` is not a dependency: it requires spaCy, and its default engine downloads a
missing model at run time, which logtune never does, so the model is checked first).

Measured by `benchmarks/pii_bench.py` (a Faker corpus in five locales, the real texts in
../shared/real, technical text); tests/unit/test_pii*.py pin each rule.

Structured fields go through `redact_json_text` (every string leaf of tool calls, feedback meta,
alternatives, siblings); the backend CONTEXT through `redact_context`, which leaves id-like keys
alone so grounding on ids still works.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import phonenumbers

# Regions whose national phone formats (no +CC) are recognised by default; +CC numbers are found
# for every country whatever this says. Params: curate.pii.regions.
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "GR", "CN", "IN", "BR", "AU")


@dataclass(frozen=True)
class PiiParams:
    """What to look for; `curate.pii` in params.yaml."""
    regions: tuple[str, ...] = DEFAULT_REGIONS   # ISO 3166 codes for national phone formats
    # person names and places (addresses): none | presidio (needs a local spaCy model). Not "off": YAML 1.1
    # (PyYAML) reads a bare off as false, and DVC rewrites params.yaml without the quotes.
    names: str = "none"
    names_model: str = "en_core_web_lg"   # the spaCy model presidio uses; must be installed, never downloaded

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(str(r).upper() for r in self.regions))
        unknown = [r for r in self.regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"curate.pii.regions: unknown region(s) {unknown} (ISO 3166 alpha-2, e.g. US, GB, DE)")
        if self.names not in ("none", "presidio"):
            raise ValueError(f"curate.pii.names must be none or presidio, got {self.names!r}")
        object.__setattr__(self, "_hash", hash((self.regions, self.names, self.names_model)))

    def __hash__(self) -> int:   # computed once: find_pii's cache hashes the params on every call
        return self._hash


DEFAULT_PARAMS = PiiParams()


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    value: str
    start: int
    end: int


# --- checksums and validity rules ---------------------------------------------------------------

def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Card-network prefixes (IIN) and the lengths each issues; a Luhn-valid number outside them is some
# other number (an ISBN-13 starts 978/979, epoch milliseconds start 1).
_CARD_IIN = re.compile(
    r"4\d{12}(?:\d{3}){0,2}"                          # Visa 13/16/19
    r"|(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}"   # Mastercard 16
    r"|3[47]\d{13}"                                  # Amex 15
    r"|(?:6011|65\d{2}|64[4-9]\d)\d{12,15}"           # Discover 16-19
    r"|35\d{14,17}|(?:2131|1800)\d{11}"               # JCB 16-19, and its old 15-digit ranges
    r"|3(?:0[0-5]|[68]\d)\d{11,16}"                   # Diners 14-19
    r"|62\d{14,17}"                                   # UnionPay 16-19
    r"|220[0-4]\d{12,15}"                             # Mir
    r"|(?:5[06-9]|6\d|0604)\d{10,17}")                # Maestro 12-19


def _card_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 12 <= len(digits) <= 19 and _CARD_IIN.fullmatch(digits) is not None and _luhn(digits)


def _iban_ok(value: str) -> bool:
    s = re.sub(r"\s+", "", value).upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def _ssn_ok(value: str) -> bool:
    d = re.sub(r"\D", "", value)
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN"}   # never issued (ZZ, used for test records, is kept)


def _nino_ok(value: str) -> bool:
    prefix = value[:2].upper()
    return prefix not in _NINO_BAD_PREFIX and prefix[0] not in "DFIQUV" and prefix[1] not in "DFIOQUV"


def _nir_ok(value: str) -> bool:
    s = re.sub(r"\s", "", value).upper()
    body = s[:13].replace("2A", "19").replace("2B", "18")
    return body.isdigit() and int(s[13:]) == 97 - int(body) % 97


_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
                    12, 14, 16, 10, 22, 25, 24, 23]))


def _codice_fiscale_ok(value: str) -> bool:
    s = value.upper()
    total = sum(_CF_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(s[:15]))
    return chr(65 + total % 26) == s[15]


def _ipv4_ok(value: str) -> bool:
    parts = value.split(".")
    if not (len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts)
            and any(int(p) > 9 for p in parts)):
        return False
    address = ipaddress.IPv4Address(value)
    octets = [int(p) for p in parts]
    # loopback and 0.0.0.0 name no one; a netmask (255.255.240.0) is contiguous ones then zeros
    bits = "".join(f"{o:08b}" for o in octets)
    return not (address.is_loopback or address.is_unspecified or (octets[0] == 255 and "01" not in bits))


def _ipv6_ok(value: str) -> bool:
    # a real address: parses, and has 3+ groups, or 1-2 groups one of which looks like an address
    # part (3+ hex digits with a number: "fe80::1"), so C++ "a::b" and "std::max" prose is not one
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    if address.is_loopback or address.is_unspecified:
        return False
    groups = [g for g in value.split(":") if g]
    return len(groups) >= 3 or any(len(g) >= 3 and any(c.isdigit() for c in g) for g in groups)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _aws_secret_ok(value: str) -> bool:
    # 40 random base64 characters: all of upper, lower and digits, high entropy. A hex SHA-1 / git
    # SHA has no upper case; a path or identifier has long lower-case words and low entropy.
    return (sum(c.isupper() for c in value) >= 3 and sum(c.islower() for c in value) >= 3
            and any(c.isdigit() or c in "/+" for c in value) and value.count("/") <= 4 and _entropy(value) >= 4.3)


# --- secrets after a label ----------------------------------------------------------------------

# A password's name in the languages logs come in; "pass" alone is too common a word.
_PASSWORD_WORDS = (r"passwords?|passwd|pwd|pass(?:phrase|code|wort)|kennwort|mot\s+de\s+passe|mdp|contrase[ñn]a"
                   r"|senha|parola\s+d['’]ordine|wachtwoord|has[łl]o|пароль|密码|κωδικός")
_KEY_WORDS = r"api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?token|auth[_-]?token|private[_-]?token"
# "is", "ist", "est", "è", "es", "é", "是" between the name and the value, in prose
_IS_WORDS = r"is|ist|est|è|e|es|é|era|was|war|lautet|是|είναι"
_SECRET_VALUE = r"""(?:"[^"\n]{4,}"|'[^'\n]{4,}'|(?:[^\s"'<>&]|&(?![\w.-]+=))+)"""
_SECRET_LABELLED = re.compile(
    rf"(?i)(?<![\w-])(?:{_PASSWORD_WORDS}|{_KEY_WORDS})[\"']?(?:\s*\([^)]{{0,20}}\))?\s*(?:[:=：]|=>)\s*({_SECRET_VALUE})")
_SECRET_PROSE = re.compile(
    rf"(?i)(?<![\w-])(?:{_PASSWORD_WORDS})\s+(?:(?:for|für|pour|per|de|of|del|des|du|to)(?:\s+[^\s:=]+){{1,3}}\s+)?"
    rf"(?:{_IS_WORDS})(?!\w)\s*[:：]?\s*({_SECRET_VALUE})")
# Stems one of which every secret's name contains, searched in the lower-cased text: most texts have
# none, and this one scan is far cheaper than the labelled-secret regexes.
_SECRET_STEMS = re.compile("pass|pwd|kennwort|mdp|contrase|senha|parola|wachtwoord|hasło|haslo|пароль|密码|κωδικός"
                           "|api|secret|token")


def _trim_value(value: str, before: str) -> str:
    """The secret without the punctuation around it: quotes, a sentence's full stop, and a closing
    bracket only when the text opened one before the label ("(password: abc)")."""
    if value[:1] in "\"'" and value[-1:] == value[:1]:
        return value[1:-1]
    value = value.rstrip(".,;:")
    for close, open_ in ((")", "("), ("]", "["), ("}", "{")):
        if before.count(open_) > before.count(close):
            while value.endswith(close) and value.count(close) > value.count(open_):
                value = value[:-1].rstrip(".,;:")
    return value.rstrip("'\"")


def _looks_secret(value: str, prose: bool) -> bool:
    if len(value) < 4 or len(set(value)) == 1 or set(value) <= set("*•x.X-_"):
        return False            # "********", "xxxx", "....": a masked value is no secret
    lower = value.lower()
    if lower in ("null", "none", "true", "false", "required", "empty", "hidden", "redacted") \
            or lower.startswith(("your", "<", "{", "${", "$(")) \
            or re.fullmatch(r"\$[A-Z_][A-Z0-9_]*|%\(\w+\)[sd]|\{\{.*\}\}", value) or "example" in lower or "placeholder" in lower:
        return False            # a template's stand-in ("yourpassword", "<password>", "${DB_PASS}"), not a secret
    if prose:
        # "my password is wrong / in the vault": a word is no password; a secret has a digit, a
        # symbol, or mixed case beyond a capital first letter, and 6+ characters
        return len(value) >= 6 and (any(c.isdigit() for c in value) or any(not c.isalnum() for c in value)
                                    or any(c.isupper() for c in value[1:]))
    return True


def _labelled_secrets(text: str) -> list[tuple[int, int]]:
    spans = []
    for pattern, prose in ((_SECRET_LABELLED, False), (_SECRET_PROSE, True)):
        for m in pattern.finditer(text):
            raw = m.group(1)
            value = _trim_value(raw, text[max(0, m.start() - 200):m.start()])
            if not _looks_secret(value, prose):
                continue
            start = m.start(1) + raw.index(value)
            spans.append((start, start + len(value)))
    return spans


# --- phone numbers ------------------------------------------------------------------------------

_PHONE_CUE = re.compile(
    r"(?i)(?:\b(?:tel|tél|phone|telephone|téléphone|telefon|telefono|teléfono|telefoonnummer|mobile?|mobil|cell|"
    r"handy|portable|cellulare|móvil|fax|call|ring|dial|text|sms|whatsapp|signal|contact|reach|number|nummer|"
    r"numéro|numero|número|rufnummer|anrufen|appel(?:ez|er)|joindre|chiam\w*|hotline|tlf|τηλ\w*)\b|电话|手机|号码|電話)"
    r"[^\n]{0,30}$")
# a whole candidate that is a date, a date and time, or a range of years
_DATE_LIKE = re.compile(r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:\D.*)?"
                        r"|(?:1[5-9]|20)\d\d\s*[-–/]\s*(?:(?:1[5-9]|20)\d\d|\d\d)")
# a word that makes the number that follows some other number (on the same line, just before it)
_TECH_BEFORE = re.compile(r"(?i)(?:\b(?:isbn(?:-1[03])?|version|ver|release|build|v|doi|issn|id|uuid|sha|hash|page|pp?)\W{0,3}"
                          r"|\b(?:tracking|order|invoice|ticket|case|ref|reference|account|serial|confirmation|booking|"
                          r"policy|customer|member|model|part|item|batch|lot|transaction|shipment|parcel)(?![a-z])[^\n]{0,20}|#)$")
# a run that is one date and nothing else: never a phone number, and common in logs (skips the parser)
_DATE_ONLY = re.compile(r"\d{4}[-/.]\d{2}[-/.]\d{2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_PHONE_EXT = re.compile(r"(?i)\s*(?:x|ext\.?|extension|#)\s*\d{1,6}$")


def _isbn13(digits: str) -> bool:
    return len(digits) == 13 and digits[:3] in ("978", "979") and \
        sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits)) % 10 == 0


def _phone_kept(text: str, start: int, end: int, valid_in: set[str], regions: tuple[str, ...], mobile: bool) -> bool:
    raw = text[start:end]
    before, after = text[max(0, start - 40):start], text[end:end + 2]
    # glued to a word, a hash, a path or a decimal: part of something else
    if before[-1:] and (before[-1].isalnum() or before[-1] in "-_/.\\" or (before[-1] == "." and before[-2:-1].isdigit())):
        return False
    if after[:1] and (after[0].isalnum() or after[0] in "-_/\\") or (after[:1] in ".," and after[1:2].isdigit()):
        return False
    if re.search(r"\d[ .-]$", before) or re.match(r"[ .-]\d", text[end:end + 2]):
        return False            # a piece of a longer digit group (a card that failed Luhn)
    core = _PHONE_EXT.sub("", raw)
    digits = re.sub(r"\D", "", core)
    if core.count("(") != core.count(")") or re.search(r"\s[/*+=x]\s|\.\s", core):
        return False            # "(161.86 / 74.99": a formula
    if re.fullmatch(r"\d{3}-\d{2}-\d{4}", core):
        return False            # SSN-shaped: the NATIONAL_ID detector judges it, with the SSN rules
    if _DATE_LIKE.fullmatch(core) or _isbn13(digits) or len(digits) > 15 or _TECH_BEFORE.search(before):
        return False
    if "." in core and not re.search(r"[\s()+-]", core):
        groups = core.split(".")
        if len(groups) <= 2 or any(len(g) < 2 for g in groups) or len(groups) == 4 and all(len(g) <= 3 for g in groups):
            return False        # a decimal, a version, a dotted quad
    cue = _PHONE_CUE.search(before) is not None
    if core.startswith(("+", "00")) or (core.startswith("(") and core[1:3] in ("+", "00")):
        return len(digits) >= 8
    if cue:
        return len(digits) >= 7
    if len(digits) < 9:
        return False
    bare = core.isdigit()
    if bare:
        if len(digits) > 12 or (len(digits) == 10 and digits[0] == "1"):
            return False        # epoch seconds and millis; no phone plan writes 10 digits from 1
        if digits.startswith("0"):
            return bool(valid_in) or len(digits) >= 10
        # no trunk 0: a North-American NXX-NXX-XXXX, or valid where the numbering plan is strict
        # (German numbers are valid at almost any length, so DE alone does not count)
        nanp = re.fullmatch(r"1?[2-9]\d{2}[2-9]\d{6}", digits) is not None and ("US" in regions or "CA" in regions)
        # a 9-digit bare run is kept only as a mobile number (Italy's 3xx xxxxxx)
        return nanp or (bool(valid_in - {"DE"}) and (len(digits) >= 10 or mobile))
    shaped = "(" in core or _PHONE_EXT.search(raw) is not None or len(re.findall(r"\d+", core)) >= 3
    return bool(valid_in) or shaped


# A run of digits and phone punctuation (with an extension): where libphonenumber is asked to look.
# Its matcher is thorough and slow (it parses every digit group it meets, once per region), so it
# only sees these runs, and only those with enough digits to be a phone number.
_PHONE_RUN = re.compile(r"(?:\(?\+|\()?\d[\d \t().\-/]*\d(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?", re.I)


@functools.lru_cache(maxsize=65536)
def _phone_candidates(run: str, regions: tuple[str, ...]) -> tuple[tuple[int, int, frozenset[str], bool], ...]:
    """(start, end, regions where valid, mobile somewhere but DE) of each number libphonenumber finds in `run`."""
    found: dict[tuple[int, int], set[str]] = {}
    mobile: set[tuple[int, int]] = set()
    for region in regions:
        for m in phonenumbers.PhoneNumberMatcher(run, region, leniency=phonenumbers.Leniency.POSSIBLE):
            # "(+1-839-789-4719)": the matcher takes the opening bracket, not the closing one
            start = m.start + 1 if m.raw_string.startswith("(") and m.raw_string.count("(") > m.raw_string.count(")") else m.start
            valid = found.setdefault((start, m.end), set())
            if phonenumbers.is_valid_number(m.number):
                valid.add(region)
                if region != "DE" and phonenumbers.number_type(m.number) == phonenumbers.PhoneNumberType.MOBILE:
                    mobile.add((start, m.end))
    return tuple((a, b, frozenset(v), (a, b) in mobile) for (a, b), v in found.items())


def _phones(text: str, regions: tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    for run in _PHONE_RUN.finditer(text):
        if sum(c.isdigit() for c in run.group()) < _MIN_PHONE_DIGITS or _DATE_ONLY.fullmatch(run.group()):
            continue
        for a, b, valid, mobile in _phone_candidates(run.group(), regions):
            start, end = run.start() + a, run.start() + b
            if _phone_kept(text, start, end, set(valid), regions, mobile):
                out.append((start, end))
    return out


# --- regex detectors ----------------------------------------------------------------------------

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
    # The whole URL goes (host and path can name the account too), a bare trailing "/" included,
    # sentence punctuation after it not.
    Detector("URL_CREDENTIALS", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s/]+@[^\s/<>\"'`),;]+"
        r"(?:/(?:[^\s<>\"'`)]*[^\s<>\"'`).,;:!?])?)?"),
        needles=("://",)),
    Detector("SLACK_WEBHOOK", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"), needles=("hooks.slack",)),
    Detector("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"), needles=("eyJ",)),
    Detector("BEARER_TOKEN", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), needles=("earer", "EARER")),
    Detector("API_KEY", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}"), needles=("sk-ant-",)),
    Detector("API_KEY", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), needles=("sk-",)),
    Detector("API_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), needles=("AKIA", "ASIA")),
    # AWS secret access keys: 40 base64 characters with no prefix; beside their name, any such value
    Detector("API_KEY", re.compile(r"(?i)aws_secret_access_key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
             needles=("ecret_access_key", "ECRET_ACCESS_KEY"), group=1),
    # ... and without it, one that looks random (see _aws_secret_ok)
    Detector("API_KEY", re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
             hint=lambda t, run=re.compile(r"[A-Za-z0-9/+]{40}").search: len(t) >= 40 and run(t) is not None,
             valid=_aws_secret_ok),
    Detector("API_KEY", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
             needles=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Detector("API_KEY", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), needles=("xox",)),
    Detector("API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), needles=("AIza",)),
    Detector("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), needles=("@",)),
    Detector("NATIONAL_ID", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), valid=_ssn_ok, min_digits=9),
    Detector("NATIONAL_ID", re.compile(r"(?i)\b(?:ssn|social security(?: number| no\.?)?)\W{0,4}(\d{9})\b"), valid=_ssn_ok,
             group=1, min_digits=9),
    Detector("NATIONAL_ID", re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), valid=_nino_ok, min_digits=6),
    Detector("NATIONAL_ID", re.compile(
        r"(?<![\w-])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])"),
        valid=_nir_ok, min_digits=13),
    Detector("NATIONAL_ID", re.compile(r"\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b"), valid=_codice_fiscale_ok,
             min_digits=7),
    Detector("CARD", re.compile(r"(?<![\w.,-])(?<!\d[.,-] )\d(?:[ -]?\d){11,18}(?![\w-])(?![.,]\d)"), valid=_card_ok, min_digits=12),
    Detector("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
             hint=re.compile(r"[A-Z]{2}\d\d").search, valid=_iban_ok, min_digits=8),
    Detector("IP_ADDRESS", re.compile(r"(?<!\d)(?<!\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)"), valid=_ipv4_ok, min_digits=4),
    # IPv6: full, or compressed with "::"; times like 12:30:45 have no "::" and too few groups.
    Detector("IP_ADDRESS", re.compile(
        r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
        r"|(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}"
        r"|(?:[0-9A-Fa-f]{1,4}:){1,7}:|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4})(?![\w:])"),
        hint=lambda t, pair=re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f:]|::").search: ":" in t and pair(t) is not None,
        valid=_ipv6_ok),
]
_RANK_SECRET, _RANK_PHONE = len(DETECTORS), len(DETECTORS) + 1
# Every detector's needles in one scan: most texts hold none, and then no needle detector runs.
_ANY_NEEDLE = re.compile("|".join(sorted({re.escape(n) for d in DETECTORS for n in d.needles})))
_RANKED = list(enumerate(DETECTORS))
_RANKED_WITHOUT_NEEDLES = [(rank, d) for rank, d in _RANKED if not d.needles]
_MIN_DIGITS = 4
# every detector a short text with no needle and no secret's name could match needs digits
assert all(d.needles or d.min_digits >= _MIN_DIGITS or d.kind == "IP_ADDRESS" or d.hint is not None for d in DETECTORS)
_IP_VERSION_BEFORE = re.compile(r"(?i)(?:\b(?:version|ver|release|build|firmware|v)\.?\s*|\bv)$")
_MIN_PHONE_DIGITS = 7


def find_pii(text: str | None, params: PiiParams = DEFAULT_PARAMS) -> list[PiiMatch]:
    """Every PII/secret match in `text`, non-overlapping (longest wins), in order of position."""
    if not text:
        return []
    # Logs repeat themselves (CONTEXT statuses and titles, canned replies): each distinct text is
    # scanned once per process.
    return list(_find_pii(text, params))


@functools.lru_cache(maxsize=1 << 16)
def _find_pii(text: str, params: PiiParams) -> tuple[PiiMatch, ...]:
    found: list[tuple[int, int, int, PiiMatch]] = []

    def add(kind: str, start: int, end: int, rank: int) -> None:
        found.append((start, start - end, rank, PiiMatch(kind, text[start:end], start, end)))

    digits = sum(map(text.count, "0123456789"))
    needle = _ANY_NEEDLE.search(text) is not None
    secret_stem = _SECRET_STEMS.search(text.lower()) is not None
    if not (needle or secret_stem or digits >= _MIN_DIGITS or len(text) >= 40 or "::" in text or params.names != "none"):
        return ()       # the common short text: nothing any detector could match (IPv4 needs 4 digits)
    for rank, det in (_RANKED if needle else _RANKED_WITHOUT_NEEDLES):
        if digits < det.min_digits:
            continue
        if det.needles and not any(n in text for n in det.needles):
            continue
        if det.hint is not None and not det.hint(text):
            continue
        for m in det.pattern.finditer(text):
            value = m.group(det.group)
            if det.valid is not None and not det.valid(value):
                continue
            if det.kind == "IP_ADDRESS" and _IP_VERSION_BEFORE.search(text[max(0, m.start() - 12):m.start()]):
                continue
            add(det.kind, m.start(det.group), m.end(det.group), rank)
    if secret_stem:
        for start, end in _labelled_secrets(text):
            add("SECRET", start, end, _RANK_SECRET)
    if digits >= _MIN_PHONE_DIGITS:
        for start, end in _phones(text, params.regions):
            add("PHONE", start, end, _RANK_PHONE)
    if params.names != "none":
        for kind, start, end in _names_engine(params.names, params.names_model)(text):
            add(kind, start, end, _RANK_PHONE + 1)
    found.sort()
    out: list[PiiMatch] = []
    end = -1
    for start, _, _, match in found:
        if start >= end:
            out.append(match)
            end = match.end
    return tuple(out)


class Placeholders:
    """value -> placeholder for one conversation: the same value is `<EMAIL_1>` everywhere in it."""

    def __init__(self) -> None:
        self.by_value: dict[str, str] = {}
        self._counts: Counter = Counter()

    def __call__(self, match: PiiMatch) -> str:
        if match.value not in self.by_value:
            self._counts[match.kind] += 1
            self.by_value[match.value] = f"<{match.kind}_{self._counts[match.kind]}>"
        return self.by_value[match.value]


def redact(text: str | None, seen: Placeholders | dict[str, str], params: PiiParams = DEFAULT_PARAMS,
           kinds: Callable[[str], bool] | None = None) -> tuple[str | None, list[str]]:
    """Replace each PII value by its placeholder; `seen` spans one conversation.

    Returns the redacted text and the kinds replaced (one entry per occurrence). `kinds`, when given,
    limits redaction to the kinds it accepts.
    """
    return _replace(text, [m for m in find_pii(text, params) if kinds is None or kinds(m.kind)], seen)


def _replace(text: str | None, matches: list[PiiMatch], seen: Placeholders | dict[str, str]) -> tuple[str | None, list[str]]:
    if not matches:
        return text, []
    placeholder = seen if isinstance(seen, Placeholders) else _dict_placeholders(seen)
    pieces, found, pos = [], [], 0
    for m in matches:
        pieces.append(text[pos:m.start])
        pieces.append(placeholder(m))
        found.append(m.kind)
        pos = m.end
    pieces.append(text[pos:])
    return "".join(pieces), found


def _dict_placeholders(seen: dict[str, str]) -> Callable[[PiiMatch], str]:
    counts = Counter(p[1:p.rindex("_")] for p in seen.values())

    def placeholder(m: PiiMatch) -> str:
        if m.value not in seen:
            counts[m.kind] += 1
            seen[m.value] = f"<{m.kind}_{counts[m.kind]}>"
        return seen[m.value]
    return placeholder


# --- structured text: JSON fields and the CONTEXT -----------------------------------------------

def _is_id_key(key: str) -> bool:
    k = key.lower()
    return k in ("id", "ids", "uuid", "slug", "ref", "sku") or k.endswith(("_id", "_ids", "id", "_ref", "_uuid"))


_SECRET_KEY = re.compile(rf"(?i)(?:[\w-]*[_-])?(?:{_PASSWORD_WORDS}|{_KEY_WORDS})")


def _leaf_pii(value: str, key: str, keep_ids: bool, params: PiiParams) -> list[PiiMatch]:
    """Matches in one JSON string leaf: `{"password": "hunter2"}` is a secret by its key alone."""
    if _SECRET_KEY.fullmatch(key) and _looks_secret(value.strip(), prose=False):
        return [PiiMatch("SECRET", value, 0, len(value))]     # before ids: "api_key" is no id
    if keep_ids and _is_id_key(key):
        return []
    return find_pii(value, params)


def _json_container(text: str) -> Any:
    """`text` parsed when it is a JSON object or array (a tool call's `arguments`, a tool result), else None."""
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, (dict, list)) else None


def _walk_strings(value: Any, edit: Callable[[str, str], str], key: str = "") -> Any:
    if isinstance(value, str):
        # JSON inside a JSON string (OpenAI's `arguments`): walked too, so its escapes ("\n") are
        # read as the characters they stand for, not as letters glued to a value
        nested = _json_container(value)
        if nested is not None:
            walked = _walk_strings(nested, edit, key)
            return value if walked == nested else json.dumps(walked, ensure_ascii=False)
        return edit(value, key)
    if isinstance(value, list):
        return [_walk_strings(v, edit, key) for v in value]
    if isinstance(value, dict):
        return {k: _walk_strings(v, edit, str(k)) for k, v in value.items()}
    return value


def redact_json_text(text: str | None, seen: Placeholders, params: PiiParams = DEFAULT_PARAMS,
                     keep_ids: bool = False, kinds: Callable[[str], bool] | None = None) -> tuple[str | None, list[str]]:
    """Redact every string leaf of a JSON text (tool calls, feedback meta, CONTEXT), keys untouched.

    A leaf that is itself JSON (OpenAI tool-call `arguments`) is walked the same way. Text that is not
    a JSON object or array (prose, a number) is redacted as plain text, so this serves any field that
    may hold either (a tool message's content). With `keep_ids`, values under id-like keys (`id`,
    `order_id`, `customerId`) are left as they are.
    """
    data = _json_container(text) if text else None
    if data is None:
        return redact(text, seen, params, kinds)
    # most JSON fields hold nothing: one cached look (feedback meta repeats) before walking to replace
    if not any(kinds is None or kinds(m.kind) for m in _find_pii_in_json(text, keep_ids, params)):
        return text, []
    found: list[str] = []

    def edit(value: str, key: str) -> str:
        matches = [m for m in _leaf_pii(value, key, keep_ids, params) if kinds is None or kinds(m.kind)]
        new, kinds_found = _replace(value, matches, seen)
        found.extend(kinds_found)
        return new
    out = _walk_strings(data, edit)
    if not found:
        return text, []
    return json.dumps(out, ensure_ascii=False), found


# The CONTEXT is the backend's authoritative record: ids, titles, statuses ground every reply, and
# grounding checks look ids up in it. Only values that identify a person or unlock something go.
CONTEXT_KINDS = frozenset({"EMAIL", "PHONE", "NATIONAL_ID", "CARD", "IBAN", "IP_ADDRESS", "API_KEY", "JWT", "BEARER_TOKEN",
                           "PRIVATE_KEY", "URL_CREDENTIALS", "SLACK_WEBHOOK", "SECRET", "PERSON", "LOCATION"})


def redact_context(text: str | None, seen: Placeholders, params: PiiParams = DEFAULT_PARAMS) -> tuple[str | None, list[str]]:
    """The CONTEXT JSON with PII kinds redacted in its values; id-like keys' values never touched."""
    return redact_json_text(text, seen, params, keep_ids=True, kinds=CONTEXT_KINDS.__contains__)


def find_pii_in_json(text: str | None, keep_ids: bool = False, params: PiiParams = DEFAULT_PARAMS) -> list[PiiMatch]:
    """What `redact_json_text` would replace: the matches in every string leaf (ids skipped with keep_ids)."""
    if not text:
        return []
    return list(_find_pii_in_json(text, keep_ids, params))


@functools.lru_cache(maxsize=1 << 14)
def _find_pii_in_json(text: str, keep_ids: bool, params: PiiParams) -> tuple[PiiMatch, ...]:
    data = _json_container(text)
    if data is None:
        return _find_pii(text, params)
    out: list[PiiMatch] = []

    def look(value: str, key: str) -> str:
        out.extend(_leaf_pii(value, key, keep_ids, params))
        return value
    _walk_strings(data, look)
    return tuple(out)


# --- names and street addresses (opt-in) --------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _names_engine(engine: str, model: str) -> Callable[[str], list[tuple[str, int, int]]]:
    """PERSON and LOCATION spans from Microsoft Presidio's analyzer over a spaCy model the user installed.

    LOCATION is spaCy's places (GPE, LOC, FAC: cities, countries, streets, buildings); it catches the
    place names in a street address, not the house number or postcode: not a postal-address parser.

    Off by default: names need a statistical NER model, which logtune never downloads. presidio's
    own default NLP engine calls `spacy.cli.download` for a missing model, so the model is checked
    first and a missing one is an error naming the `pip install` that provides it.
    """
    try:
        import spacy.util
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as e:
        raise RuntimeError(f"curate.pii.names: {engine} needs `pip install presidio-analyzer` ({e})") from e
    if not spacy.util.is_package(model):
        raise RuntimeError(f"curate.pii.names: the spaCy model {model!r} is not installed; logtune never downloads "
                           f"one: install it yourself (python -m spacy download {model}) or set curate.pii.names: none")
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    names = {"PERSON": "PERSON", "LOCATION": "LOCATION"}

    def find(text: str) -> list[tuple[str, int, int]]:
        return [(names[r.entity_type], r.start, r.end)
                for r in analyzer.analyze(text, language="en", entities=list(names)) if r.score >= 0.5]
    return find
