"""Gopher's word-shape counts in one regex pass equal a test of each word."""

from __future__ import annotations

import random

from curatune.curation.text.wordshape import (
    alpha_word_lengths,
    alpha_word_lengths_reference,
    bare_word_count,
    bare_word_count_reference,
)

# Letters of several scripts, digits, numbers that are not letters (², Ⅻ), formula signs, punctuation, "_".
ALPHABET = "aZé1²Ⅻ中_-+=%$€/.,;:!?~#…“”'’()"


def test_word_shape_counts_equal_a_test_of_each_word(texts):
    rng = random.Random(9)
    word_lists = [t.split() for t in texts]
    word_lists += [
        ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 40))] for _ in range(3000)
    ]
    punct = "\"'“”‘’()[]{}<>*_,;:!?.…-–—"
    for words in word_lists:
        if not words:
            continue
        assert bare_word_count("\n".join(words)) == bare_word_count_reference(words), words
        stripped = [w.strip(punct) for w in words]  # as gopher_quality strips them: empty words happen
        assert alpha_word_lengths("\n".join(stripped), len(stripped)) == alpha_word_lengths_reference(stripped), stripped
