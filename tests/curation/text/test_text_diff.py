"""The linear count of changed spans against difflib's (the reference): equal on repaired text, and linear in time."""

from __future__ import annotations

import random
import time
import unicodedata

import ftfy
import pytest

from curatune.curation.clean.unicode import _FTFY, UnicodeRepair
from curatune.curation.text.diff import PIECE, changed_spans, changed_spans_plain

SENTENCES = [
    "The Mona Lisa doesn’t have eyebrows.",
    "café résumé naïve",
    "À bientôt, l'été est là",
    "It costs £100 — or €120…",
    "Größe über Straße",
    "Ångström façade",
    "“Quoted” text ‘here’",
    "日本語のテキストです",
    "Привет, как дела?",
    "emoji 😀 here",
    "señor niño año",
    "ça va très bien",
]


def broken(rng: random.Random, spaces: bool = True) -> tuple[str, str]:
    """A text of 1 to 40 sentences, from a random point on encoded in UTF-8 and decoded as cp1252; and its repair."""
    text = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 40)))
    if not spaces:
        text = text.replace(" ", "")
    cut = rng.randint(0, len(text) // 2)
    bad = text[:cut] + text[cut:].encode("utf-8").decode("cp1252", errors="replace")
    return bad, ftfy.fix_text(bad, _FTFY)


def test_equal_to_difflib_on_repaired_mojibake_and_nfc():
    rng = random.Random(17)
    cases = [broken(rng) for _ in range(400)]
    cases += [(unicodedata.normalize("NFD", good), good) for _, good in cases]  # what clean.unicode's NFC step counts
    cases = [(a, b) for a, b in cases if a != b]
    assert sum(len(a) + len(b) > PIECE for a, b in cases) > 200  # most are past the length counted by difflib directly
    assert [changed_spans(a, b) for a, b in cases] == [changed_spans_plain(a, b) for a, b in cases]


def test_close_to_difflib_on_one_long_word():
    """With no spaces a piece is the whole text and the walk counts it: within 5% of difflib in all."""
    rng = random.Random(18)
    cases = [broken(rng, spaces=False) for _ in range(60)]
    fast = sum(changed_spans(a, b) for a, b in cases)
    plain = sum(changed_spans_plain(a, b) for a, b in cases)
    assert abs(fast - plain) <= 0.05 * plain


@pytest.mark.parametrize(("old", "new", "spans"), [("", "", 0), ("abc", "abc", 0), ("", "x", 1), ("x", "", 1), ("aXbYc", "abc", 2)])
def test_edges(old, new, spans):
    assert changed_spans(old, new) == changed_spans_plain(old, new) == spans


@pytest.mark.parametrize(("old", "new"), [("abc", "abc"), ("aXbYc", "abc"), ("caf\u00c3\u00a9", "caf\u00e9"), ("x", "xy"), ("xy", "x")])
def test_pieces_past_the_reference_length(old, new):
    """Long texts are cut into pieces where they agree: the same count as difflib's, at the start, middle and end."""
    words = [f"word{i}" for i in range(200)]
    for at in (0, 100, 199):
        a = " ".join(words[:at] + [old] + words[at:])
        b = " ".join(words[:at] + [new] + words[at:])
        assert len(a) > PIECE
        assert changed_spans(a, b) == changed_spans_plain(a, b)


def test_clean_unicode_is_linear_on_one_long_word_of_mojibake():
    """5,000 characters of mojibake with no space took 46 s (a quadratic diff for the ledger's count); 60,000 now take well under 3 s."""
    rng = random.Random(0)
    text = "".join(rng.choice(["日本語", "テキスト", "です", "東京"]) for _ in range(8_000))[:20_000]
    bad = text.encode("utf-8").decode("cp1252", errors="replace")
    assert len(bad) > 55_000
    start = time.perf_counter()
    fixed, counts = UnicodeRepair().fix(bad)
    assert time.perf_counter() - start < 3
    assert counts[0] > 1000 and len(fixed) < len(bad) / 2 and "日本語" in fixed  # repaired (but where cp1252 lost a byte)
