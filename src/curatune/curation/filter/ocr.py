"""OCR noise: character confusions, junk characters and broken hyphenation in scanned-and-recognised text.

A token is *suspicious* when it is one of:

- a confusion: not an English word, but one once ``rn``->``m``, ``0``->``o``,
  ``1``/``|``/``I``->``l`` or ``5``->``s`` is undone ("rnodern", "1ike", "w0rld");
- letters with a ``0``, ``1`` or ``5`` inside or in front ("th1s", "0ften") that
  is no unit, ordinal or identifier ("5th", "10km", "utf8", "mp3", "x86");
- letters with junk characters inside ("w^rd", "l¬ike") or a run of junk ("~^|");
- a broken hyphenation: "infor- mation" or "com-\\npu ter" whose halves join into a word.

URLs, e-mail addresses, numbers, versions ("v1.2.3"), code spans and fenced
code are never suspicious. The score is suspicious tokens per word; a message
fails when the score reaches ``max_score`` and at least ``min_suspicious``
tokens are suspicious. The English word list (resources/en_words.txt) is the
whole-word part of the SmolLM2 tokenizer's vocabulary.
"""

from __future__ import annotations

import re
from itertools import filterfalse
from typing import Annotated, Literal

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.code import strip_code
from ..text.memo import TokenMemo
from ._prose import texts_of, word_list

_SKIP = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)|@|\.(?:com|org|net|io|edu|gov|html?|py|js|json|txt|csv|pdf)\b", re.I)
_NUMBERISH = re.compile(
    r"^[v#]?[\d.,:/%+\-x×]+(?:st|nd|rd|th|s|k|m|b|g|x|px|pt|ms|am|pm|km|kg|mg|ml|cm|mm|gb|mb|kb|tb|hz|khz|mhz|ghz|d|p|fps|mph|kph|hrs?|mins?|secs?|yrs?|lbs?|oz|ft|in|bn|mn)?$",
    re.I,
)
_ALNUM_ID = re.compile(r"^[a-z]+\d+$|^[A-Z0-9]+$|^[a-z]\d+[a-z]$|^[A-Za-z]+\d+[A-Za-z]?$", re.A)  # utf8, mp3, H2O, i7, x86, b2b
_DIGIT_IN_WORD = re.compile(r"^[A-Za-z]*[a-z][015][a-z][A-Za-z]*$|^[015][a-z]{2,}$|^[a-z]+[015][a-z]+[015]?[a-z]*$", re.A)
_UNIT_TAIL = re.compile(r"^\d+(?:st|nd|rd|th|s|am|pm|km|kg|mg|ml|cm|mm|gb|mb|kb|tb|hz|fps|mph|lbs|oz|ft|mins?|hrs?|yrs?)$", re.I)
# Junk between two letters ('an•d', 'da°y', 'sc«ript'), or stuck to a word's edge ('¦code', 'runs|');
# '«»°' only inside a word, since '«Bonjour»' and '20°C' are fine.
_JUNK_IN_WORD = re.compile(r"[A-Za-z][~^|¬¦¤¨´¸•■«»°`]+[A-Za-z]|^[~^|¬¦¤¨´¸•■][A-Za-z]{2,}|[A-Za-z]{2,}[~^|¬¦¤¨´¸•■]$")
_JUNK_RUN = re.compile(r"^[~^|¬¦§¤¨´`¸■]{2,}$")
_BROKEN_HYPHEN = re.compile(r"\b([A-Za-z]{2,})-(?:[ \t]+\n?|\n)[ \t]*([a-z]{2,})\b")
# A character without which a token that is not all letters cannot be suspicious: a junk character, or a digit
# that _DIGIT_IN_WORD looks for.
_MAYBE_BAD = re.compile(r"[015~^|¬¦§¤¨´`¸•■«»°]")
_STRIP = "\"'“”‘’()[]{}<>*_,;:!?.…"
# (what OCR wrote, what was meant): 'rn' for 'm', 'c' for 'e', 'b' for 'h', '1' for 'l'...
_CONFUSIONS = (
    ("rn", "m"),
    ("m", "rn"),
    ("c", "e"),
    ("b", "h"),
    ("0", "o"),
    ("1", "l"),
    ("1", "i"),
    ("|", "l"),
    ("5", "s"),
    ("vv", "w"),
    ("cl", "d"),
    ("li", "h"),
)
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers", "ly")


