"""PII benchmark: recall per kind on a planted Faker corpus, false positives on real text, damage on
technical text, throughput. Targets: recall >= 99% per kind, <= 0.5% of clean real texts changed, no
technical token changed.

Usage: python benchmarks/pii_bench.py [--per-kind 60] [--seed 0] [--real ../shared/real] [--show 20]

Planted corpus: values from Faker (a library written by other people than logtune's detectors) in five
locales (en_US, de_DE, fr_FR, en_GB, it_IT), each inside a sentence in the locale's language, some with a
cue word ("call me", "Passwort:"), some without. A value counts as found when redaction replaces every
character of it (for a password: the password, the label may stay); "via curate": the same text put in a
user turn, a tool call's JSON arguments and an OASST sibling, through `curate.redact.redact_conversation`,
and the value gone from all three. Kinds and where values come from:
PHONE `phone_number()`, EMAIL `email()`/`free_email()`, CARD `credit_card_number()` over every card type
Faker knows (Maestro 12-19 digits included), IBAN `iban()`, IP_ADDRESS `ipv4_public()`/`ipv6()`,
NATIONAL_ID `ssn()` for en_US (SSN), fr_FR (NIR), it_IT (codice fiscale) and UK National Insurance
numbers drawn with HMRC's letter rules (Faker en_GB's `ssn()` emits `ZZ123456T`, a suffix HMRC never
uses; de_DE's emits US-style numbers, and no German id is claimed), SECRET `password()` after a label
in the locale's words or in prose, URL_CREDENTIALS `user_name()`:`password()`@`domain_name()`,
API_KEY AWS secret access keys (40 random base64 characters) with no variable name.

Real texts: every text field of the files in ../shared/real (SQuAD v2, Dolly, OASST1, HH-RLHF,
Glaive tool calls, ChatGPT/Claude/ShareGPT exports). A change is a false positive unless the changed
value is in REVIEWED_PII (values read by a person and judged to be real contact data or secrets);
those texts are counted apart. Technical text: versions, netmasks, loopback, hashes, git SHAs, ISBNs,
epoch seconds/millis, ISO timestamps, UUIDs, decimals: any change is damage. Throughput: real texts
per second through `find_pii_in_json` (curate's path for a message: `find_pii`, leaf by leaf when the
text is a JSON object or array) on one core (CPU time; its cache starts empty, and a text seen before
is not scanned again, as in curate). Not a test: about a minute.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import string
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from faker import Faker

from logtune.curate.redact import redact_conversation
from logtune.pii import _find_pii, find_pii, find_pii_in_json, redact

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ("en_US", "de_DE", "fr_FR", "en_GB", "it_IT")
MIN_RECALL, MAX_FP_SHARE = 0.99, 0.005

# Sentences per locale and kind; {x} is the value, {name} a Faker name. About a third have no cue word.
SENTENCES = {
    "en": {
        "PHONE": ["You can call me on {x} after 5pm.", "My number changed, it's now {x}.", "{name}\n{x}\nSent from my phone",
                  "Please ring the office ({x}) and ask for {name}.", "Best, {name} | {x}", "Is {x} still the right line for support?",
                  "tel: {x}", "I left a voicemail at {x} yesterday but nobody got back to me."],
        "EMAIL": ["Send the invoice to {x} please.", "{name} <{x}> wrote:", "my login is {x} and it won't let me in",
                  "Contact: {x}."],
        "CARD": ["My card number is {x}, expiry 04/27.", "It charged {x} twice!", "card: {x}", "Use the {x} card on file."],
        "IBAN": ["Please wire it to {x}.", "IBAN {x} (Barclays)", "refund to {x} thanks"],
        "IP_ADDRESS": ["Our server at {x} stopped responding.", "Login attempt from {x} was blocked.", "ping {x} times out"],
        "NATIONAL_ID": ["My SSN is {x}.", "ssn: {x}", "The form asks for {x} again?", "national insurance number {x}"],
        "SECRET": ["password: {x}", "my password is {x}", "pwd={x}", "Login: {name} / Password: {x}", "the new pw is below\npassword = {x}",
                   "passcode: {x}", "The password for the wifi is {x}"],
        "URL_CREDENTIALS": ["clone it from {x} please", "DATABASE_URL={x}", "I used {x} and it failed."],
        "API_KEY": ["here is the secret {x} for the bucket", "{x}", "aws key id is fine, the other part is {x}"],
    },
    "de": {
        "PHONE": ["Sie erreichen mich unter {x}.", "Meine neue Nummer ist {x}.", "Mit freundlichen Grüßen\n{name}\n{x}",
                  "Rufen Sie bitte {x} an.", "{name}, {x}", "Tel.: {x}", "Ist {x} noch die richtige Hotline?"],
        "EMAIL": ["Bitte schicken Sie die Rechnung an {x}.", "Meine Adresse: {x}"],
        "CARD": ["Meine Kartennummer lautet {x}.", "Die Karte {x} wurde doppelt belastet."],
        "IBAN": ["Bitte überweisen Sie an {x}.", "IBAN: {x}"],
        "IP_ADDRESS": ["Der Server {x} antwortet nicht mehr.", "Zugriff von {x} blockiert."],
        "SECRET": ["Passwort: {x}", "Mein Passwort ist {x}", "Kennwort = {x}", "pwd={x}"],
        "URL_CREDENTIALS": ["Klonen Sie {x} bitte neu.", "Die URL {x} funktioniert nicht."],
        "API_KEY": ["Der geheime Schlüssel ist {x}", "Schlüssel: {x}"],
    },
    "fr": {
        "PHONE": ["Vous pouvez me joindre au {x}.", "Mon numéro est le {x}.", "Cordialement,\n{name}\n{x}", "{name} - {x}",
                  "Appelez le {x} en cas de souci.", "Tél : {x}"],
        "EMAIL": ["Envoyez la facture à {x}.", "Mon adresse : {x}"],
        "CARD": ["Ma carte est la {x}.", "La carte {x} a été débitée deux fois."],
        "IBAN": ["Merci de virer sur {x}.", "IBAN : {x}"],
        "IP_ADDRESS": ["Le serveur {x} ne répond plus.", "Connexion depuis {x} refusée."],
        "NATIONAL_ID": ["Mon numéro de sécurité sociale est {x}.", "NIR : {x}", "Voici mon {x} pour le dossier."],
        "SECRET": ["mot de passe : {x}", "Mon mot de passe est {x}", "mdp: {x}", "pwd={x}"],
        "URL_CREDENTIALS": ["Le dépôt {x} ne marche plus.", "J'ai utilisé {x}."],
        "API_KEY": ["la clé secrète est {x}", "Clé : {x}"],
    },
    "it": {
        "PHONE": ["Potete chiamarmi al {x}.", "Il mio numero è {x}.", "Cordiali saluti,\n{name}\n{x}", "{name} - {x}", "Tel. {x}"],
        "EMAIL": ["Mandate la fattura a {x}.", "La mia email: {x}"],
        "CARD": ["Il numero della carta è {x}.", "La carta {x} è stata addebitata due volte."],
        "IBAN": ["Bonifico su {x}, grazie.", "IBAN: {x}"],
        "IP_ADDRESS": ["Il server {x} non risponde.", "Accesso bloccato da {x}."],
        "NATIONAL_ID": ["Il mio codice fiscale è {x}.", "CF: {x}", "{name}, {x}, nato a Roma"],
        "SECRET": ["password: {x}", "La mia password è {x}", "pwd={x}"],
        "URL_CREDENTIALS": ["Il repository {x} non funziona.", "Ho usato {x}."],
        "API_KEY": ["la chiave segreta è {x}", "Chiave: {x}"],
    },
}
CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro")
NINO_FIRST, NINO_SECOND = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"

# Technical tokens that must come out unchanged, each in a sentence.
TECHNICAL = [
    "upgraded to version 5.57.91.88 last night", "running v1.2.3.40 on prod", "release 10.0.19045.3803 fixed it",
    "netmask 255.255.240.0 on eth0", "subnet mask 255.255.255.0", "listening on 127.0.0.1:8080", "bind 0.0.0.0 port 80",
    "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "git checkout 9fceb02", "md5 d41d8cd98f00b204e9800998ecf8427e",
    "ISBN 978-3-16-148410-0", "isbn 9780306406157", "ISBN-13: 978-1-86197-876-9", "ordered 9781861978769 from the shop",
    "epoch 1712345678", "ts=1712345678901", "created_at 1700000000000", "at 2024-05-17T10:30:45Z", "2024-05-17 10:30:45.123",
    "on 17/05/2024 at 10:30", "id 123e4567-e89b-12d3-a456-426614174000", "uuid 550e8400-e29b-41d4-a716-446655440000",
    "alpha = 0.0072973525693", "G = 6.67430e-11", "pi 3.14159265358979", "ratio 0.61803398874989", "took 1234567 ms",
    "between 1990-1995", "population 1,234,567,890", "port 5432", "semver 2.10.1-rc.3", "page 555-560",
    "the git tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904", "docker image sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
    "base64 digest of sha1: L9ThxnotKPzthJ7hu3bnORuT6xI=", "color #1e90ff", "file size 10485760 bytes", "call stack depth 12",
    "mac 00:1B:44:11:3A:B7", "version 1.10.2.3 and 2.0.0.1", "coordinates 48.8566, 2.3522", "matrix 1 0 0 1 0 0",
]

# Values in the real files that were read in context (`--show 300`) and are what their kind claims:
# contact data an assistant hands out in HH-RLHF's red-team dialogues, an e-mail in an OASST prompt,
# e-mails and passwords a Glaive user gives a tool. Fictional or not, a model should not learn them,
# so a text changed only because of these counts as containing PII, not as a false positive.
REVIEWED_PII: set[str] = {
    # glaive_toolcall
    "yourname@yourdomain.com", "boss@company.com", "boss@example.com", "johndoe@example.com",
    "a9B7$#fG3&Z1", "aB3#fG7!kL9@", "password123", "A1b2C3d4E5f6", "aBcD1234EfGh",
    # hh_rlhf
    "Sandra.Peters@example.com", "+1 (555) 555-5555", "mike@robertlight.com", "bob@robertleight.com", "844-555-5555",
    "stevedaine@microsoft.com", "(512) 555-0202", "859-56-0028", "person1@email.com", "(647) 321-1199",
    "(215) 204-3120", "555-1234", "555-3476", "555-2428", "(256) 555-9515", "(202) 225-2815",
    "giantlawsuitedog@hotmail.com", "(567) 999-4444", "932-682-1067", "323-856-7866", "556737-3523",
    "(512) 555-2994", "kathy.bates@gmail.com", "+1 917-444-6321", "dspande@davidspade.com", "+1 (202) 456-1111",
    # oasst1
    "keath.mueller.music@gmail.com",
}


def _nino(rng: random.Random) -> str:
    prefix = rng.choice(NINO_FIRST.replace("D", "")) + rng.choice(NINO_SECOND)
    while prefix in ("BG", "GB", "KN", "NK", "NT", "TN"):
        prefix = rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    return rng.choice([f"{prefix}{digits}{rng.choice('ABCD')}", f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"])


def _value(kind: str, fake: Faker, locale: str) -> str | None:
    rng = fake.random
    if kind == "PHONE":
        return fake.phone_number()
    if kind == "EMAIL":
        return rng.choice([fake.email, fake.free_email, fake.company_email])()
    if kind == "CARD":
        number = fake.credit_card_number(card_type=rng.choice(CARD_TYPES))
        if rng.random() < 0.4 and len(number) == 16:
            number = rng.choice([" ", "-"]).join(number[i:i + 4] for i in range(0, 16, 4))
        return number
    if kind == "IBAN":
        value = fake.iban()
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.4 else value
    if kind == "IP_ADDRESS":
        return fake.ipv4_public() if rng.random() < 0.8 else fake.ipv6()
    if kind == "NATIONAL_ID":
        if locale == "en_GB":
            return _nino(rng)
        return fake.ssn() if locale in ("en_US", "fr_FR", "it_IT") else None
    if kind == "SECRET":
        return fake.password(length=rng.randint(8, 16), special_chars=rng.random() < 0.8)
    if kind == "URL_CREDENTIALS":
        scheme = rng.choice(["https", "postgres", "mysql", "ftp", "redis", "mongodb+srv"])
        path = rng.choice(["/", "", "/app", f"/{fake.word()}/", f"/{fake.word()}.git"])
        return f"{scheme}://{fake.user_name()}:{fake.password(length=12, special_chars=False)}@{fake.domain_name()}{path}"
    if kind == "API_KEY":
        return "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    raise ValueError(kind)


def planted(per_kind: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(locale, kind, value, text) for every locale, kind and draw."""
    out = []
    for n, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + n)
        for kind, sentences in SENTENCES[locale[:2]].items():
            for _ in range(per_kind):
                value = _value(kind, fake, locale)
                if value is None:
                    continue
                sentence = fake.random.choice(sentences)
                out.append((locale, kind, value, sentence.replace("{name}", fake.name()).replace("{x}", value)))
    return out


