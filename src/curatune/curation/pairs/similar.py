"""Pairs whose two answers are the same, nearly the same, or the same up to a short tail: nothing (or little) to prefer.

DPO learns from the difference between the chosen and the rejected answer's
log-probabilities. Tokens the two sides share cancel out, so a pair whose sides are
equal teaches nothing, one that differs only in case, spacing or punctuation teaches
formatting noise, and one whose sides share most of their start teaches only about
the short tail where they part (often "stop here" against "go on": length, again).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from difflib import SequenceMatcher
from typing import Annotated

from pydantic import Field

from ..dedup.exact import normalise
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.words import word_keys
from ._sides import is_pair


def word_similarity(a: tuple[bytes, ...], b: tuple[bytes, ...]) -> float:
    """difflib's ratio over word sequences: 2 x (words in matching runs) / (words of both); 1.0 for two empty ones."""
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@register("pair.same_answers")
class SameAnswers(Filter):
    """Drop pairs whose chosen and rejected answers are identical or nearly so: nothing to prefer.

    ``identical_pair``: equal once case, Unicode form and whitespace are normalised
    (``dedup.exact``'s normalisation). ``near_identical_pair``: their word sequences
    (case and punctuation ignored) are at least ``min_similarity`` alike (difflib's ratio:
    twice the words in matching runs over the words of both). At the default 0.95 two
    answers of 40 words differing in one word are near-identical (0.975); of 10 words,
    not (0.9): a short pair that differs in one word ("Paris" / "Lyon") is a real
    preference. KTO examples (one side) pass.
    """

    reasons = ("identical_pair", "near_identical_pair")

    def __init__(self, min_similarity: Annotated[float, Field(gt=0, le=1)] = 0.95):
        self.min_similarity = min_similarity

    def keep(self, rec: Record) -> Verdict:
        if not is_pair(rec):
            return KEEP
        chosen, rejected = rec.chosen or "", rec.rejected or ""
        if normalise(chosen) == normalise(rejected):
            return Drop("identical_pair", value=1.0, detail="chosen and rejected are the same text")
        a, b = word_keys(chosen), word_keys(rejected)
        # Cheap bounds first: the ratio is at most 2 * min(len) / (len + len), and at most quick_ratio.
        if not (a or b) or 2 * min(len(a), len(b)) < self.min_similarity * (len(a) + len(b)):
            return KEEP
        matcher = SequenceMatcher(None, a, b, autojunk=False)
        if matcher.quick_ratio() < self.min_similarity:
            return KEEP
        ratio = matcher.ratio()
        if ratio >= self.min_similarity:
            return Drop(
                "near_identical_pair",
                value=round(ratio, 4),
                threshold=self.min_similarity,
                detail=f"{len(a)} and {len(b)} words, {ratio:.1%} alike (case and punctuation ignored)",
            )
        return KEEP


def shared_start(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """How many leading items (words, token ids) two sequences share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@register("pair.shared_prefix")
class SharedPrefix(Filter):
    """Drop pairs whose answers share a long identical start: the pair teaches only the short tail where they part.

    Words are the answers' whitespace-separated tokens, compared exactly. A pair is
    dropped when its sides share at least ``min_shared_words`` leading words and those
    are at least ``min_shared_fraction`` of the shorter side: a rejected answer that is
    the chosen one cut short (or the chosen one with something appended) shares all of
    the shorter side. A common opening ("Sure! Here is a function that") is fewer words,
    or a small part of the shorter answer, and is kept. KTO examples (one side) pass.
    """

    reasons = ("long_shared_prefix",)

    def __init__(
        self,
        min_shared_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8,
        min_shared_words: Annotated[int, Field(ge=1)] = 10,
    ):
        self.min_shared_fraction = min_shared_fraction
        self.min_shared_words = min_shared_words

    def keep(self, rec: Record) -> Verdict:
        if not is_pair(rec):
            return KEEP
        a, b = (rec.chosen or "").split(), (rec.rejected or "").split()
        shorter = min(len(a), len(b))
        if shorter < self.min_shared_words or a[: self.min_shared_words] != b[: self.min_shared_words]:
            return KEEP  # the common case: the sides part within the first few words
        n = shared_start(a, b)
        fraction = n / shorter
        if fraction < self.min_shared_fraction:
            return KEEP
        return Drop(
            "long_shared_prefix",
            value=round(fraction, 4),
            threshold=self.min_shared_fraction,
            detail=f"the first {n} words are the same; chosen has {len(a)}, rejected {len(b)}",
        )
