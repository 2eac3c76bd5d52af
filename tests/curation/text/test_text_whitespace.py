"""When the whitespace kernel says there is nothing to fix, clean.whitespace's fix changes nothing."""

from __future__ import annotations

import pytest

from curatune.curation.clean.whitespace import Whitespace
from curatune.curation.text.whitespace import whitespace_clean

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
    if whitespace_clean(text, step.max_blank_lines):
        assert step.fix(text) == (text, [])


def test_whitespace_kernel_never_skips_a_fix(texts, generate):
    made = generate("a \n\t\r`~\u00a0\u3000\u2028\x0b\x85", 20_000, seed=3, max_len=20)
    steps = [Whitespace(max_blank_lines=k) for k in (0, 1, 2)]
    clean = 0
    for text in texts + made:
        for step in steps:
            if whitespace_clean(text, step.max_blank_lines):
                clean += 1
                assert step.fix(text) == (text, []), (repr(text), step.max_blank_lines)
    assert clean > 1000
