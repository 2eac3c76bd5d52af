"""The fast paths added for speed agree with the slow paths they skip."""

from __future__ import annotations

import pytest

from curatune.data.clean.whitespace import Whitespace
from curatune.data.filter._instruct_text import phrase_sections
from curatune.data.filter.answers import _any_refusal
from curatune.data.filter.instructions import _reference_literals

TEXTS = [
    "Plain answer.",
    "Trailing spaces   \nnext line",
    "a\r\nb\r\n",
    "one\n\n\n\ntwo",
    "```python\n    indented = True   \n```",
    "  leading",
    "tab\there",
    "",
    "x\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_whitespace_clean_already_means_nothing_to_fix(text):
    step = Whitespace()
    if step._clean_already(text):
        assert step.fix(text) == (text, [])


def test_combined_refusal_pattern_matches_every_listed_phrase():
    pattern = _any_refusal()
    phrases = [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]
    assert phrases
    missed = [p for p in phrases if not pattern.search(p)]
    assert missed == []


def test_reference_prefilter_exists_for_every_reason():
    literals = _reference_literals()
    assert literals and all(v is not None for v in literals.values()), literals
