"""Gopher's document-quality rules (Rae et al. 2021, as implemented in datatrove), on the messages of instruction data.

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
from ..text.words import cannot_hold_words
from ..text.wordshape import alpha_word_lengths, bare_word_count
from ._prose import BULLET, STRUCTURAL, Fields, Ratio, prose_lines, texts_of, word_list

_HASH = re.compile(r"(?<![&\w])#(?=\w)")  # hashtags and '#1', not markdown headings
_SOCIAL = re.compile(r"tweet|twitter|hashtag|instagram|social media|facebook|tiktok|linkedin|\bpost\b", re.I)
_PUNCT_STRIP = "\"'“”‘’()[]{}<>*_,;:!?.…-–—"


def _sentence_words(text: str) -> list[str]:
    """Words of the lines that are sentences: list items, table rows, headings, short lines
    ("Ground beef - not vegan") and comma-separated enumerations are left out."""
    out: list[str] = []
    structural = STRUCTURAL.match
    for line in text.splitlines():
        # The cheap word-count test first: both only skip the line, so their order does not matter.
        words = line.split()
        if len(words) < 6 or line.count(",") > 0.25 * len(words):
            continue
        if structural(line):
            continue
        out.extend(words)
    return out


@register("filter.gopher_quality")
class GopherQuality(Filter):
    """Gopher's document-quality rules on each message of ``min_words`` words or more.

    Symbol ratio (hashtags and ellipses per word), lines ending in an
    ellipsis, lines starting with a bullet (off by default: list answers are
    normal), and on the sentence lines only (list items, table rows, key -
    value lines and enumerations left out): the stop-word test (at least
    ``min_stop_words`` distinct function words from resources/stopwords_en.txt,
    Gopher's eight plus the commonest others), the share of words with a
    letter or a number, and mean word length bounds (of words with a letter).
    Code, JSON and HTML skip the word-shape rules.
    """

    reasons = (
        "gopher_symbol_ratio",
        "gopher_ellipsis_lines",
        "gopher_bullet_lines",
        "gopher_stopwords",
        "gopher_mean_word_length",
        "gopher_alpha_words",
    )

    def __init__(
        self,
        fields: Fields = "answer",
        min_words: Annotated[int, Field(ge=0)] = 50,
        max_symbol_word_ratio: Annotated[float, Field(ge=0)] | None = 0.1,
        max_ellipsis_lines_ratio: Ratio | None = 0.3,
        max_bullet_lines_ratio: Ratio | None = None,
        min_stop_words: Annotated[int, Field(ge=0)] | None = 2,
        min_mean_word_length: Annotated[float, Field(ge=0)] | None = 3.0,
        max_mean_word_length: Annotated[float, Field(gt=0)] | None = 10.0,
        min_alpha_words_ratio: Ratio | None = 0.8,
    ):
        self.fields = fields
        self.min_words = min_words
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.min_stop_words = min_stop_words
        self.min_mean_word_length = min_mean_word_length
        self.max_mean_word_length = max_mean_word_length
        self.min_alpha_words_ratio = min_alpha_words_ratio

    def setup(self) -> None:
        self._stop = word_list("stopwords_en.txt")

    def keep(self, rec: Record) -> Verdict:
        social: list[bool] = []  # whether the prompt asks for a post: read once, and only when a hashtag needs it
        for path, raw in texts_of(rec, self.fields):
            v = self._check(strip_code(raw), rec, social)
            if v is not KEEP:
                assert v.reason is not None, "_check returns KEEP or a Drop"
                return Drop(v.reason, v.value, v.threshold, detail=f"{path}; {v.detail}" if v.detail else path)
        return KEEP

    def _check(self, text: str, rec: Record, social: list[bool]) -> Verdict:
        # Short messages leave before any other work: every rule needs min_words words.
        if cannot_hold_words(text, self.min_words):
            return KEEP
        n = len(text.split())
        if n < self.min_words:
            return KEEP
        code = looks_like_code(text)
        if self.max_symbol_word_ratio is not None and not code:
            # Hashtags are what a prompt asking for a tweet wants; ellipses ("..." and "…") always count.
            hashes = len(_HASH.findall(text)) if "#" in text else 0
            if hashes:
                if not social:
                    social.append(bool(_SOCIAL.search(rec.prompt_text)))
                if social[0]:
                    hashes = 0
            symbols = hashes + text.count("...") + text.count("…")
            r = symbols / n
            if r > self.max_symbol_word_ratio:
                return Drop("gopher_symbol_ratio", round(r, 4), self.max_symbol_word_ratio)
        lines = prose_lines(text)
        if self.max_ellipsis_lines_ratio is not None and len(lines) >= 3:
            r = sum(1 for ln in lines if ln.endswith(("...", "…"))) / len(lines)
            if r > self.max_ellipsis_lines_ratio:
                return Drop("gopher_ellipsis_lines", round(r, 4), self.max_ellipsis_lines_ratio)
        if self.max_bullet_lines_ratio is not None and len(lines) >= 3:
            r = sum(1 for ln in lines if BULLET.match(ln)) / len(lines)
            if r > self.max_bullet_lines_ratio:
                return Drop("gopher_bullet_lines", round(r, 4), self.max_bullet_lines_ratio)
        if code:
            return KEEP
        # Word-shape rules judge sentences only: a list of names has no stop words and is a fine answer.
        words = _sentence_words(text)
        n = len(words)
        if n < self.min_words:
            return KEEP
        # One word a line (words hold no "\n"), so that each word-shape count is one regex pass.
        joined = "\n".join(words)
        stripped = "\n".join([w.strip(_PUNCT_STRIP) for w in words])
        if self.min_stop_words is not None:
            found = self._stop.intersection(stripped.lower().split("\n"))
            if len(found) < self.min_stop_words:
                return Drop("gopher_stopwords", len(found), self.min_stop_words)
        if self.min_alpha_words_ratio is not None:
            # Numbers and formulas are words here: "2 + 3 = 5" is a fine answer, "~~ ## ::" is not.
            r = (n - bare_word_count(joined)) / n
            if r < self.min_alpha_words_ratio:
                return Drop("gopher_alpha_words", round(r, 4), self.min_alpha_words_ratio)
        bounded = self.min_mean_word_length is not None or self.max_mean_word_length is not None
        chars, count = alpha_word_lengths(stripped, n) if bounded else (0, 0)
        if count:
            mean = chars / count
            if self.min_mean_word_length is not None and mean < self.min_mean_word_length:
                return Drop("gopher_mean_word_length", round(mean, 3), self.min_mean_word_length, detail="below minimum")
            if self.max_mean_word_length is not None and mean > self.max_mean_word_length:
                return Drop("gopher_mean_word_length", round(mean, 3), self.max_mean_word_length, detail="above maximum")
        return KEEP
