"""clean.html: HTML messages to text, stray entities unescaped; code and talk about tags untouched."""

from __future__ import annotations

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step


def rec(answer: str, question: str = "Tell me about dogs.") -> Record:
    return Record("t:1", messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}])


def apply(r: Record, **params):
    return build_step("clean.html", params).apply(r)


CLEAN = [
    "Dogs are loyal.",
    "Use the <div> element for blocks and <span> for inline text.",  # talk about tags, no closing tag
    "AT&T and R&D stay as they are; so does 3 < 5 > 2.",
    "In Python, write `x = '<p>hi</p>'` or:\n```html\n<p>Hello</p><br>\n&amp;\n```",
    "Fish & chips &c. are British.",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_unchanged(text):
    assert apply(rec(text)) is None


@pytest.mark.parametrize(
    ("bad", "good", "reason"),
    [
        ("<p>Dogs are loyal.</p><p>They like walks.</p>", "Dogs are loyal.\n\nThey like walks.", "html_stripped"),
        ("Line one<br>Line two<br/>Line three", "Line one\nLine two\nLine three", "html_stripped"),
        ("<ul><li>Walks</li><li>Treats &amp; toys</li></ul>", "- Walks\n- Treats & toys", "html_stripped"),
        ('See <a href="https://x.org">the guide</a> for <b>more</b>.', "See the guide for more.", "html_stripped"),
        ('The <span style="color:red">bird</span> hopped.', "The bird hopped.", "html_stripped"),
        ("A star<br>\nA spark<br>\nA light", "A star\nA spark\nA light", "html_stripped"),
        ("Tom &amp; Jerry", "Tom & Jerry", "html_entities"),
        ("He said &quot;hi&quot; and it&#39;s fine&nbsp;now.", 'He said "hi" and it\'s fine now.', "html_entities"),
        ("Double &amp;quot;escaped&amp;quot;", 'Double "escaped"', "html_entities"),
    ],
)
def test_repairs(bad, good, reason):
    edit = apply(rec(bad))
    assert edit is not None
    assert edit.record.messages[1]["content"] == good
    assert edit.reason == reason


def test_markup_tasks_are_left_alone():
    r = rec("<html><body><p>Hello</p><br></body></html>", question="Write an HTML page that says hello.")
    assert apply(r) is None
    assert apply(r, skip_markup_topics=False).record.messages[1]["content"] == "Hello"


def test_code_inside_html_message_is_kept():
    text = "<p>Run this:</p>\n```\n<p>keep &amp; me</p>\n```"
    out = apply(rec(text)).record.messages[1]["content"]
    assert out == "Run this:\n```\n<p>keep &amp; me</p>\n```"


def test_idempotent_and_detail():
    edit = apply(rec("<p>A &amp; B</p><p>C</p>", question="Q &amp; A"))
    assert edit.detail == "messages[0].content: 1 entities unescaped; messages[1].content: HTML tags stripped"
    assert apply(edit.record) is None
