"""What the language model reads, and the English shortcut, equal their plain versions."""

from __future__ import annotations

import random

import pytest

from curatune.curation.text import langid as L
from curatune.curation.text.langid import (
    MAX_CHARS,
    clean_for_langid,
    clean_for_langid_reference,
    collapse,
    collapse_reference,
    surely_english,
    surely_english_reference,
)


def _random_texts(alphabet: str, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(n)]


@pytest.mark.parametrize("text", ["word " * 300, "a" + " " * 500 + "b c d", "\n\n  x  \t" * 120, "short text", "y" * 450 + " z " * 10, ""])
def test_langid_prefix_collapse_equals_the_whole_collapse(text):
    clean_for_langid.cache_clear()
    expected = " ".join(text.split())[:MAX_CHARS]
    assert clean_for_langid(text) == (expected.lower() if expected.isupper() else expected)


def test_langid_collapse_equals_split_and_join():
    for text in _random_texts("ab \t\n.é\u00a0\x0b", 30_000, seed=2) + [" one line ", "two  spaces", "tab\there", ""]:
        assert collapse(text) == " ".join(text.split()), repr(text)


def test_collapse_and_cleaning_equal_the_references(texts, generate):
    # Long texts too, so that the first 2 * MAX_CHARS characters fall short of MAX_CHARS collapsed, or do not.
    long = generate("ab  \n\t`:/@w.é", 600, seed=4, max_len=1500)
    clean_for_langid.cache_clear()
    for text in texts + long:
        assert collapse(text) == collapse_reference(text), repr(text)
        assert clean_for_langid(text) == clean_for_langid_reference(text), repr(text)


def test_english_word_counts_in_one_pass_equal_the_two_set_counts():
    vocabulary = sorted(L._ENGLISH_ONLY_B | L._ENGLISH_TOO_B) + [b"river", b"docker", b"die", b"und"]
    rng = random.Random(0)
    for _ in range(2000):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 60))]
        while len(b" ".join(words)) > L.MAX_CHARS:  # the span the check reads
            words.pop()
        only, too = sum(w in L._ENGLISH_ONLY_B for w in words), sum(w in L._ENGLISH_TOO_B for w in words)
        want = len(words) >= 8 and only >= 3 and only + too >= 4 and 4 * (only + too) >= len(words)
        L.surely_english.cache_clear()
        L.clean_for_langid.cache_clear()
        assert L.surely_english(" ".join(w.decode() for w in words)) == want


def test_surely_english_equals_the_reference(texts):
    rng = random.Random(1)
    vocabulary = sorted(w.decode() for w in L._ENGLISH_ONLY_B | L._ENGLISH_TOO_B) + ["River", "THE", "die", "und", "…", "42"]
    sentences = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 70))) for _ in range(2000)]
    for text in texts + sentences:
        assert surely_english(text) == surely_english_reference(text), repr(text)