def covered(text: str, value: str) -> bool:
    """Every character of `value` (its first occurrence) lies inside a redacted match."""
    start = text.index(value)
    spans = [(m.start, m.end) for m in find_pii(text)]
    return all(any(a <= i < b for a, b in spans) for i in range(start, start + len(value)))


def through_curate(text: str, value: str) -> bool:
    """The planted text as curate sees it in three fields at once (a user turn, a tool call's JSON
    arguments, an OASST rank sibling in feedback_meta): redacted, the value is in none of them."""
    conv = {"id": "b", "context": None, "messages": [
        {"role": "user", "content": text},
        {"role": "assistant", "content": "", "tool_calls": json.dumps(
            [{"id": "call_1", "type": "function", "function": {"name": "note", "arguments": json.dumps({"text": text})}}])},
        {"role": "assistant", "content": "ok", "feedback_meta": json.dumps({"rank": 0, "siblings": [{"id": "s1", "text": text, "rank": 1}]})}]}
    out, _ = redact_conversation(conv)
    user, call, reply = out["messages"]
    arguments = json.loads(json.loads(call["tool_calls"])[0]["function"]["arguments"])["text"]
    sibling = json.loads(reply["feedback_meta"])["siblings"][0]["text"]
    return all(value not in field for field in (user["content"], arguments, sibling))


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out.append(value)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)