class _Scorer:
    def __init__(self) -> None:
        self.words = word_list("en_words.txt")
        self._memo = TokenMemo(self._token_suspicious)  # tokens recur across records: each is judged once

    def known(self, low: str) -> bool:
        """In the word list, or an inflection of a word in it ('corned')."""
        if low in self.words:
            return True
        if not low.endswith(_SUFFIXES):
            return False  # one C call instead of the loop for most unknown words
        return any(low.endswith(suf) and low[: -len(suf)] in self.words for suf in _SUFFIXES if len(low) - len(suf) >= 3)

    def _fixes_to_word(self, low: str) -> bool:
        """True when undoing one confusion at one place (or every digit confusion) gives a known word."""
        for bad, good in _CONFUSIONS:
            start = low.find(bad)
            while start != -1:
                fixed = low[:start] + good + low[start + len(bad) :]
                if len(fixed) >= 3 and (self.known(fixed) or self.known(fixed.replace("1", "l").replace("0", "o"))):
                    return True
                start = low.find(bad, start + 1)
        if low.startswith("i") and "l" + low[1:] in self.words:
            return True  # 'Iike' -> 'like'; only asked of words that are not words
        return False

    def suspicious(self, tok: str) -> bool:
        if tok in self.words:
            return False  # the common case, before any string work
        word = tok.strip(_STRIP)
        if word.isalpha():
            # Shortcuts that give the answer of the checks below (a word of letters has no junk, URL or digit):
            # a listed word with punctuation around it ('word,'), and a capitalised word that is not 'Iike' (a name).
            if len(word) < 3 or word.lower() in self.words:
                return False
            if not word.islower() and not (word[0] == "I" and word[1:].islower()):
                return False
        if len(word) < 2 or _SKIP.search(word):
            return False
        if _JUNK_RUN.match(word) or _JUNK_IN_WORD.search(word):
            return True
        low = word.lower()
        if low.isalpha():
            if len(low) < 3 or self.known(low):
                return False
            if word[0] == "I" and word[1:].islower():
                return self._fixes_to_word(low)
            # Unknown words are names and rare words ('Gorn'), unless lower-case and explained by a confusion.
            return word.islower() and self._fixes_to_word(low)
        if _NUMBERISH.match(word) or _UNIT_TAIL.match(word):
            return False
        if not any(c.isalpha() for c in word):
            return False
        if _DIGIT_IN_WORD.match(low) or _DIGIT_IN_WORD.match(word):
            return self._fixes_to_word(low) or not _ALNUM_ID.match(word)
        return False

    def _token_suspicious(self, t: str) -> bool:
        """suspicious(t), with the cases where it is False decided first without the call (most tokens): a
        listed word with punctuation around it ('word,'); a capitalised word that is not 'Iike' (a name); and a
        token that is not letters and has no junk character and no 0, 1 or 5 ('v2.3', '/api/x', '42')."""
        w = t.strip(_STRIP)
        if w.isalpha():
            if len(w) < 3 or w.lower() in self.words or not (w.islower() or (w[0] == "I" and w[1:].islower())):
                return False
        elif not _MAYBE_BAD.search(w) and not w.lower().isalpha():
            return False
        return self.suspicious(t)

    def broken_hyphens(self, text: str) -> int:
        n = 0
        for m in _BROKEN_HYPHEN.finditer(text):
            joined = (m.group(1) + m.group(2)).lower()
            if joined in self.words and m.group(2).lower() not in ("and", "or", "to", "nor"):
                n += 1
        return n

    def score(self, text: str) -> tuple[int, int]:
        """(suspicious tokens, words) of a text, code left out."""
        text = strip_code(text)
        if "|" in text:
            # Table rows ('|Column 1|Column 2|') use bars as separators, not as junk.
            text = "\n".join(ln.replace("|", " ") if ln.count("|") >= 2 else ln for ln in text.split("\n"))
        toks = text.split()
        if not toks:
            return 0, 0
        # Distinct tokens (a name repeated is one oddity: the memo counts each once), and not the listed words,
        # which are never suspicious: filtering them out runs in C and removes most of a text before any
        # per-token work.
        bad = len(self._memo.hits(list(filterfalse(self.words.__contains__, toks))))
        if "- " in text or "-\n" in text or "-\t" in text:  # what _BROKEN_HYPHEN needs after the hyphen
            bad += self.broken_hyphens(text)
        return bad, len(toks)


@register("filter.ocr_noise")
class OcrNoise(Filter):
    """Drop messages that read like raw OCR output: confused characters, junk symbols, words broken at a hyphen."""

    reasons = ("ocr_noise",)

    def __init__(
        self,
        fields: Literal["answer", "prompt", "all"] = "all",
        max_score: Annotated[float, Field(gt=0, le=1)] = 0.03,
        min_suspicious: Annotated[int, Field(ge=1)] = 2,
    ):
        self.fields = fields
        self.max_score = max_score
        self.min_suspicious = min_suspicious

    def setup(self) -> None:
        self._scorer = _Scorer()

    def keep(self, rec: Record) -> Verdict:
        for path, text in texts_of(rec, self.fields):
            bad, n = self._scorer.score(text)
            if bad >= self.min_suspicious and bad / n >= self.max_score:
                return Drop("ocr_noise", round(bad / n, 4), self.max_score, detail=f"{path}; {bad} of {n} tokens suspicious")
        return KEEP
