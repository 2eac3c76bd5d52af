"""Personal data and secrets in text: find them, or replace them with typed placeholders.

One detector serves both PII steps (``clean.pii`` redacts, ``filter.pii`` drops
or flags), so a type means the same thing whichever step a recipe lists it
under. It lives outside the step folders because it is a library, not a step.
"""

from .detect import PII_TYPES, PLACEHOLDERS, PiiDetector, PiiMatch, PiiType, describe_counts, iban_valid, luhn_valid
from .reserved import is_reserved

__all__ = ["PII_TYPES", "PLACEHOLDERS", "PiiDetector", "PiiMatch", "PiiType", "describe_counts", "iban_valid", "is_reserved", "luhn_valid"]