def real_texts(real: Path) -> dict[str, list[str]]:
    """Every string field of every real file, by source folder."""
    texts: dict[str, list[str]] = defaultdict(list)
    for path in sorted(real.rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".jsonl", ".gz"):
            continue
        raw = gzip.open(path, "rt", encoding="utf-8").read() if path.suffix == ".gz" else path.read_text(encoding="utf-8")
        source = path.relative_to(real).parts[0]
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            for line in raw.splitlines():
                if line.strip():
                    _strings(json.loads(line), texts[source])
        else:
            _strings(json.loads(raw), texts[source])
    return texts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=60, help="values per kind and locale")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "real")
    ap.add_argument("--show", type=int, default=20, help="misses and changes to print")
    args = ap.parse_args(argv)
    ok = True

    corpus = planted(args.per_kind, args.seed)
    found, via_curate, total, missed = Counter(), Counter(), Counter(), defaultdict(list)
    for locale, kind, value, text in corpus:
        total[kind] += 1
        via_curate[kind] += through_curate(text, value)
        if covered(text, value):
            found[kind] += 1
        else:
            missed[kind].append((locale, text))
    print(f"planted: {len(corpus)} values in {len(LOCALES)} locales ({', '.join(LOCALES)}), seed {args.seed}")
    print(f"{'kind':<16}{'found':>8}{'planted':>9}{'recall':>9}{'via curate':>12}")
    for kind in sorted(total):
        recall, curate_recall = found[kind] / total[kind], via_curate[kind] / total[kind]
        ok &= recall >= MIN_RECALL and curate_recall >= MIN_RECALL
        print(f"{kind:<16}{found[kind]:>8}{total[kind]:>9}{recall:>9.2%}{curate_recall:>12.2%}"
              f"{'' if min(recall, curate_recall) >= MIN_RECALL else '  < 99%'}")
    for kind, misses in sorted(missed.items()):
        for locale, text in misses[:args.show]:
            print(f"  missed {kind} [{locale}] {text!r}")

    if args.real.is_dir():
        by_source = real_texts(args.real)
        n = sum(len(v) for v in by_source.values())
        changed_fp, changed_true, values = Counter(), Counter(), []
        _find_pii.cache_clear()     # timed from cold: each distinct text scanned once, as curate does
        cpu = time.process_time()
        for source, texts in by_source.items():
            for text in texts:
                matches = find_pii_in_json(text)     # what curate applies to a message's content
                if not matches:
                    continue
                if all(m.value in REVIEWED_PII for m in matches):
                    changed_true[source] += 1
                else:
                    changed_fp[source] += 1
                    values += [(source, m.kind, m.value, text[max(0, m.start - 40):m.end + 20]) for m in matches
                               if m.value not in REVIEWED_PII]
        cpu = time.process_time() - cpu
        size = sum(len(t.encode()) for v in by_source.values() for t in v)
        clean = n - sum(changed_true.values())
        share = sum(changed_fp.values()) / clean
        ok &= share <= MAX_FP_SHARE
        print(f"\nreal: {n} texts from {args.real} ({size / 1e6:.1f} MB)")
        print(f"{'source':<16}{'texts':>8}{'changed (false)':>17}{'changed (reviewed PII)':>24}")
        for source in sorted(by_source):
            print(f"{source:<16}{len(by_source[source]):>8}{changed_fp[source]:>17}{changed_true[source]:>24}")
        print(f"clean texts changed: {sum(changed_fp.values())} / {clean} = {share:.3%} (target <= {MAX_FP_SHARE:.1%})")
        for source, kind, value, context in values[:args.show]:
            print(f"  changed [{source}] {kind} {value!r} in {context!r}")
        print(f"throughput: {n / cpu:,.0f} texts/s, {size / 1e6 / cpu:.2f} MB/s (CPU time, find_pii_in_json, one core)")
    else:
        print(f"\nreal: {args.real} missing, skipped")

    damaged = [(t, redact(t, {})[0]) for t in TECHNICAL if redact(t, {})[0] != t]
    ok &= not damaged
    print(f"\ntechnical: {len(TECHNICAL)} sentences, {len(damaged)} damaged")
    for before, after in damaged:
        print(f"  damaged {before!r} -> {after!r}")
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
