"""Length filters on characters (token-length checks live in filter/tokens.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict


@register("filter.min_length")
class MinLength(Filter):
    """Drop records whose answer (assistant text, chosen answer, or text) is shorter than ``min_chars``."""

    reasons = ("too_short",)

    def __init__(self, min_chars: Annotated[int, Field(ge=0)] = 1):
        self.min_chars = min_chars

    def keep(self, rec: Record) -> Verdict:
        n = len(rec.response_text.strip())
        return KEEP if n >= self.min_chars else Drop("too_short", value=n, threshold=self.min_chars)
