"""Gopher's word-shape counts in one regex pass each, on the words joined one a line.

A per-word test in Python costs a call per word; joined one a line (words
come from ``str.split``, so they hold no "\\n"), each test is one regex pass
in C over the whole message.
"""

from __future__ import annotations

import re

# Signs that make a word part of a formula ("2 + 3 = 5" is a fine answer): with letters and numbers, what a
# word needs not to be bare.
FORMULA_SIGNS = "%$€£=+×÷*/^<>±≈-"
# A word with no letter, no number ([^\W_] is exactly str.isalnum: \w is isalnum or "_") and no formula sign.
_BARE_WORD = re.compile(r"^(?:_|[^\w\n\d" + FORMULA_SIGNS + "])+$", re.M)
# A word (a line) without an ASCII letter, the empty word included.
_NO_ASCII_LETTER_WORD = re.compile(r"^[^A-Za-z\n]*$", re.M)


def bare_word_count(joined: str) -> int:
    """How many of the words (non-empty, one a line) hold no letter, no number and no formula sign."""
    return len(_BARE_WORD.findall(joined))


def bare_word_count_reference(words: list[str]) -> int:
    return sum(1 for w in words if all(c == "_" or not (c.isalnum() or c in FORMULA_SIGNS) for c in w))


def alpha_word_lengths(stripped: str, n: int) -> tuple[int, int]:
    """(total length, number) of the ``n`` words (one a line, empty ones allowed) that hold a letter.

    Found as all words less the few without an ASCII letter (empty ones included); of those, the
    non-ASCII ones may still hold a letter: no regex class is exactly str.isalpha outside ASCII
    ("²" and "Ⅻ" are \\w but not letters), so str.isalpha decides.
    """
    bare = _NO_ASCII_LETTER_WORD.findall(stripped)
    back = [w for w in bare if not w.isascii() and any(c.isalpha() for c in w)] if bare else ()
    chars = len(stripped) - (n - 1) - sum(map(len, bare)) + sum(map(len, back))
    return chars, n - len(bare) + len(back)


def alpha_word_lengths_reference(words: list[str]) -> tuple[int, int]:
    alpha = [w for w in words if any(c.isalpha() for c in w)]
    return sum(map(len, alpha)), len(alpha)
