"""Case-insensitive literal prefilters never miss a match of the regex they stand in front of."""

from __future__ import annotations

import re
import string
import sys

import pytest

from curatune.curation.text.ignorecase import (
    FOLDS_TO_ASCII,
    ignorecase_prefilter,
    ignorecase_view,
    matches_ignorecase_reference,
)

LITERALS = ["lorem", "javascript", "instruction", "kelvin", "ask", "this", "image", "the following", "attached", "below"]


def test_only_the_listed_characters_fold_to_ascii_letters():
    # The proofs rest on this: under re.IGNORECASE, no character but A-Z, a-z, İ ı ſ and the Kelvin sign matches an
    # ASCII letter; and str.lower() gives an ASCII letter only for A-Z, İ ("i" + U+0307) and the Kelvin sign ("k").
    letters = re.compile("[a-z]", re.I)
    folding, lowering = [], []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if c in string.ascii_letters:
            continue
        if letters.fullmatch(c):
            folding.append(c)
        if any(ch in string.ascii_letters for ch in c.lower()):
            lowering.append(c)
    assert "".join(folding) == "\u0130\u0131\u017f\u212a"
    assert all(FOLDS_TO_ASCII.fullmatch(c) for c in folding)
    assert "".join(lowering) == "\u0130\u212a"


@pytest.mark.parametrize("literal", LITERALS)
def test_view_and_prefilter_never_miss_a_match(texts, literal):
    may_match = ignorecase_prefilter(literal)
    exact = not set(literal) & set("iks")
    # Texts that hold the literal in odd cases and with the characters that fold to it.
    variants = [literal.upper(), literal.replace("s", "ſ").replace("i", "ı").replace("k", "\u212a"), literal.replace("i", "İ")]
    for text in texts + [f"{t} {v} {t}" for t in texts[:2000] for v in variants]:
        want = matches_ignorecase_reference(text, literal)
        got = may_match(text)
        if want:
            assert got, (text, literal)
            assert literal in ignorecase_view(text), (text, literal)
        if exact:
            assert got == want, (text, literal)


def test_prefilter_needs_an_ascii_lower_case_literal():
    with pytest.raises(ValueError, match="ASCII lower-case"):
        ignorecase_prefilter("Lorem")
