"""Redact personal data and secrets with typed placeholders (``<EMAIL>``, ``<PHONE>``, ...)."""

from __future__ import annotations

from collections import Counter

from ..pii import PiiDetector, PiiType, describe_counts
from ..record import Record
from ..registry import register
from ..step import Edit, Mapper
from ..text.paths import text_fields


@register("clean.pii")
class RedactPii(Mapper):
    """Replace each PII value of the listed ``types`` with its placeholder, in every text field.

    Every message of a conversation is searched, and ``text``, ``chosen`` and
    ``rejected`` for other kinds of record. Placeholders: ``<EMAIL>``,
    ``<PHONE>``, ``<CREDIT_CARD>``, ``<IBAN>``, ``<IP_ADDRESS>``, ``<US_SSN>``,
    ``<SECRET>`` (API keys, tokens, private keys; for ``key=value`` only the
    value is replaced). The ledger detail names the types, counts and fields,
    never the values.

    Drop or redact, per type: list the types to rewrite here and the types that
    should remove the record under ``filter.pii``. Put ``filter.pii`` first so a
    record it drops is not redacted for nothing.

    ``ip_skip_private``: leave private, loopback and reserved addresses
    (192.168.1.1, 10.0.0.5, 127.0.0.1) alone; they identify no one and are
    common in networking tutorials.
    """

    reasons = ("pii_redacted",)

    def __init__(
        self,
        types: list[PiiType] = ["email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "secret"],  # noqa: B006
        ip_skip_private: bool = True,
    ):
        self.types = types
        self.ip_skip_private = ip_skip_private

    def setup(self) -> None:
        self._detector = PiiDetector(tuple(self.types), ip_skip_private=self.ip_skip_private)

    def apply(self, rec: Record) -> Edit | None:
        new: dict[str, str] = {}
        counts: Counter = Counter()
        for path, text in text_fields(rec):
            redacted, found = self._detector.redact(text)
            if found:
                new[path] = redacted
                counts.update(found)
        if not new:
            return None
        return Edit(rec.with_text_fields(new), "pii_redacted", describe_counts(counts, list(new)))
