"""Gopher, C4 and FineWeb quality rules, adapted from web pages to the messages of instruction data.

The rules come from Gopher (Rae et al. 2021, as implemented in datatrove), C4
(Raffel et al. 2020) and FineWeb (Penedo et al. 2024). Web rules misfire on
instruction data, so each rule here:

- judges each message on its own (by default each answer), never the
  conversation glued together;
- ignores fenced code and inline `code`, and skips symbol, bracket and
  word-shape rules when the rest still looks like code, JSON or HTML;
- skips statistical rules on short messages (``min_words``): "Paris." has no
  stop words and that is fine;
- leaves list and table lines out of line-shape ratios, and turns off the
  rules that only fire on lists (Gopher's bullet rule, FineWeb's short-line
  rule) unless asked.

Every threshold is a parameter and every failure says which rule, the
measured value and the limit.
"""

from __future__ import annotations

import re
from collections import Counter
from operator import mul
from typing import Annotated, Literal

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ._prose import looks_like_code, punct_to_spaces, strip_code, texts_of, word_bytes_table, word_list

Fields = Literal["answer", "prompt", "all"]
Ratio = Annotated[float, Field(ge=0, le=1)]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # words for repetition statistics
_WORD_ASCII = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")  # the same on lower-cased ASCII, a little faster
# And on ASCII text, three times faster still, with a bytes translate: A-Z to a-z, a-z, 0-9 and the apostrophe
# kept, every other byte a space. An apostrophe joins two words only between letters or digits: next to a
# space, another apostrophe or an end it becomes a space too (pairs first, so that a run of them all goes).
_ASCII_ALNUM = word_bytes_table("abcdefghijklmnopqrstuvwxyz0123456789'", lower=True)


def _words(text: str) -> list[str] | list[bytes]:
    """The words of a text for repetition statistics, lower-cased; as bytes for ASCII text (the rules only
    count, compare and measure them, and an ASCII byte is one character)."""
    if not text.isascii():
        # Common prose punctuation as spaces (see punct_to_spaces). The curly apostrophe joins words as "'"
        # does, and stands for it where the text has no "'": the rules compare words within one text only.
        ascii_text = punct_to_spaces(text, keep="’")
        if "’" in ascii_text and "'" not in ascii_text:
            ascii_text = ascii_text.replace("’", "'")
        if not ascii_text.isascii():
            return _WORD.findall(text.lower())
        text = ascii_text
    runs = text.encode("ascii").translate(_ASCII_ALNUM)
    if b"'" in runs:
        runs = (b" " + runs + b" ").replace(b"''", b"  ").replace(b" '", b"  ").replace(b"' ", b"  ")
    return runs.split()


