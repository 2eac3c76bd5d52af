"""Is a short text a placeholder for missing content? Shared by the input and answer checks.

Three shapes, none of them a fixed list of whole values:

- punctuation only: ``-``, ``...``, ``()``, ``""``;
- a template slot: a name in braces (``{input}``, ``{{ context }}``), ``$input``, ``%s``, or a bracketed
  text whose words are all placeholder words (``<no input>``, ``[ANSWER]``, ``(empty)``);
- placeholder words only, with at least one word that says "missing" (``No input required.``,
  ``Not applicable``, ``Noinput``, ``NoContextGiven``): words run together are split over the
  vocabulary, so spelling variants need no entry of their own.

The vocabulary is ``placeholder_words.txt`` (marker words, filler words, and answer-slot words that count
for answers only). A text longer than ``max_chars`` or ``max_words`` is never a placeholder.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from ._instruct_text import phrase_sections

_WORD = re.compile(r"[a-z]+")
_SLOT_NAME = re.compile(r"^\s*(?:\{\{?\s*[A-Za-z_][\w .-]{0,30}\}?\}|\$\{?[A-Za-z_]\w{0,30}\}?|%[sd])\s*$")
_BRACKETED = re.compile(r"^\s*([<\[({]{1,2})(.{0,40}?)([>\])}]{1,2})\s*[.:]?\s*$", re.S)


@cache
def _vocabulary(answers: bool) -> tuple[frozenset[str], frozenset[str]]:
    sections = phrase_sections("placeholder_words.txt")
    markers = frozenset(sections["marker"])
    filler = set(sections["filler"])
    if answers:
        filler |= set(sections["answer_filler"])
    return markers, frozenset(filler | markers)


def _segment(run: str, vocabulary: frozenset[str]) -> list[str] | None:
    """``run`` as a sequence of vocabulary words ("noinputrequired" -> no input required), or None.

    Longest words first at each position, with backtracking (a word-break search over a short string). Inside a
    run only words of three letters or more, and "no", count: "Anna" is not "an" + "na"."""
    if run in vocabulary:
        return [run]
    n = len(run)
    best: list[list[str] | None] = [None] * (n + 1)
    best[n] = []
    for i in range(n - 1, -1, -1):
        for j in range(n, i, -1):
            rest = best[j]
            piece = run[i:j]
            if rest is not None and (j - i >= 3 or piece == "no") and piece in vocabulary:
                best[i] = [piece, *rest]
                break
    return best[0]


_NA = re.compile(r"\bn\s*[/.\\]\s*a\b\.?")  # N/A, n.a., N\A


def placeholder_words(text: str, answers: bool = False) -> list[str] | None:
    """The vocabulary words a text consists of, when every word is one (None otherwise). "N/A" reads as "na"."""
    markers, vocabulary = _vocabulary(answers)
    out: list[str] = []
    for run in _WORD.findall(_NA.sub(" na ", text.lower())):
        seg = _segment(run, vocabulary)
        if seg is None:
            return None
        out.extend(seg)
    return out


def _punctuation_only(text: str) -> bool:
    """Punctuation and ASCII symbols only ("-", "...", "___", "~~~"); an emoji is an answer, not a placeholder."""
    return all(unicodedata.category(c)[0] == "P" or c.isspace() or (c.isascii() and unicodedata.category(c)[0] == "S") for c in text)


def placeholder_kind(text: str, answers: bool = False, max_chars: int = 60, max_words: int = 8) -> str | None:
    """Why ``text`` is a placeholder (``punctuation``, ``template_slot``, ``placeholder_words``, ``label``), or None.

    An empty text is no placeholder (it is empty: another check's business). ``answers`` adds the answer-slot
    words ("[Your answer here]"), which in an input would be ordinary words."""
    t = text.strip()
    if not t or len(t) > max_chars or any(c.isdigit() for c in t):
        return None  # a number is content ("0", "<noinput> 8" is more than a placeholder)
    if _punctuation_only(t):
        return "punctuation"
    if _SLOT_NAME.match(t):
        return "template_slot"
    markers, _ = _vocabulary(answers)
    m = _BRACKETED.match(t)
    if m and m.group(2).strip():
        inner = placeholder_words(m.group(2), answers)
        # At least one real slot word: "(a)" and "[1]" are an option's label, not a slot.
        if inner and len(inner) <= max_words and max(map(len, inner)) >= 3:
            return "template_slot"
    words = placeholder_words(t, answers)
    if not words or len(words) > max_words:
        return None
    if words == ["no"]:
        return None  # "No" alone answers something; "No input", "None", "Nothing" say what is missing
    if any(w in markers for w in words):
        return "placeholder_words"
    if t.endswith(":"):
        return "label"  # "Input:", "Answer:": a label with nothing after it
    return None
