"""Substring tests that tell when a case-insensitive regex needing an ASCII literal cannot match.

A ``re.IGNORECASE`` scan costs about ten times a ``str.lower()`` and a
substring test. Under ``re.IGNORECASE`` an ASCII letter matches its two cases
and, for three letters, a few more characters: "ſ" (long s) matches s, "ı"
(dotless i) and "İ" (dotted capital I) match i, and the Kelvin sign matches k.
No other character matches an ASCII letter (found by trying every code point;
``tests/curation/text/test_text_ignorecase.py`` tries them again). Of those,
``str.lower()`` maps the Kelvin sign to "k" and "İ" to "i" + U+0307, and
leaves "ſ" and "ı" alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# The characters other than A-Z and a-z that re.IGNORECASE matches to an ASCII letter.
FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")
# The ASCII letters that one of them matches.
_PARTNERED = frozenset("iks")


def ignorecase_view(text: str) -> str:
    """The text lower-cased so that an ASCII literal matching it under re.IGNORECASE is a substring:
    "ſ" becomes "s", "ı" becomes "i" and U+0307 goes (so "İ", lower-cased to "i" + U+0307, is "i").

    A prefilter: a literal may be a substring of the view where the regex does not match (U+0307 removed
    elsewhere joins its neighbours), never the reverse. A substring test on it, ten times cheaper than a
    re.I scan, tells when a pattern that needs a literal cannot match."""
    low = text.lower()
    if low.isascii():
        return low
    return low.replace("ſ", "s").replace("ı", "i").replace("\u0307", "")


def ignorecase_prefilter(literal: str) -> Callable[[str], bool]:
    """A test of a text that is False only when ``literal`` (ASCII, lower case) cannot match it under re.IGNORECASE.

    For a literal without i, k or s the test is exact: only A-Z and a-z match its letters, and
    ``text.lower()`` holds it exactly where the regex matches. Otherwise it is
    ``literal in ignorecase_view(text)``, asking the cheap questions first.
    """
    if not literal.isascii() or literal != literal.lower():
        raise ValueError(f"ignorecase_prefilter needs an ASCII lower-case literal, got {literal!r}")
    if _PARTNERED.isdisjoint(literal):

        def may_match(text: str) -> bool:
            return literal in text.lower()

        return may_match

    def may_match_partnered(text: str) -> bool:
        low = text.lower()
        if literal in low:
            return True
        if low.isascii():
            return False
        return literal in low.replace("ſ", "s").replace("ı", "i").replace("\u0307", "")

    return may_match_partnered


def matches_ignorecase_reference(text: str, literal: str) -> bool:
    """What :func:`ignorecase_prefilter` and :func:`ignorecase_view` stand in front of."""
    return re.search(re.escape(literal), text, re.IGNORECASE) is not None
