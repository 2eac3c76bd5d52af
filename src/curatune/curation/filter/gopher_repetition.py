"""Gopher's repetition rules (Rae et al. 2021, as implemented in datatrove), on the messages of instruction data.

How the web rules are adapted to instruction data: see :mod:`._prose`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.code import looks_like_code, strip_code
from ..text.ngrams import first_ngram_excess
from ..text.words import cannot_hold_repetition_words, repetition_words
from ._prose import SONG, TABLE, VERSE_PROMPT, Fields, Ratio, dup_stats, prose_lines, texts_of

_PARA = re.compile(r"\n\s*\n")

# Gopher's limits ({2: .20, 3: .18, 4: .16} and {5: .15 ... 10: .10}) were set on web pages of
# hundreds of words; on 50-100 word answers with parallel structure ("1. What is ...? 2. What
# is ...?") they flagged 98 of 12,225 clean Alpaca/Dolly answers. These sit above the largest value
# seen on those clean answers; a model stuck in a loop scores 0.6 to 1.
TOP_NGRAM_LIMITS = {2: 0.30, 3: 0.35, 4: 0.45}
DUP_NGRAM_LIMITS = {5: 0.60, 6: 0.60, 7: 0.60, 8: 0.60, 9: 0.60, 10: 0.60}
_NGRAM_REASONS = {"top": "gopher_repetition_top_ngram", "dup": "gopher_repetition_dup_ngram"}


@register("filter.gopher_repetition")
class GopherRepetition(Filter):
    """Gopher's repetition rules on each message: repeated lines and paragraphs, and repeated word n-grams.

    Line and paragraph rules need at least 3 lines (paragraphs); n-gram
    rules need ``min_words``. Table rows and code are left out, since a
    table's separator rows and a program's closing braces repeat by design,
    and so are songs (a chorus repeats by design). Limits (None: the
    defaults below, looser than Gopher's, see ``TOP_NGRAM_LIMITS``) are
    set for answers; this is the check that catches a model stuck in a loop.
    """

    reasons = (
        "gopher_repetition_dup_lines",
        "gopher_repetition_dup_line_chars",
        "gopher_repetition_dup_paragraphs",
        "gopher_repetition_dup_paragraph_chars",
        "gopher_repetition_top_ngram",
        "gopher_repetition_dup_ngram",
    )

    def __init__(
        self,
        fields: Fields = "answer",
        min_words: Annotated[int, Field(ge=0)] = 50,
        max_dup_lines_ratio: Ratio | None = 0.4,
        max_dup_line_chars_ratio: Ratio | None = 0.4,
        max_dup_paragraphs_ratio: Ratio | None = 0.4,
        max_dup_paragraph_chars_ratio: Ratio | None = 0.4,
        top_ngram_max_fraction: dict[int, Ratio] | None = None,
        dup_ngram_max_fraction: dict[int, Ratio] | None = None,
    ):
        self.fields = fields
        self.min_words = min_words
        self.max_dup_lines_ratio = max_dup_lines_ratio
        self.max_dup_line_chars_ratio = max_dup_line_chars_ratio
        self.max_dup_paragraphs_ratio = max_dup_paragraphs_ratio
        self.max_dup_paragraph_chars_ratio = max_dup_paragraph_chars_ratio
        # None means Gopher's published limits.
        self.top_ngram_max_fraction = top_ngram_max_fraction
        self.dup_ngram_max_fraction = dup_ngram_max_fraction

    def _limits(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        top = self.top_ngram_max_fraction if self.top_ngram_max_fraction is not None else TOP_NGRAM_LIMITS
        dup = self.dup_ngram_max_fraction if self.dup_ngram_max_fraction is not None else DUP_NGRAM_LIMITS
        return sorted(top.items()), sorted(dup.items())

    def keep(self, rec: Record) -> Verdict:
        top, dup = None, None
        verse_prompt = None
        for path, raw in texts_of(rec, self.fields):
            text = strip_code(raw)
            pieces = self._pieces(text)
            if pieces is None:
                continue  # too short for any rule: nothing else to read
            if top is None:
                top, dup = self._limits()
            v = self._check(text, top, dup, pieces)
            if v is KEEP:
                continue
            # Songs and poems are exempt: asked only of a message that fails (the check is pure, so
            # checking first and exempting after gives the same verdict as exempting first).
            if SONG.search(raw):
                continue
            if verse_prompt is None:
                verse_prompt = VERSE_PROMPT.search(rec.prompt_text) is not None
            if not verse_prompt:
                assert v.reason is not None, "_check returns KEEP or a Drop"
                return Drop(v.reason, v.value, v.threshold, detail=f"{path}; {v.detail}" if v.detail else path)
        return KEEP

    def _pieces(self, text: str) -> tuple[list[str], list[str], list[str] | list[bytes]] | None:
        """(lines, paragraphs, words) of a message, or None when it is too short for every rule."""
        lines = [ln for ln in prose_lines(text) if not TABLE.match(ln)]
        # Paragraph breaks need a "\n"; without one there is a single paragraph, which no rule reads.
        paras = [p.strip() for p in _PARA.split(text) if p.strip()] if "\n" in text else []
        if len(lines) < 3 and len(paras) < 3 and cannot_hold_repetition_words(text, self.min_words):
            return None
        words = repetition_words(text)
        if len(lines) < 3 and len(paras) < 3 and len(words) < self.min_words:
            return None
        return lines, paras, words

    def _check(self, text: str, top, dup, pieces=None) -> Verdict:
        if looks_like_code(text):
            return KEEP
        lines, paras, words = pieces if pieces is not None else self._pieces(text) or ([], [], [])
        if len(lines) >= 3:
            r, rc = dup_stats(lines)
            if self.max_dup_lines_ratio is not None and r > self.max_dup_lines_ratio:
                return Drop("gopher_repetition_dup_lines", round(r, 4), self.max_dup_lines_ratio)
            if self.max_dup_line_chars_ratio is not None and rc > self.max_dup_line_chars_ratio:
                return Drop("gopher_repetition_dup_line_chars", round(rc, 4), self.max_dup_line_chars_ratio)
        if len(paras) >= 3:
            r, rc = dup_stats(paras)
            if self.max_dup_paragraphs_ratio is not None and r > self.max_dup_paragraphs_ratio:
                return Drop("gopher_repetition_dup_paragraphs", round(r, 4), self.max_dup_paragraphs_ratio)
            if self.max_dup_paragraph_chars_ratio is not None and rc > self.max_dup_paragraph_chars_ratio:
                return Drop("gopher_repetition_dup_paragraph_chars", round(rc, 4), self.max_dup_paragraph_chars_ratio)
        if len(words) < self.min_words:
            return KEEP
        # The most frequent n-gram's share of the text, and the share of words in repeated n-grams, per n.
        excess = first_ngram_excess(words, len(text), top, dup)
        if excess is None:
            return KEEP
        kind, n, f, limit = excess
        return Drop(_NGRAM_REASONS[kind], round(f, 4), limit, detail=f"n={n}")