_BULLET = re.compile(r"^\s*(?:[-*•‣◦▪●–](?=\s|[A-Za-z])|(?:\d{1,3}|[a-zA-Z]|[IVX]{1,4})[.)]\s)")
_TABLE = re.compile(r"^\s*\|.*\|\s*$|^\s*[-|:+ ]{3,}\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_KEY_VALUE = re.compile(r"^[^.!?]{1,60}(?:\s[-–—|]|:)\s")  # "2019 - Oculus Quest - Oculus", "Rent: $850"
_HASH = re.compile(r"(?<![&\w])#(?=\w)")  # hashtags and '#1', not markdown headings
_ELLIPSIS = re.compile(r"\.\.\.|…")
_PUNCT_STRIP = "\"'“”‘’()[]{}<>*_,;:!?.…-–—"
_TERMINAL = (".", "!", "?", '"', "'", "”", "’", "…", ":", ")")
_PARA = re.compile(r"\n\s*\n")
_JS_BOILERPLATE = re.compile(
    r"(?:enable|enabled|requires?|turn on|activate|allow)\s+javascript|javascript\s+(?:is|must be)\s+(?:disabled|required|turned off|not enabled)"
    r"|your browser (?:does not|doesn't) support javascript",
    re.I,
)
_LOREM = re.compile(r"lorem ipsum", re.I)
_SOCIAL = re.compile(r"tweet|twitter|hashtag|instagram|social media|facebook|tiktok|linkedin|\bpost\b", re.I)
_NUMBERISH = re.compile(r"[\d%$€£=+×÷*/^<>±≈-]")
# The word-shape rules run on the words joined one per line, so that each per-word test is one regex
# pass in C: a "line" below is a word (words come from str.split, so they hold no "\n").
# A word with no letter, no number ([^\W_] is exactly str.isalnum) and no formula sign:
_BARE_WORD = re.compile(r"^(?:_|[^\w\n" + _NUMBERISH.pattern[1:-1] + "])+$", re.M)
# A word (a line) without an ASCII letter, the empty word included:
_NO_ASCII_LETTER_WORD = re.compile(r"^[^A-Za-z\n]*$", re.M)


def _prose_lines(text: str) -> list[str]:
    return [ln for ln in (s.strip() for s in text.splitlines()) if ln]


_SONG = re.compile(r"^\s*\(?(?:chorus|verse|refrain|bridge|hook|pre-chorus|outro)\b", re.I | re.M)
_VERSE_PROMPT = re.compile(
    r"\b(?:poems?|poetry|songs?|lyrics|verses?|haikus?|limericks?|sonnets?|raps?|rhym\w*|jingles?|chants?|ballads?|stanzas?)\b", re.I
)


def _is_verse(rec: Record, text: str) -> bool:
    """Poems and songs: lines without punctuation and a repeated chorus are their form, not a defect."""
    return bool(_SONG.search(text) or _VERSE_PROMPT.search(rec.prompt_text))


def _alpha_word_lengths(stripped: str, n: int) -> tuple[int, int]:
    """(total length, number) of the ``n`` words (one a line) that hold a letter.

    Found as all words less the few without an ASCII letter (empty ones included); of those, the
    non-ASCII ones may still hold a letter: no regex class is exactly str.isalpha outside ASCII
    ("²" and "Ⅻ" are \\w but not letters), so str.isalpha decides.
    """
    bare = _NO_ASCII_LETTER_WORD.findall(stripped)
    back = [w for w in bare if not w.isascii() and any(c.isalpha() for c in w)] if bare else ()
    chars = len(stripped) - (n - 1) - sum(map(len, bare)) + sum(map(len, back))
    return chars, n - len(bare) + len(back)


# One regex for the four structural line shapes (a match of any branch at the start is a match of the whole).
_STRUCTURAL = re.compile("|".join(f"(?:{p.pattern})" for p in (_BULLET, _TABLE, _HEADING, _KEY_VALUE)))


def _sentence_words(text: str) -> list[str]:
    """Words of the lines that are sentences: list items, table rows, headings, short lines
    ("Ground beef - not vegan") and comma-separated enumerations are left out."""
    out: list[str] = []
    structural = _STRUCTURAL.match
    for line in text.splitlines():
        # The cheap word-count test first: both only skip the line, so their order does not matter.
        words = line.split()
        if len(words) < 6 or line.count(",") > 0.25 * len(words):
            continue
        if structural(line):
            continue
        out.extend(words)
    return out


def _is_structural(line: str) -> bool:
    """List items, table rows and headings: normal in answers, meaningless for line-shape ratios."""
    return _STRUCTURAL.match(line) is not None


# ---- Gopher quality ------------------------------------------------------------------------


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
        if not hasattr(self, "_stop"):
            self.setup()
        social: list[bool] = []  # whether the prompt asks for a post: read once, and only when a hashtag needs it
        for path, raw in texts_of(rec, self.fields):
            v = self._check(strip_code(raw), rec, social)
            if v is not KEEP:
                return Drop(v.reason, v.value, v.threshold, detail=f"{path}; {v.detail}" if v.detail else path)
        return KEEP

    def _check(self, text: str, rec: Record, social: list[bool]) -> Verdict:
        # Short messages leave before any other work: every rule needs min_words words.
        if len(text) < 2 * self.min_words - 1:
            return KEEP  # words are separated by whitespace: fewer characters cannot hold min_words
        n = len(text.split())
        if n < self.min_words:
            return KEEP
        code = looks_like_code(text)
        if self.max_symbol_word_ratio is not None and not code:
            # Hashtags are what a prompt asking for a tweet wants; ellipses always count.
            hashes = len(_HASH.findall(text)) if "#" in text else 0
            if hashes:
                if not social:
                    social.append(bool(_SOCIAL.search(rec.prompt_text)))
                if social[0]:
                    hashes = 0
            symbols = hashes + text.count("...") + text.count("…")  # = len(_ELLIPSIS.findall(text))
            r = symbols / n
            if r > self.max_symbol_word_ratio:
                return Drop("gopher_symbol_ratio", round(r, 4), self.max_symbol_word_ratio)
        lines = _prose_lines(text)
        if self.max_ellipsis_lines_ratio is not None and len(lines) >= 3:
            r = sum(1 for ln in lines if ln.endswith(("...", "…"))) / len(lines)
            if r > self.max_ellipsis_lines_ratio:
                return Drop("gopher_ellipsis_lines", round(r, 4), self.max_ellipsis_lines_ratio)
        if self.max_bullet_lines_ratio is not None and len(lines) >= 3:
            r = sum(1 for ln in lines if _BULLET.match(ln)) / len(lines)
            if r > self.max_bullet_lines_ratio:
                return Drop("gopher_bullet_lines", round(r, 4), self.max_bullet_lines_ratio)
        if code:
            return KEEP
        # Word-shape rules judge sentences only: a list of names has no stop words and is a fine answer.
        words = _sentence_words(text)
        n = len(words)
        if n < self.min_words:
            return KEEP
        joined = "\n".join(words)
        stripped = "\n".join([w.strip(_PUNCT_STRIP) for w in words])  # still one word a line
        if self.min_stop_words is not None:
            found = self._stop.intersection(stripped.lower().split("\n"))
            if len(found) < self.min_stop_words:
                return Drop("gopher_stopwords", len(found), self.min_stop_words)
        if self.min_alpha_words_ratio is not None:
            # Numbers and formulas are words here: "2 + 3 = 5" is a fine answer, "~~ ## ::" is not.
            r = (n - len(_BARE_WORD.findall(joined))) / n
            if r < self.min_alpha_words_ratio:
                return Drop("gopher_alpha_words", round(r, 4), self.min_alpha_words_ratio)
        bounded = self.min_mean_word_length is not None or self.max_mean_word_length is not None
        chars, count = _alpha_word_lengths(stripped, n) if bounded else (0, 0)
        if count:
            mean = chars / count
            if self.min_mean_word_length is not None and mean < self.min_mean_word_length:
                return Drop("gopher_mean_word_length", round(mean, 3), self.min_mean_word_length, detail="below minimum")
            if self.max_mean_word_length is not None and mean > self.max_mean_word_length:
                return Drop("gopher_mean_word_length", round(mean, 3), self.max_mean_word_length, detail="above maximum")
        return KEEP


# ---- Gopher repetition ---------------------------------------------------------------------


def _dup_stats(parts: list[str]) -> tuple[float, float]:
    """(share of parts that repeat an earlier one, share of characters in those repeats)."""
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for p in parts:
        total_chars += len(p)
        if p in seen:
            dup += 1
            dup_chars += len(p)
        else:
            seen.add(p)
    return dup / len(parts), (dup_chars / total_chars if total_chars else 0.0)


def top_ngram_char_fraction(words: list[str], n: int, text_len: int) -> float:
    """Characters covered by the most frequent word n-gram (if it occurs twice or more), over the text length."""
    counts = Counter(zip(*(words[i:] for i in range(n))))
    if not counts:
        return 0.0
    gram, c = counts.most_common(1)[0]
    if c < 2:
        return 0.0
    return (sum(map(len, gram)) + n - 1) * c / text_len


def dup_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters of words inside n-grams that repeat an earlier n-gram (non-overlapping), over all word characters."""
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    i, last = 0, len(words) - n + 1
    while i < last:
        gram = tuple(words[i : i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / total_chars if total_chars else 0.0


# Gopher's limits ({2: .20, 3: .18, 4: .16} and {5: .15 ... 10: .10}) were set on web pages of
# hundreds of words; on 50-100 word answers with parallel structure ("1. What is ...? 2. What
# is ...?") they flagged 98 of 12,225 clean Alpaca/Dolly answers. These sit above the largest value
# seen on those clean answers; a model stuck in a loop scores 0.6 to 1.
TOP_NGRAM_LIMITS = {2: 0.30, 3: 0.35, 4: 0.45}
DUP_NGRAM_LIMITS = {5: 0.60, 6: 0.60, 7: 0.60, 8: 0.60, 9: 0.60, 10: 0.60}


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
            if _SONG.search(raw):
                continue
            if verse_prompt is None:
                verse_prompt = _VERSE_PROMPT.search(rec.prompt_text) is not None
            if not verse_prompt:
                return Drop(v.reason, v.value, v.threshold, detail=f"{path}; {v.detail}" if v.detail else path)
        return KEEP

    def _pieces(self, text: str) -> tuple[list[str], list[str], list[str]] | None:
        """(lines, paragraphs, words) of a message, or None when it is too short for every rule."""
        lines = [ln for ln in _prose_lines(text) if not _TABLE.match(ln)]
        # Paragraph breaks need a "\n"; without one there is a single paragraph, which no rule reads.
        paras = [p.strip() for p in _PARA.split(text) if p.strip()] if "\n" in text else []
        if len(lines) < 3 and len(paras) < 3 and text.isascii() and len(text) < 2 * self.min_words - 1:
            return None  # words are separated, so an ASCII text this short holds fewer than min_words
        words = _words(text)
        if len(lines) < 3 and len(paras) < 3 and len(words) < self.min_words:
            return None
        return lines, paras, words

    def _check(self, text: str, top, dup, pieces=None) -> Verdict:
        if looks_like_code(text):
            return KEEP
        lines, paras, words = pieces if pieces is not None else self._pieces(text) or ([], [], [])
        if len(lines) >= 3:
            r, rc = _dup_stats(lines)
            if self.max_dup_lines_ratio is not None and r > self.max_dup_lines_ratio:
                return Drop("gopher_repetition_dup_lines", round(r, 4), self.max_dup_lines_ratio)
            if self.max_dup_line_chars_ratio is not None and rc > self.max_dup_line_chars_ratio:
                return Drop("gopher_repetition_dup_line_chars", round(rc, 4), self.max_dup_line_chars_ratio)
        if len(paras) >= 3:
            r, rc = _dup_stats(paras)
            if self.max_dup_paragraphs_ratio is not None and r > self.max_dup_paragraphs_ratio:
                return Drop("gopher_repetition_dup_paragraphs", round(r, 4), self.max_dup_paragraphs_ratio)
            if self.max_dup_paragraph_chars_ratio is not None and rc > self.max_dup_paragraph_chars_ratio:
                return Drop("gopher_repetition_dup_paragraph_chars", round(rc, 4), self.max_dup_paragraph_chars_ratio)
        if len(words) < self.min_words:
            return KEEP
        counts = Counter(words)
        if len(counts) == len(words):
            return KEEP  # no word repeats, so no n-gram does: every fraction is 0
        # A bound that skips the n-gram counting when no n-gram could pass a limit. Each word of an
        # n-gram seen c times occurs at least c times, so the fraction's numerator
        # (chars + n - 1) * c is at most n * most + (n - 1) * most_seen, where most is the largest
        # len(w) * count(w) (over all words: a looser bound than over repeated ones, but computed in C).
        most = max(map(mul, map(len, counts), counts.values()))
        most_seen = max(counts.values())
        # A repeated n-gram contains a repeated (n-1)-gram: from the first n without one, every
        # fraction below is 0 (and 0 never exceeds a limit).
        no_repeat_from = None  # only n >= 1 is ever skipped
        text_len = len(text)
        for n, limit in top:
            if no_repeat_from is not None and n >= no_repeat_from >= 1:
                continue
            if n >= 1 and (n * most + (n - 1) * most_seen) / text_len <= limit:
                continue
            f = top_ngram_char_fraction(words, n, text_len)
            if f == 0.0 and n >= 1 and (no_repeat_from is None or n < no_repeat_from):
                no_repeat_from = n
            if f > limit:
                return Drop("gopher_repetition_top_ngram", round(f, 4), limit, detail=f"n={n}")
        total = sum(map(len, words))
        # Another bound, for the repeated n-grams: each word counted sits in a later copy of an n-gram, so it
        # is not its word's first occurrence; the count is at most the characters of all repeat occurrences,
        # total - (characters of the distinct words), both summed in C. Function words alone stay far below.
        repeats_bound = (total - sum(map(len, counts))) / total if total else 0.0
        for n, limit in dup:
            if n >= 1 and repeats_bound <= limit:
                continue
            if n < 1:
                pass  # not an n-gram size: leave it to the plain computation
            elif no_repeat_from is not None and n >= no_repeat_from:
                break  # no repeated n-gram means no repeated longer one either
            elif len(set(zip(*(words[i:] for i in range(n))))) == max(len(words) - n + 1, 0):
                break  # no n-gram occurs twice, so the fraction is 0
            f = dup_ngram_char_fraction(words, n, total)
            if f == 0.0:
                break  # no repeated n-gram means no repeated longer one either
            if f > limit:
                return Drop("gopher_repetition_dup_ngram", round(f, 4), limit, detail=f"n={n}")
        return KEEP


# ---- C4 ------------------------------------------------------------------------------------


def _may_hold_lorem(text: str) -> bool:
    """False when ``_LOREM`` cannot match: a case-insensitive regex search costs ten times a lower().

    Under re.IGNORECASE the letters of "lorem" match only themselves in either case (only i, s and
    k have non-ASCII case partners), so a match needs "lorem" in the lower-cased text.
    """
    return "lorem" in text.lower()


def _may_hold(text: str, word: str) -> bool:
    """False when no case-insensitive regex can match ``word`` (ASCII, lower case) in ``text``.

    Under re.IGNORECASE an ASCII letter also matches "ſ" (s), "ı" and "İ" (i) and the Kelvin sign
    (k, which lower() maps to "k"); "İ".lower() is "i" plus U+0307.
    """
    low = text.lower()
    if word in low:
        return True
    if low.isascii():
        return False
    return word in low.replace("ſ", "s").replace("ı", "i").replace("\u0307", "")


@register("filter.c4_quality")
class C4Quality(Filter):
    """C4's page rules that still mean something in instruction data.

    ``lorem ipsum`` placeholder text anywhere; web boilerplate about
    JavaScript ("please enable JavaScript"; C4 dropped every line that said
    "javascript", which would drop every answer about the language); curly
    brackets in prose (off by default: JSON, sets and LaTeX use them, and
    code is already exempt). Answers only by default: a prompt may quote
    placeholder text as the input of a task ("count the words in: Lorem
    ipsum ...").
    """

    reasons = ("c4_lorem_ipsum", "c4_javascript", "c4_curly_bracket")

    def __init__(self, fields: Fields = "answer", lorem_ipsum: bool = True, javascript: bool = True, curly_bracket: bool = False):
        self.fields = fields
        self.lorem_ipsum = lorem_ipsum
        self.javascript = javascript
        self.curly_bracket = curly_bracket

    def keep(self, rec: Record) -> Verdict:
        for path, text in texts_of(rec, self.fields):
            if self.lorem_ipsum and _may_hold_lorem(text) and _LOREM.search(text):
                return Drop("c4_lorem_ipsum", 1, 0, detail=path)
            if self.javascript and "ript" in text and _may_hold(text, "javascript") and _JS_BOILERPLATE.search(text):
                return Drop("c4_javascript", 1, 0, detail=path)
            if self.curly_bracket and "{" in text:
                prose = strip_code(text)
                if "{" in prose and not looks_like_code(prose):
                    return Drop("c4_curly_bracket", prose.count("{"), 0, detail=path)
        return KEEP


# ---- FineWeb -------------------------------------------------------------------------------


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
            if _is_verse(rec, raw):
                continue
            v = self._check(strip_code(raw))
            if v is not KEEP:
                return Drop(v.reason, v.value, v.threshold, detail=path)
        return KEEP

    def _check(self, text: str) -> Verdict:
        if "\n" not in text or looks_like_code(text):
            return KEEP
        lines = [ln for ln in _prose_lines(text) if not _is_structural(ln)]
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
            _, rc = _dup_stats(lines)
            if rc > self.max_dup_line_chars_ratio:
                return Drop("fineweb_dup_line_chars", round(rc, 4), self.max_dup_line_chars_ratio)
        return KEEP
