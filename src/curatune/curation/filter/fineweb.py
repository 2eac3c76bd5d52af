"""FineWeb's line rules (Penedo et al. 2024), on the prose lines of the messages of instruction data.

How the web rules are adapted to instruction data: see :mod:`._prose`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.code import looks_like_code, strip_code
from ._prose import Fields, Ratio, dup_stats, is_structural, is_verse, prose_lines, texts_of

_TERMINAL = (".", "!", "?", '"', "'", "”", "’", "…", ":", ")")


@register("filter.fineweb_quality")
class FineWebQuality(Filter):
    """FineWeb's line rules on the prose lines of each message (list items, table rows, headings left out).

    Too few prose lines ending in punctuation, too many short prose lines,
    and too many characters in repeated lines. They need ``min_lines`` prose
    lines. Poems and songs (by the prompt, or verse/chorus markers) are
    skipped: they fail these rules by design. The short-line rule is off by
    default (it fires on lists); the recipe should flag, not drop.
    """

    reasons = ("fineweb_line_punctuation", "fineweb_short_lines", "fineweb_dup_line_chars")

    def __init__(
        self,
        fields: Fields = "answer",
        min_lines: Annotated[int, Field(ge=1)] = 5,
        min_line_punct_ratio: Ratio | None = 0.12,
        short_line_chars: Annotated[int, Field(ge=1)] = 30,
        max_short_line_ratio: Ratio | None = None,
        max_dup_line_chars_ratio: Ratio | None = 0.3,
    ):
        self.fields = fields
        self.min_lines = min_lines
        self.min_line_punct_ratio = min_line_punct_ratio
        self.short_line_chars = short_line_chars
        self.max_short_line_ratio = max_short_line_ratio
        self.max_dup_line_chars_ratio = max_dup_line_chars_ratio

    def keep(self, rec: Record) -> Verdict:
        for path, raw in texts_of(rec, self.fields):
            if is_verse(rec, raw):
                continue
            v = self._check(strip_code(raw))
            if v is not KEEP:
                assert v.reason is not None, "_check returns KEEP or a Drop"
                return Drop(v.reason, v.value, v.threshold, detail=path)
        return KEEP

    def _check(self, text: str) -> Verdict:
        if "\n" not in text or looks_like_code(text):
            return KEEP
        lines = [ln for ln in prose_lines(text) if not is_structural(ln)]
        if len(lines) < self.min_lines:
            return KEEP
        if self.min_line_punct_ratio is not None:
            # Lines of five words or fewer are list items without a bullet ("Creed II"), not sentences.
            long = [ln for ln in lines if ln.count(" ") >= 5]
            if len(long) >= self.min_lines:
                r = sum(1 for ln in long if ln.endswith(_TERMINAL)) / len(long)
                if r < self.min_line_punct_ratio:
                    return Drop("fineweb_line_punctuation", round(r, 4), self.min_line_punct_ratio)
        if self.max_short_line_ratio is not None:
            r = sum(1 for ln in lines if len(ln) <= self.short_line_chars) / len(lines)
            if r > self.max_short_line_ratio:
                return Drop("fineweb_short_lines", round(r, 4), self.max_short_line_ratio)
        if self.max_dup_line_chars_ratio is not None:
            _, rc = dup_stats(lines)
            if rc > self.max_dup_line_chars_ratio:
                return Drop("fineweb_dup_line_chars", round(rc, 4), self.max_dup_line_chars_ratio)
        return KEEP
