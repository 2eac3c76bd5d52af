"""Drop (or flag) records that contain personal data or secrets of the listed types."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from pydantic import Field

from ..pii import PII_TYPES, PiiDetector, PiiType, describe_counts
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.paths import text_fields

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
    """

    reasons = tuple(f"pii_{t}" for t in PII_TYPES)

    def __init__(
        self,
        types: list[PiiType] = ["secret", "credit_card", "iban", "us_ssn"],  # noqa: B006
        min_count: Annotated[int, Field(ge=1)] = 1,
        ip_skip_private: bool = True,
    ):
        self.types = types
        self.min_count = min_count
        self.ip_skip_private = ip_skip_private

    def setup(self) -> None:
        self._detector = PiiDetector(tuple(self.types), ip_skip_private=self.ip_skip_private)

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
