"""Gopher's repeated word n-gram fractions, and the bounds that skip counting them.

Counting every n-gram for every n of a message is the costly part of
``filter.gopher_repetition``; most messages repeat too little for any
fraction to reach a limit, and two bounds computed from the word counts alone
(in C) show it. :func:`first_ngram_excess` is the kernel, and
:func:`first_ngram_excess_reference` the plain loops it must equal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from operator import mul
from typing import TypeVar

W = TypeVar("W", str, bytes)


def top_ngram_char_fraction(words: Sequence[W], n: int, text_len: int) -> float:
    """Characters covered by the most frequent word n-gram (if it occurs twice or more), over the text length."""
    counts = Counter(zip(*(words[i:] for i in range(n))))
    if not counts:
        return 0.0
    gram, c = counts.most_common(1)[0]
    if c < 2:
        return 0.0
    return (sum(map(len, gram)) + n - 1) * c / text_len


def dup_ngram_char_fraction(words: Sequence[W], n: int, total_chars: int) -> float:
    """Characters of words inside n-grams that repeat an earlier n-gram (non-overlapping), over all word characters."""
    seen: set[tuple[W, ...]] = set()
    repeated = 0
    i, last = 0, len(words) - n + 1
    while i < last:
        gram = tuple(words[i : i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated / total_chars if total_chars else 0.0


def first_ngram_excess(
    words: Sequence[W], text_len: int, top: list[tuple[int, float]], dup: list[tuple[int, float]]
) -> tuple[str, int, float, float] | None:
    """The first ``("top" or "dup", n, fraction, limit)`` whose fraction exceeds its limit, ``top`` limits first,
    then ``dup`` (each sorted by n, limits >= 0, words non-empty); None when none does.

    The same answer as :func:`first_ngram_excess_reference`, skipping the counts that cannot exceed a limit:

    - no word repeats: no n-gram does, and every fraction is 0;
    - top n-gram: each word of an n-gram seen c times occurs at least c times, so the fraction's numerator
      (chars + n - 1) * c is at most n * most + (n - 1) * most_seen, where most is the largest
      len(w) * count(w) (over all words: a looser bound than over repeated ones, but computed in C);
    - a repeated n-gram contains a repeated (n-1)-gram: from the first n without one, every fraction is 0
      (and 0 never exceeds a limit);
    - repeated n-grams: each word counted sits in a later copy of an n-gram, so it is not its word's first
      occurrence; the count is at most the characters of all repeat occurrences, total - (characters of the
      distinct words), both summed in C. Function words alone stay far below the limits.

    A top size below 1 is no n-gram: its fraction (0) is computed plainly. (A dup size below 1 never ends, here
    as in the reference: the scan does not advance.)
    """
    counts = Counter(words)
    if len(counts) == len(words):
        return None
    most = max(map(mul, map(len, counts), counts.values()))
    most_seen = max(counts.values())
    no_repeat_from = None  # only n >= 1 is ever skipped
    for n, limit in top:
        if no_repeat_from is not None and n >= no_repeat_from >= 1:
            continue
        if n >= 1 and (n * most + (n - 1) * most_seen) / text_len <= limit:
            continue
        f = top_ngram_char_fraction(words, n, text_len)
        if f == 0.0 and n >= 1 and (no_repeat_from is None or n < no_repeat_from):
            no_repeat_from = n
        if f > limit:
            return "top", n, f, limit
    total = sum(map(len, words))
    repeats_bound = (total - sum(map(len, counts))) / total if total else 0.0
    for n, limit in dup:
        if n >= 1 and repeats_bound <= limit:
            continue
        if n < 1:
            pass  # not an n-gram size: leave it to the plain computation
        elif no_repeat_from is not None and n >= no_repeat_from:
            break  # no repeated n-gram means no repeated longer one either
        elif len(set(zip(*(words[i:] for i in range(n))))) == max(len(words) - n + 1, 0):
            break  # no n-gram occurs twice, so the fraction is 0
        f = dup_ngram_char_fraction(words, n, total)
        if f == 0.0:
            break  # no repeated n-gram means no repeated longer one either
        if f > limit:
            return "dup", n, f, limit
    return None


def first_ngram_excess_reference(
    words: Sequence[W], text_len: int, top: list[tuple[int, float]], dup: list[tuple[int, float]]
) -> tuple[str, int, float, float] | None:
    for n, limit in top:
        f = top_ngram_char_fraction(words, n, text_len)
        if f > limit:
            return "top", n, f, limit
    total = sum(map(len, words))
    for n, limit in dup:
        f = dup_ngram_char_fraction(words, n, total)
        if f > limit:
            return "dup", n, f, limit
    return None
