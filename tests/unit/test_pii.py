"""logtune.pii: each detector on a literal text; redaction placeholders; no blurring of ordinary text."""

import pytest

from logtune.pii import find_pii, redact


@pytest.mark.parametrize("text, kind, value", [
    ("mail jane.doe@lab.example.org now", "EMAIL", "jane.doe@lab.example.org"),
    ("call +1 617-555-0143 today", "PHONE", "+1 617-555-0143"),
    ("call (617) 555-0143", "PHONE", "(617) 555-0143"),
    ("call 617.555.0143", "PHONE", "617.555.0143"),
    ("ring +44 20 7946 0958", "PHONE", "+44 20 7946 0958"),
    ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wx", "API_KEY", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wx"),
    ("key sk-proj-abcdefghijklmnopqrstuvwx", "API_KEY", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("aws AKIAIOSFODNN7EXAMPLE", "API_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("gh ghp_" + "a1" * 18, "API_KEY", "ghp_" + "a1" * 18),
    ("slack xoxb-1234567890-abcdefghij", "API_KEY", "xoxb-1234567890-abcdefghij"),
    ("card 4111 1111 1111 1111.", "CARD", "4111 1111 1111 1111"),
    ("iban GB82 WEST 1234 5698 7654 32", "IBAN", "GB82 WEST 1234 5698 7654 32"),
    ("host 192.168.10.5 down", "IP_ADDRESS", "192.168.10.5"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456", "BEARER_TOKEN", "Bearer abcdefghijklmnopqrstuvwxyz123456"),
    ("db postgres://admin:hunter2@db.internal:5432/x.", "URL_CREDENTIALS", "postgres://admin:hunter2@db.internal:5432/x"),
    ("host 2001:db8::8a2e:370:7334 down", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ("ip 203.0.113.7.", "IP_ADDRESS", "203.0.113.7"),
    ("ring 0044 20 7946 0958", "PHONE", "0044 20 7946 0958"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "JWT",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("set password=Tr0ub4dor&3", "SECRET", "Tr0ub4dor"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "API_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("hook https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "SLACK_WEBHOOK",
     "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "PRIVATE_KEY",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"),
])
def test_detector_finds_planted_value(text, kind, value):
    assert [(m.kind, m.value) for m in find_pii(text)] == [(kind, value)]


@pytest.mark.parametrize("text", [
    "Project PRJ-1042 is due 2024-05-17; sample SMP-20931 arrived.",
    "In 1990-1995 the population was 1,234,567 people.",
    "card-like but fails Luhn: 4111 1111 1111 1112",
    "section 1.2.3.4 of the manual",
    "call 911 or see page 555",
    "the meeting runs 10:30:45 to 11:00:00, see std::vector and a::b",
    "version 2.10.1 released; the password is in the vault",
])
def test_ordinary_text_is_not_pii(text):
    assert find_pii(text) == []


def test_same_value_same_placeholder_within_a_conversation():
    seen: dict[str, str] = {}
    first, kinds = redact("mail a@b.co or c@d.io", seen)
    second, _ = redact("again: c@d.io", seen)
    assert first == "mail <EMAIL_1> or <EMAIL_2>"
    assert second == "again: <EMAIL_2>"
    assert kinds == ["EMAIL", "EMAIL"]


def test_redact_leaves_clean_text_alone():
    assert redact("nothing here", {}) == ("nothing here", [])
    assert redact(None, {}) == (None, [])
