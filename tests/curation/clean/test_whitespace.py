"""clean.whitespace: line endings, trailing spaces, blank lines, message ends; code indentation never touched."""

from __future__ import annotations

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step


def rec(answer: str, question: str = "Say something.") -> Record:
    return Record("t:1", messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}])


def fix(text: str, **params) -> str:
    edit = build_step("clean.whitespace", params).apply(rec(text))
    return text if edit is None else edit.record.messages[1]["content"]


CLEAN = [
    "One line.",
    "Para one.\n\nPara two.",
    "1. First\n2. Second\n   - nested item",
    "```python\ndef f():\n    return 1   \n\n\n\n    # spaced\n```",
    "    def f():\n        return 1",  # an unfenced indented block keeps its first indent
    "Tabs\tinside\ta line stay.",
    "Indented quote:\n\n    To be or not to be.",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_unchanged(text):
    assert build_step("clean.whitespace").apply(rec(text)) is None


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("a\r\nb\rc", "a\nb\nc"),
        ("trailing   \nspaces\t\nhere ", "trailing\nspaces\nhere"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("a\n \n\t\n  \nb", "a\n\nb"),
        ("\n\n  Hello there.  \n\n", "Hello there."),
        ("Intro:   \n```py\nx = 1   \n\n\n\ny = 2\n```\n\n\n\nEnd.  ", "Intro:\n```py\nx = 1   \n\n\n\ny = 2\n```\n\nEnd."),
        ("\n\n    def f():\n        return 1\n\n", "    def f():\n        return 1"),
        ("List:\r\n  - a  \r\n  - b", "List:\n  - a\n  - b"),
    ],
)
def test_repairs(bad, good):
    assert fix(bad) == good


def test_unclosed_fence_protects_the_rest():
    text = "Code:\n```\nx = 1    \n\n\n\ny = 2"
    assert fix(text) == text


def test_max_blank_lines():
    assert fix("a\n\n\n\nb", max_blank_lines=2) == "a\n\n\nb"
    assert fix("a\n\nb", max_blank_lines=0) == "a\nb"


def test_idempotent_and_detail():
    step = build_step("clean.whitespace")
    edit = step.apply(rec("a  \r\n\r\n\r\n\r\nb  ", question="  q  "))
    assert edit.reason == "whitespace"
    assert edit.detail == (
        "messages[0].content: trailing spaces / blank lines, stripped ends; "
        "messages[1].content: line endings, trailing spaces / blank lines"
    )
    assert step.apply(edit.record) is None
