"""Words and runs of letters: ``bytes.translate`` tables instead of regexes, ASCII fast paths, folding for matching.

A regex that finds runs of a few ASCII characters (``[a-z]+``) costs several
times what one ``bytes.translate`` and ``split`` cost: the table keeps the
characters of the run and turns every other byte into a space. On a text's
UTF-8 this is exact for any text, since every byte of a multi-byte character
is >= 0x80 and never kept.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

# ---- byte tables -----------------------------------------------------------------------------------------


def word_bytes_table(keep: str, lower: bool) -> bytes:
    """A ``bytes.translate`` table that keeps the ASCII characters in ``keep`` and turns every other byte into a
    space (``lower``: A-Z become a-z first): splitting the result gives the runs of those characters, several
    times faster than a regex. The bytes of a UTF-8 multi-byte character are all >= 0x80, never kept."""
    kept = set(keep.encode("ascii"))

    def out(b: int) -> int:
        if lower and 65 <= b <= 90:
            b += 32
        return b if b in kept else 32

    return bytes(out(b) for b in range(256))


_ASCII_UPPER_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def word_runs_reference(text: str, keep: str, lower: bool) -> list[str]:
    """What ``text.encode("utf-8", "surrogatepass").translate(word_bytes_table(keep, lower)).split()`` gives, decoded:
    the runs of the characters of ``keep`` (with ``lower``, A-Z read as a-z; no other character changes)."""
    if lower:
        text = text.translate(_ASCII_UPPER_TO_LOWER)
    return re.findall("[" + re.escape(keep) + "]+", text)


# ---- runs of ASCII letters (language and harmful-content filters) -----------------------------------------

# The runs of a text's UTF-8 under this table are what re.findall("[a-z]+") finds in the text.
_NOT_A_TO_Z = word_bytes_table("abcdefghijklmnopqrstuvwxyz", lower=False)


def letter_runs(text: str) -> set[bytes]:
    """The distinct runs of ASCII a-z of a text (what ``set(re.findall("[a-z]+", text))`` finds), as UTF-8 bytes."""
    return set(text.encode("utf-8", "surrogatepass").translate(_NOT_A_TO_Z).split())


# A-Z read as a-z while the runs are cut: for ASCII text, letter_runs(text.lower()) in one translate.
_LOWER_A_TO_Z = word_bytes_table("abcdefghijklmnopqrstuvwxyz", lower=True)


@lru_cache(maxsize=512)
def lower_letter_runs(text: str) -> frozenset[bytes]:
    """The distinct runs of ASCII a-z of ``text`` with A-Z read as a-z: ``letter_runs(text.lower())`` for an ASCII
    text (for another, ``str.lower`` may turn a non-ASCII letter into ASCII ones, "İ" into "i̇": use letter_runs).

    Cached per text: the refusal and harmful-content checks read the same answer one after the other."""
    return frozenset(text.encode("utf-8", "surrogatepass").translate(_LOWER_A_TO_Z).split())


def letter_run_list(text: str) -> list[bytes]:
    """The runs of ASCII a-z of a text in order, repeats included, as UTF-8 bytes."""
    return text.encode("utf-8", "surrogatepass").translate(_NOT_A_TO_Z).split()


def letter_run_list_reference(text: str) -> list[str]:
    """:func:`letter_run_list` decoded (and, as a set, :func:`letter_runs`)."""
    return re.findall("[a-z]+", text)


# ---- prose punctuation ----------------------------------------------------------------------------------

# Non-ASCII punctuation common in English prose (curly quotes, dashes, ellipsis, bullet, guillemets, degree,
# no-break space): none is a word character, so as spaces they split words where they did. Most non-ASCII
# English text has nothing else, and without them takes the fast ASCII paths.
PROSE_PUNCT = "’‘“”–—…•«»°\u00a0"


def punct_to_spaces(text: str, keep: str = "") -> str:
    """``text`` with each character of PROSE_PUNCT but those in ``keep`` replaced by a space.

    One ``str.replace`` per character present (a substring test first): C speed, where a per-character loop is not.
    """
    for ch in PROSE_PUNCT:
        if ch in text and ch not in keep:
            text = text.replace(ch, " ")
    return text


def punct_to_spaces_reference(text: str, keep: str = "") -> str:
    return "".join(" " if c in PROSE_PUNCT and c not in keep else c for c in text)


# ---- folding and words for matching phrases (answer and instruction checks) ----------------------------

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_QUOTE_PAIRS = tuple((chr(k), v) for k, v in _QUOTES.items())  # no replacement is itself replaced


def fold(text: str) -> str:
    """Lower case, straight quotes, one space between words: for matching phrases.

    ASCII text skips NFKC and the quote table, which leave it unchanged (the common fast path). Otherwise
    one ``str.replace`` per quote present stands for ``translate(_QUOTES)``: the same result, since no
    replacement is itself replaced, several times faster.
    """
    if text.isascii():
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text)
    for old, new in _QUOTE_PAIRS:
        if old in text:
            text = text.replace(old, new)
    return " ".join(text.lower().split())


def fold_reference(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().split())


_WORD = re.compile(r"\w+")
_WORD_ASCII = re.compile(r"[a-z0-9_]+")  # \w+ on lower-cased ASCII


def words(text: str) -> list[str]:
    """The ``\\w+`` words of the folded text."""
    return list(_words(text))


# The same prompt and answer are split by several checks in a row (of one record, the pipeline taking
# a record through every step before the next): a small per-process cache keyed by the text.
@lru_cache(maxsize=512)
def _words(text: str) -> tuple[str, ...]:
    if text.isascii():
        # Spaces never join or split \w+ runs, so the folded text's words are the lower-cased text's words.
        return tuple(_WORD_ASCII.findall(text.lower()))
    return tuple(_WORD.findall(fold(text)))


def words_reference(text: str) -> list[str]:
    return _WORD.findall(fold_reference(text))


# words() as UTF-8 bytes: for ASCII text one translate (A-Z to a-z; a-z, 0-9 and _ kept; the rest a space)
# instead of the regex, three times faster. Encoding is one-to-one, so two texts have equal word_keys exactly
# when they have equal words, and n-grams, sets and counts of them agree.
_ASCII_WORD_BYTES = word_bytes_table("abcdefghijklmnopqrstuvwxyz0123456789_", lower=True)


@lru_cache(maxsize=512)
def word_keys(text: str) -> tuple[bytes, ...]:
    """The words of :func:`words`, each as UTF-8 bytes; for comparing and counting, not for showing.

    Non-ASCII text whose only non-ASCII characters are prose punctuation takes the ASCII path with those as
    spaces: fold's NFKC and quote table give none of them a word character.
    """
    if not text.isascii():
        ascii_text = punct_to_spaces(text)
        if not ascii_text.isascii():
            return tuple(w.encode("utf-8", "surrogatepass") for w in _words(text))
        text = ascii_text
    return tuple(text.encode("ascii").translate(_ASCII_WORD_BYTES).split())


def word_keys_reference(text: str) -> tuple[bytes, ...]:
    return tuple(w.encode("utf-8", "surrogatepass") for w in words_reference(text))


# ---- words for repetition statistics (gopher_repetition) ------------------------------------------------

_REPETITION_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# On ASCII text, three times faster than the regex, with a bytes translate: A-Z to a-z, a-z, 0-9 and the
# apostrophe kept, every other byte a space. An apostrophe joins two words only between letters or digits: next
# to a space, another apostrophe or an end it becomes a space too (pairs first, so that a run of them all goes).
_ASCII_ALNUM = word_bytes_table("abcdefghijklmnopqrstuvwxyz0123456789'", lower=True)


def repetition_words(text: str) -> list[str] | list[bytes]:
    """The words of a text for repetition statistics, lower-cased; as bytes for ASCII text (the rules only
    count, compare and measure them, and an ASCII byte is one character).

    Equal to :func:`repetition_words_reference` once decoded, except that where a text holds one kind of
    apostrophe only, "’" may come back as "'": the rules compare words within one text only.
    """
    if not text.isascii():
        # Common prose punctuation as spaces (see punct_to_spaces). The curly apostrophe joins words as "'"
        # does, and stands for it where the text has no "'".
        ascii_text = punct_to_spaces(text, keep="’")
        if "’" in ascii_text and "'" not in ascii_text:
            ascii_text = ascii_text.replace("’", "'")
        if not ascii_text.isascii():
            return _REPETITION_WORD.findall(text.lower())
        text = ascii_text
    runs = text.encode("ascii").translate(_ASCII_ALNUM)
    if b"'" in runs:
        runs = (b" " + runs + b" ").replace(b"''", b"  ").replace(b" '", b"  ").replace(b"' ", b"  ")
    return runs.split()


def repetition_words_reference(text: str) -> list[str]:
    return _REPETITION_WORD.findall(text.lower())


# ---- how many words a text can hold ---------------------------------------------------------------------


def cannot_hold_words(text: str, n: int) -> bool:
    """True only when ``text`` holds fewer than ``n`` whitespace-separated words (``len(text.split()) < n``).

    ``n`` words need ``n`` characters and ``n - 1`` separators: a shorter text cannot hold them. One length
    test instead of a split: most answers are short.
    """
    return len(text) < 2 * n - 1


def cannot_hold_repetition_words(text: str, n: int) -> bool:
    """True only when ``len(repetition_words(text)) < n``.

    Words are separated by at least one character, so ``n`` of them need ``2n - 1``; only for ASCII text,
    whose lower-casing keeps its length ("İ".lower() is two characters).
    """
    return text.isascii() and len(text) < 2 * n - 1
