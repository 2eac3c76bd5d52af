"""The n-gram bounds of gopher_repetition skip only counts that cannot exceed a limit: the same first excess."""

from __future__ import annotations

import random
from collections import Counter

from curatune.curation.text.ngrams import dup_ngram_char_fraction, first_ngram_excess, first_ngram_excess_reference
from curatune.curation.text.words import repetition_words


def test_repeated_ngram_fraction_never_exceeds_the_bound_that_skips_it():
    """gopher_repetition skips the n-gram count when (total - distinct words' chars) / total is within the limit."""
    rng = random.Random(5)
    for vocab_size in (3, 8, 30, 200):
        vocab = ["".join(rng.choices("abcdefgh", k=rng.randint(1, 9))) for _ in range(vocab_size)]
        for _ in range(50):
            words = rng.choices(vocab, k=rng.randint(10, 120))
            if rng.random() < 0.5:  # a looping answer: one stretch copied several times
                words = words[:12] * rng.randint(2, 6) + words[12:]
            total = sum(map(len, words))
            bound = (total - sum(map(len, Counter(words)))) / total
            for n in range(1, 11):
                assert dup_ngram_char_fraction(words, n, total) <= bound + 1e-12


def _limits(rng: random.Random, sizes: range, low: float) -> list[tuple[int, float]]:
    chosen = sorted(rng.sample(list(sizes), rng.randint(0, len(sizes))))
    return [(n, round(rng.uniform(low, 1.0), 2)) for n in chosen]


def test_first_excess_equals_the_plain_loops():
    rng = random.Random(7)
    default_top = [(2, 0.30), (3, 0.35), (4, 0.45)]
    default_dup = [(n, 0.60) for n in range(5, 11)]
    checked = 0
    for vocab_size in (2, 5, 20, 300):
        vocab = ["".join(rng.choices("abcdefgh", k=rng.randint(1, 9))) for _ in range(vocab_size)]
        for _ in range(150):
            words = rng.choices(vocab, k=rng.randint(1, 150))
            if rng.random() < 0.5:
                words = words[:15] * rng.randint(2, 6) + words[15:]
            as_bytes = rng.random() < 0.5
            seq = [w.encode() for w in words] if as_bytes else words
            text_len = sum(map(len, words)) + len(words) - 1 + rng.randint(0, 40)
            # Top sizes may be below 1 (no n-gram, fraction 0); dup sizes start at 1.
            for top, dup in [
                (default_top, default_dup),
                (_limits(rng, range(-1, 8), 0.0), _limits(rng, range(1, 12), 0.0)),
                (_limits(rng, range(1, 6), 0.0), _limits(rng, range(1, 6), 0.0)),
            ]:
                assert first_ngram_excess(seq, text_len, top, dup) == first_ngram_excess_reference(seq, text_len, top, dup), (
                    words,
                    top,
                    dup,
                )
                checked += 1
    assert checked == 4 * 150 * 3


def test_first_excess_on_real_answer_words():
    loop = "The answer is yes. The answer is yes, and again the answer is yes. " * 8
    prose = "Water moves between the oceans, the air and the land; heat lifts it and cold brings it down again. " * 3
    for text in (loop, prose, loop + prose, "word " * 60):
        words = repetition_words(text)
        for top, dup in [([(2, 0.3), (3, 0.35), (4, 0.45)], [(n, 0.6) for n in range(5, 11)]), ([(1, 0.0)], [(1, 0.0)])]:
            assert first_ngram_excess(words, len(text), top, dup) == first_ngram_excess_reference(words, len(text), top, dup)
