"""Drop (or flag) records that contain personal data or secrets, or whose task is about such a value."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated

from pydantic import Field

from ..pii import PII_TYPES, PLACEHOLDERS, PiiDetector, PiiType, describe_counts
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.paths import text_fields
from ..text.words import lower_letter_runs
from ._instruct_text import answers

# When a record holds several types, the reason names the most sensitive one; the detail lists all.
_SEVERITY = ("secret", "credit_card", "iban", "us_ssn", "email", "phone", "ip_address")


@register("filter.pii")
class PiiFilter(Filter):
    """Drop records holding at least ``min_count`` PII values of the listed ``types``.

    Reasons, one per type: ``pii_email``, ``pii_phone``, ``pii_credit_card``,
    ``pii_iban``, ``pii_ip_address``, ``pii_us_ssn``, ``pii_secret``. The value
    is the number of matches, the detail their types, counts and fields (never
    the values). With ``on_fail: flag`` the record stays and the ledger says why.

    Drop or redact, per type: list here the types for which a record should go
    (a leaked API key or card number taints the whole example), and the types
    that a placeholder makes harmless under ``clean.pii`` (e-mail, phone). The
    detector is the same, so a type means the same thing in both steps.
    ``keep_reserved``: documentation and test values (``4111 1111 1111 1111``,
    ``AKIAIOSFODNN7EXAMPLE``, ``kim@example.com``) are nobody's data and do not count.
    """

    reasons = tuple(f"pii_{t}" for t in PII_TYPES)

    def __init__(
        self,
        types: list[PiiType] = ["secret", "credit_card", "iban", "us_ssn"],  # noqa: B006
        min_count: Annotated[int, Field(ge=1)] = 1,
        ip_skip_private: bool = True,
        keep_reserved: bool = True,
    ):
        self.types = types
        self.min_count = min_count
        self.ip_skip_private = ip_skip_private
        self.keep_reserved = keep_reserved

    def setup(self) -> None:
        self._detector = PiiDetector(tuple(self.types), ip_skip_private=self.ip_skip_private, keep_reserved=self.keep_reserved)

    def keep(self, rec: Record) -> Verdict:
        counts: Counter = Counter()
        paths = []
        for path, text in text_fields(rec):
            found = self._detector.find(text)
            if found:
                counts.update(m.type for m in found)
                paths.append(path)
        total = sum(counts.values())
        if total < self.min_count:
            return KEEP
        worst = next(t for t in _SEVERITY if counts[t])
        return Drop(f"pii_{worst}", value=total, threshold=self.min_count, detail=describe_counts(counts, paths))


# How an instruction names each type of value when the value is what the task is about.
_NAMES = {
    "email": r"\be-?mail[ -]?(?:address(?:es)?|ids?|format|domains?|usernames?)\b|\bemails? addresses\b",
    "phone": r"\b(?:(?:tele)?phone|mobile|cell|fax|contact)[ -]?(?:numbers?|nos?\.|#)|\bphone numbers?\b",
    "credit_card": r"\b(?:credit|debit|payment|bank)[ -]?cards?\b|\bcard numbers?\b",
    "iban": r"\biban\b|\bbank account numbers?\b",
    "ip_address": r"\bip(?:v[46])?[ -]?address(?:es)?\b|\bipv[46]\b",
    "us_ssn": r"\bsocial security\b|\bssns?\b",
    "secret": r"\bapi[ _-]?keys?\b|\baccess[ _-]?tokens?\b|\bpasswords?\b|\bsecret keys?\b",
}
_CONTACT = r"\bcontact (?:details|information|info)\b"
_TYPE_NAMES = {t: re.compile(p + ("|" + _CONTACT if t in ("email", "phone") else ""), re.I) for t, p in _NAMES.items()}
# Words every name above holds one of: a prompt without them names no type, and no pattern is run on it.
_NAME_WORDS = frozenset(
    b"mail email emails phone phones telephone mobile cell fax contact card cards iban bank ip ipv address addresses "
    b"social ssn ssns api apikey key keys token tokens password passwords secret creditcard creditcards debitcard "
    b"debitcards paymentcard bankcard ipaddress ipaddresses emailaddress emailaddresses phonenumber phonenumbers "
    b"telephonenumber mobilenumber cellnumber faxnumber contactnumber apikeys accesstoken accesstokens secretkey".split()
)
# An answer longer than this is never mostly values once redacted unless it is a list of them, which a task that
# names the type asks for: the share is worked out only for shorter answers (most are longer and need no scan).
_SHARE_CHARS = 400
_DIGIT = re.compile(r"\d")


@register("filter.pii_task")
class PiiTask(Filter):
    """Drop records that redacting PII would damage: the task is about the value, or the answer is mostly values.

    Redaction suits personal data in passing ("... write to me at kim.lee@gmail.com"). It ruins a
    record whose task is the value itself: "Give an example of a valid e-mail address" answered
    ``<EMAIL>``, a regex task whose test phone numbers became ``<PHONE>`` so that the answer no longer
    matches its question. Such a record is dropped here with its reason, before ``clean.pii`` runs.

    ``pii_is_the_task``: the first user turn names a type of value ("e-mail address", "phone number",
    "IP address", "credit card", "contact details") and the record holds a value of that type (in the
    prompt or an answer). ``answer_mostly_pii``: redacting an answer would leave placeholders for at
    least ``max_placeholder_share`` of its characters ("Call 0161 238 7345." -> "Call <PHONE>.").
    ``types``: the types ``clean.pii`` redacts in the same recipe (values of other types are neither
    redacted nor looked at). Documentation and test values (``keep_reserved``) are not personal and are
    kept as they are, so a task about ``name@example.com`` passes.

    Validation (issue 15): bench/heldout's 30 PII-format tasks and 70 records with reserved values,
    which it was not written from, and the unseen-phrasing tests; figures in bench/RESULTS.md.
    """

    reasons = ("pii_is_the_task", "answer_mostly_pii")

    def __init__(
        self,
        types: list[PiiType] = ["email", "phone", "ip_address"],  # noqa: B006
        max_placeholder_share: Annotated[float, Field(gt=0, le=1)] = 0.5,
        ip_skip_private: bool = True,
        keep_reserved: bool = True,
    ):
        self.types = types
        self.max_placeholder_share = max_placeholder_share
        self.ip_skip_private = ip_skip_private
        self.keep_reserved = keep_reserved

    def setup(self) -> None:
        self._detector = PiiDetector(tuple(self.types), ip_skip_private=self.ip_skip_private, keep_reserved=self.keep_reserved)

    def keep(self, rec: Record) -> Verdict:
        if rec.messages is None:
            return KEEP
        first = next((m["content"] for m in rec.messages if m["role"] == "user"), "")
        if first and not _NAME_WORDS.isdisjoint(lower_letter_runs(first)):
            users = rec.contents("user")
            found: Counter = Counter()
            for text in [*users, *(t for _, t in answers(rec))]:
                found.update(m.type for m in self._detector.find(text))
            for t in _SEVERITY:
                m = _TYPE_NAMES[t].search(first) if found[t] else None
                if m is not None:
                    detail = f"the task names {m.group()!r} and the record holds {found[t]} such value(s)"
                    return Drop("pii_is_the_task", value=t, detail=detail)
        find = self._detector.find
        for path, text in answers(rec):
            # No "@" and no digit: no e-mail, phone or address to find (most answers); find is cached besides.
            if len(text) > _SHARE_CHARS or ("@" not in text and _DIGIT.search(text) is None) or not find(text):
                continue
            redacted, counts = self._detector.redact(text)
            body = "".join(redacted.split())
            placeholder_chars = sum(len(PLACEHOLDERS[t]) * n for t, n in counts.items())
            share = placeholder_chars / len(body) if body else 0.0
            if share >= self.max_placeholder_share:
                return Drop(
                    "answer_mostly_pii",
                    value=round(share, 3),
                    threshold=self.max_placeholder_share,
                    detail=f"{path} would become {redacted.strip()[:60]!r} ({describe_counts(counts, [path])})",
                )
        return KEEP
