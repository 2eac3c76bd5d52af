"""Fast, validated PII detection: precompiled patterns, checksums, and a cheap gate per family of types.

Why not presidio? presidio-analyzer's pattern recognisers (no NLP model) were
measured on 9,229 Alpaca records (bench/bench_pii.py): about 240 records/s
against 6,000 to 14,000 for this module (one loaded core), its phone recogniser (python-phonenumbers' matcher) flags digit
runs in Sudoku grids and number lists, and its e-mail recogniser calls
tldextract, which tries to download the public-suffix list at first use. It
has no API-key recogniser. The checks kept from it are the sound ones: Luhn for
cards, mod-97 for IBANs, the SSA rules for SSNs, ``ipaddress`` for IPs.

Each candidate pattern is strict about *shape* (separators, grouping,
boundaries) so that years, prices, versions, dates, ISBNs, UUIDs and plain long
integers do not match; a validator then checks what a shape cannot (checksums,
octet ranges, issued SSN ranges, entropy). Overlapping matches are resolved
longest-first, then by type priority (secrets, e-mail, IBAN, card, SSN, IP,
phone).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .reserved import is_reserved

PII_TYPES = ("email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "secret")
# The same names as a type, for step signatures (the recipe loader validates against it).
PiiType = Literal["email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "secret"]
PLACEHOLDERS = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "ip_address": "<IP_ADDRESS>",
    "us_ssn": "<US_SSN>",
    "secret": "<SECRET>",
}
_PRIORITY = {t: i for i, t in enumerate(("secret", "email", "iban", "credit_card", "us_ssn", "ip_address", "phone"))}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    type: str
    start: int
    end: int


# ---- validators ---------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# IBAN length per country (SWIFT IBAN registry); a country not here is not an IBAN.
_IBAN_LENGTHS = dict(
    (item[:2], int(item[2:]))
    for item in (
        "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 "
        "EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26 "
        "IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 "
        "NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 "
        "SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30"
    ).split()
)


def iban_valid(iban: str) -> bool:
    """Known country, the country's length, and the ISO 13616 mod-97 check (remainder 1)."""
    iban = iban.replace(" ", "").replace("-", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ssn_valid(digits: str) -> bool:
    # SSA rules: area 000, 666 and 900-999 are never issued; group 00 and serial 0000 neither.
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _looks_random(value: str) -> bool:
    """A secret value: letters and digits mixed, and high character entropy (not a word or a path)."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and _entropy(value) >= 3.0


# ---- candidate patterns -------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})\b"
)
# "icon@2x.png" has the shape of an address, but a file extension is not a top-level domain; nor are the
# names reserved for private networks and examples ("ssh deploy@web-01.internal" names a login, not a person).
_NOT_TLDS = frozenset(
    "png jpg jpeg gif svg webp bmp ico tif tiff pdf js ts css html py md txt json "
    "internal local localhost localdomain lan home corp intranet private test invalid example".split()
)

# 13 to 19 digits, optionally in groups split by one kind of separator.
_CARD = re.compile(r"(?<![\w.,-])[2-6]\d{3}(?:([ -]?)\d{2,7})(?:\1\d{1,7}){0,4}(?![\w-]|[.,]\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,34}")
_SSN = re.compile(r"(?<![\w.-])(\d{3})([- .])(\d{2})\2(\d{4})(?![\w-]|[.,]\d)")
_SSN_CONTEXT = re.compile(r"(?i:\b(?:ssn|social security(?: number| no\.?)?)\b)[^\d\n]{0,15}(\d{3}([ -]?)\d{2}\2\d{4})(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?![\w]|\.\d)")
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|\bversion:?\s*|\bver\.?:?\s*|\brelease:?\s*)$")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,6}[0-9A-Fa-f]{0,4}(?![\w:])")

# Phones. International: "+" then 8 to 15 digits with single separators or brackets.
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d(?:[ .()-]{0,2}\d){7,14}(?!\d)")
# North American: (415) 555-0132, 415-555-0132, 415.555.0132, 1-415-555-0132 (one kind of separator).
_PHONE_NANP = re.compile(r"(?<![\w+.,/-])(?:1([ .-]))?(?:\(\d{3}\)[ ]?\d{3}[ .-]|\d{3}([ .-])\d{3}\2)\d{4}(?![\w-]|[.,]\d)")
# European national: a trunk 0 then groups (020 7946 0958, 06 12 34 56 78, 030-12345678); 9 to 12 digits.
_PHONE_EU = re.compile(r"(?<![\w+.,/-])(?:\(0[1-9]\d{0,3}\)( )|0[1-9]\d{0,3}([ .-]))\d{2,8}(?:(?:\1|\2)\d{2,8}){0,3}(?![\w-]|[.,]\d)")
# Unformatted digits only where a phone word says so ("call 4155550132").
_PHONE_CONTEXT = re.compile(
    r"(?i:\b(?:phone|telephone|tel|mobile|cellphone|fax|call(?: me)?(?: at)?|whatsapp)\b)[^\d\n]{0,15}(\d{10,11})(?![\w-]|[.,]\d)"
)

_SECRET_TOKENS = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"  # AWS access key id
    r"|sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r")(?![\w-])"
)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)")
# key = value: only the value is the secret. The scan starts at the separator (rare) and then looks back for
# the key word, because a case-insensitive alternation tried at every character is ten times slower.
_SECRET_VALUE = re.compile(r"[:=]>?\s*[\"']?([A-Za-z0-9_\-+/.]{16,}={0,2})")
_SECRET_KEY_BEFORE = re.compile(
    r"(?i:(?<![A-Za-z0-9])(?:api[_-]?key|apikey|api[_-]?secret|secret[_-]?key|client[_-]?secret|secret|access[_-]?key|"
    r"access[_-]?token|auth[_-]?token|refresh[_-]?token|token|password|passwd|pwd))[\"']?\s*$"
)
_BEARER = re.compile(r"(?i:\bbearer\s+)([A-Za-z0-9_\-+/.=]{16,})")

# Gates: one cheap search decides whether a family of detectors can match at all.
_GATE_DIGITS = re.compile(r"\d(?:\W{0,2}\d){6}")  # 7 digits close together: phone, card, SSN, IBAN
_GATE_IPV4 = re.compile(r"\d\.\d{1,3}\.\d")
# Substring tests are much cheaper than a case-insensitive regex scan over every text.
_SECRET_MARKS = (
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_", "xox", "AIza", "k_live_", "k_test_", "PRIVATE KEY",
)  # fmt: skip
_SECRET_WORDS = ("key", "secret", "token", "passw", "pwd", "bearer")


# Every token pattern begins with one of the marks (or is a private-key block): one alternation of literals
# finds them four times faster than splitting the text into words and testing each long one.
_SECRET_MARK = re.compile("|".join(map(re.escape, _SECRET_MARKS)))
_LONG_RUN = re.compile(r"[A-Za-z0-9_\-+/.=]{16}")  # a secret value's shortest run (see _SECRET_VALUE, _BEARER)


def _has_secret_word(text: str) -> bool:
    low = text.lower()
    return any(map(low.__contains__, _SECRET_WORDS))


def _ascii_digits(text: str) -> int:
    """How many of an ASCII text's characters are digits (one C pass that deletes them)."""
    return len(text) - len(text.encode("ascii").translate(None, b"0123456789"))


class PiiDetector:
    """Find PII of the chosen types in a text; ``redact`` replaces each with its placeholder.

    ``ip_skip_private``: do not report private, loopback, link-local or reserved
    addresses (192.168.x.x, 10.x, 127.0.0.1, ::1), which identify no one.
    ``keep_reserved``: do not report documentation, fiction and test values
    (``kim@example.com``, ``555-0123``, ``4111 1111 1111 1111``, ``192.0.2.1``; see
    :mod:`curatune.curation.pii.reserved`).
    """

    def __init__(self, types: tuple[str, ...] | list[str] = PII_TYPES, ip_skip_private: bool = False, keep_reserved: bool = False):
        unknown = [t for t in types if t not in PII_TYPES]
        if unknown:
            raise ValueError(f"Unknown PII type(s) {unknown}; choose from {list(PII_TYPES)}.")
        self.types = frozenset(types)
        self.ip_skip_private = ip_skip_private
        self.keep_reserved = keep_reserved
        t = self.types
        self._digit_types = bool(t & {"phone", "credit_card", "iban", "us_ssn"})

    # -- detection ------------------------------------------------------------------------------
    def find(self, text: str) -> list[PiiMatch]:
        """Non-overlapping matches, in text order."""
        if not text:
            return []
        raw = _all_matches(text, self.ip_skip_private)
        found = list(raw) if self.types == _ALL_TYPES else [m for m in raw if m.type in self.types]
        if len(found) > 1:
            found = _resolve(found)
        # After resolving: a reserved value leaves no shorter match inside it behind (a phone-shaped run of a test card).
        if self.keep_reserved and found:
            found = [m for m in found if not is_reserved(m.type, text[m.start : m.end])]
        return found

    def _scan(self, text: str) -> list[PiiMatch]:
        """Every match of this detector's types, overlaps not yet resolved (each family scans on its own)."""
        found: list[PiiMatch] = []
        t = self.types
        ascii_text = text.isascii()
        if "email" in t and "@" in text:
            self._emails(text, found)
        if "secret" in t:
            self._secrets(text, found)
        # Gates before the regex gates: a phone, card, SSN or IBAN has 7 digits and an IPv4 address 4 digits and
        # 3 dots; counting ASCII digits is cheaper than a regex scan and rules most texts out.
        # Other scripts' digits are \d too, so a non-ASCII text goes straight to the regexes.
        digits = _ascii_digits(text) if ascii_text else 99
        if self._digit_types and digits >= 7 and _GATE_DIGITS.search(text):
            if "iban" in t:
                self._ibans(text, found)
            if "credit_card" in t:
                self._cards(text, found)
            if "us_ssn" in t:
                self._ssns(text, found)
            if "phone" in t:
                self._phones(text, found)
        if "ip_address" in t:
            if digits >= 4 and (not ascii_text or text.count(".") >= 3) and _GATE_IPV4.search(text):
                self._ipv4(text, found)
            if "::" in text or text.count(":") >= 7:
                self._ipv6(text, found)
        return found

    def redact(self, text: str) -> tuple[str, Counter]:
        """The text with every match replaced by its placeholder, and the count per type."""
        matches = self.find(text)
        if not matches:
            return text, Counter()
        parts, pos = [], 0
        for m in matches:
            parts.append(text[pos : m.start])
            parts.append(PLACEHOLDERS[m.type])
            pos = m.end
        parts.append(text[pos:])
        return "".join(parts), Counter(m.type for m in matches)

    # -- one method per family -------------------------------------------------------------------
    @staticmethod
    def _emails(text: str, found: list[PiiMatch]) -> None:
        for m in _EMAIL.finditer(text):
            if m.group(1).lower() not in _NOT_TLDS:
                found.append(PiiMatch("email", m.start(), m.end()))

    @staticmethod
    def _secrets(text: str, found: list[PiiMatch]) -> None:
        # One scan for the twenty literal marks (a token's prefix or a private-key header) and six substring
        # tests for the key words decide whether the secret patterns are worth running; a key=value or bearer
        # value needs 16 characters without a space, which a cheap search settles only when a word is there.
        if _SECRET_MARK.search(text):
            PiiDetector._secret_tokens(text, found)
        if _has_secret_word(text) and _LONG_RUN.search(text):
            PiiDetector._secret_values(text, found)

    @staticmethod
    def _secret_tokens(text: str, found: list[PiiMatch]) -> None:
        for m in _PRIVATE_KEY.finditer(text):
            found.append(PiiMatch("secret", m.start(), m.end()))
        for m in _SECRET_TOKENS.finditer(text):
            value = m.group(0)
            # "sk-" and "xox" also begin ordinary hyphenated words: ask for a random-looking tail.
            if value.startswith(("sk-", "xox")) and not _looks_random(value[3:]):
                continue
            found.append(PiiMatch("secret", m.start(), m.end()))

    @staticmethod
    def _secret_values(text: str, found: list[PiiMatch]) -> None:
        for m in _SECRET_VALUE.finditer(text):
            if _SECRET_KEY_BEFORE.search(text, max(0, m.start() - 40), m.start()):
                value = m.group(1).rstrip(".")
                if _looks_random(value):
                    found.append(PiiMatch("secret", m.start(1), m.start(1) + len(value)))
        if "earer" in text or "EARER" in text:
            for m in _BEARER.finditer(text):
                value = m.group(1).rstrip(".")
                if _looks_random(value):
                    found.append(PiiMatch("secret", m.start(1), m.start(1) + len(value)))

    @staticmethod
    def _ibans(text: str, found: list[PiiMatch]) -> None:
        for m in _IBAN.finditer(text):
            want = _IBAN_LENGTHS.get(m.group(0)[:2])
            if want is None:
                continue
            # The pattern is greedy: cut the span at the country's length, counting alphanumerics only.
            s, n, end = m.group(0), 0, None
            for i, ch in enumerate(s):
                if ch.isalnum():
                    n += 1
                    if n == want:
                        end = i + 1
                        break
            if end is None or (m.start() + end < len(text) and text[m.start() + end].isalnum()):
                continue
            if iban_valid(s[:end]):
                found.append(PiiMatch("iban", m.start(), m.start() + end))

    @staticmethod
    def _cards(text: str, found: list[PiiMatch]) -> None:
        for m in _CARD.finditer(text):
            digits = m.group(0).replace(" ", "").replace("-", "")
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                found.append(PiiMatch("credit_card", m.start(), m.end()))

    @staticmethod
    def _ssns(text: str, found: list[PiiMatch]) -> None:
        for m in _SSN.finditer(text):
            if _ssn_valid(m.group(1) + m.group(3) + m.group(4)):
                found.append(PiiMatch("us_ssn", m.start(), m.end()))
        for m in _SSN_CONTEXT.finditer(text):
            if _ssn_valid(m.group(1).replace(" ", "").replace("-", "")):
                found.append(PiiMatch("us_ssn", m.start(1), m.end(1)))

    @staticmethod
    def _phones(text: str, found: list[PiiMatch]) -> None:
        for m in _PHONE_INTL.finditer(text):
            found.append(PiiMatch("phone", m.start(), m.end()))
        for m in _PHONE_NANP.finditer(text):
            found.append(PiiMatch("phone", m.start(), m.end()))
        for m in _PHONE_EU.finditer(text):
            n = sum(c.isdigit() for c in m.group(0))
            # 9 to 12 digits: dates (01.02.2023) and short codes have 8 or fewer.
            if 9 <= n <= 12:
                found.append(PiiMatch("phone", m.start(), m.end()))
        for m in _PHONE_CONTEXT.finditer(text):
            found.append(PiiMatch("phone", m.start(1), m.end(1)))

    def _ipv4(self, text: str, found: list[PiiMatch]) -> None:
        for m in _IPV4.finditer(text):
            if _VERSION_BEFORE.search(text, max(0, m.start() - 10), m.start()):
                continue
            if self.ip_skip_private and _not_public(m.group(0)):
                continue
            found.append(PiiMatch("ip_address", m.start(), m.end()))

    def _ipv6(self, text: str, found: list[PiiMatch]) -> None:
        for m in _IPV6.finditer(text):
            s = m.group(0)
            groups = [g for g in s.split(":") if g]
            if len(groups) < 2 or not any(c.isdigit() for c in s):
                continue  # "::", "a::b" and C++ scopes are not addresses worth redacting
            try:
                ipaddress.IPv6Address(s)
            except ValueError:
                continue
            if self.ip_skip_private and _not_public(s):
                continue
            found.append(PiiMatch("ip_address", m.start(), m.end()))


_ALL_TYPES = frozenset(PII_TYPES)
_FULL = {skip: PiiDetector(PII_TYPES, ip_skip_private=skip) for skip in (False, True)}


# filter.pii (drop some types) and clean.pii (redact the others) look at the same texts one after the
# other: one scan for every type, cached per text, serves both; each detector keeps its own types and
# resolves overlaps among them, which gives what scanning for those types alone gives.
@lru_cache(maxsize=256)
def _all_matches(text: str, ip_skip_private: bool) -> tuple[PiiMatch, ...]:
    return tuple(_FULL[ip_skip_private]._scan(text))


def describe_counts(counts: Counter, paths: list[str]) -> str:
    """``email=2, phone=1 in messages[0].content, messages[1].content``: types and counts, never the values."""
    kinds = ", ".join(f"{t}={counts[t]}" for t in PII_TYPES if counts[t])
    return f"{kinds} in {', '.join(paths)}"


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified or ip.is_multicast


def _resolve(matches: list[PiiMatch]) -> list[PiiMatch]:
    """Keep non-overlapping matches: the longest wins, then the type with the higher priority."""
    ranked = sorted(matches, key=lambda m: (-(m.end - m.start), _PRIORITY[m.type], m.start))
    taken: list[PiiMatch] = []
    for m in ranked:
        if all(m.end <= o.start or m.start >= o.end for o in taken):
            taken.append(m)
    return sorted(taken, key=lambda m: m.start)
