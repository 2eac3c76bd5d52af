"""Values shaped like personal data that identify no one: documentation, fiction and test values.

Redacting ``kim@example.com`` or ``(415) 555-0123`` in a tutorial damages a good training example and
protects nobody: those values are reserved by a standard (RFC 2606 and 6761 domains, RFC 5737 and 3849
addresses, the NANP's 555-0100..0199, Ofcom's and ACMA's drama numbers) or published for tests (card
numbers of the payment networks, example IBANs, AWS's ``...EXAMPLE`` keys). The lists are in
``reserved_values.yaml``; shapes cover the rest: a card or phone number of one repeated digit or block
(``4242 4242 4242 4242``, ``111-111-1111``), or counting up (``123-456-7890``).

Validation (issue 15): the unseen-phrasing tests and bench/heldout's 70 clean records with reserved
values, which this module was not written from (see bench/RESULTS.md).
"""

from __future__ import annotations

import ipaddress
from functools import cache
from importlib import resources

import yaml

_DOC_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "233.252.0.0/24")
)
_PLACEHOLDER_SECRET_WORDS = ("example", "xxxx", "your", "placeholder", "dummy", "redacted", "changeme", "fake", "sample")


@cache
def _lists() -> dict[str, frozenset[str] | tuple[str, ...]]:
    text = resources.files("curatune.curation.pii").joinpath("reserved_values.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {
        "email_domains": tuple(d.lower() for d in data["email_domains"]),
        "email_tlds": frozenset(t.lower() for t in data["email_tlds"]),
        "phone_uk": tuple(data["phone_prefixes_uk"]),
        "phone_au": tuple(data["phone_prefixes_au"]),
        "cards": frozenset(data["test_cards"]),
        "ssns": frozenset(data["ssns"]),
        "ibans": frozenset(i.upper() for i in data["ibans"]),
    }


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _patterned(digits: str) -> bool:
    """One repeated digit or block, or counting up: "1111111111", "4242424242424242", "1234567890"."""
    if len(set(digits)) <= 2:
        return True
    for size in (2, 3, 4):
        block = digits[:size]
        if digits == (block * (len(digits) // size + 1))[: len(digits)]:
            return True
    return digits in "01234567890123456789"


def reserved_email(value: str) -> bool:
    domain = value.rsplit("@", 1)[-1].lower().rstrip(".")
    lists = _lists()
    if domain.rsplit(".", 1)[-1] in lists["email_tlds"]:
        return True
    return any(domain == d or domain.endswith("." + d) for d in lists["email_domains"])


def reserved_phone(value: str) -> bool:
    d = _digits(value)
    if _patterned(d[-10:] if len(d) >= 10 else d):
        return True
    lists = _lists()
    plus = value.lstrip().startswith("+")
    # North America: +1 or a leading 1, then area code, exchange, line.
    nanp = d[1:] if len(d) == 11 and d[0] == "1" else d if len(d) == 10 and not plus else ""
    if nanp and (nanp[:3] == "555" or (nanp[3:6] == "555" and nanp[6:8] == "01")):
        return True
    for country, key in (("44", "phone_uk"), ("61", "phone_au")):
        if plus and d.startswith(country):
            national = d[len(country) :].removeprefix("0")
        elif not plus and d.startswith("0"):
            national = d[1:]
        else:
            continue
        if national.startswith(lists[key]):  # type: ignore[arg-type]
            return True
    return False


def reserved_card(value: str) -> bool:
    d = _digits(value)
    return d in _lists()["cards"] or _patterned(d[1:])


def reserved_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in _DOC_NETWORKS)


def reserved_ssn(value: str) -> bool:
    d = _digits(value)
    return d in _lists()["ssns"] or d.startswith("98765432")


def reserved_iban(value: str) -> bool:
    return value.replace(" ", "").replace("-", "").upper() in _lists()["ibans"]


def reserved_secret(value: str) -> bool:
    low = value.lower()
    return any(w in low for w in _PLACEHOLDER_SECRET_WORDS)


_CHECKS = {
    "email": reserved_email,
    "phone": reserved_phone,
    "credit_card": reserved_card,
    "ip_address": reserved_ip,
    "us_ssn": reserved_ssn,
    "iban": reserved_iban,
    "secret": reserved_secret,
}


def is_reserved(pii_type: str, value: str) -> bool:
    """Whether a detected value of ``pii_type`` is a documentation, fiction or test value (identifies no one)."""
    check = _CHECKS.get(pii_type)
    return check is not None and check(value)
