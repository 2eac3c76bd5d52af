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

    ``keep_reserved``: leave documentation, fiction and test values alone
    (``kim@example.com``, ``(415) 555-0123``, ``4111 1111 1111 1111``,
    ``192.0.2.10``, ``AKIAIOSFODNN7EXAMPLE``; see :mod:`curatune.curation.pii.reserved`):
    they belong to no one, and redacting them breaks the tutorial or the
    config that shows them. A record whose task is about the value itself, or
    whose answer would become mostly placeholders, is ``filter.pii_task``'s:
    put it before this step, so that such a record is dropped with its reason
    instead of kept as ``<EMAIL>``.
    """

    reasons = ("pii_redacted",)

    def __init__(
        self,
        types: list[PiiType] = ["email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "secret"],  # noqa: B006
        ip_skip_private: bool = True,
        keep_reserved: bool = True,
    ):
        self.types = types
        self.ip_skip_private = ip_skip_private
        self.keep_reserved = keep_reserved

    def setup(self) -> None:
        self._detector = PiiDetector(tuple(self.types), ip_skip_private=self.ip_skip_private, keep_reserved=self.keep_reserved)

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
