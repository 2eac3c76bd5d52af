"""What a pure function of one token said, remembered across texts (the OCR scorer, the harmful-content lexicon)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", str, bytes)
V = TypeVar("V")


class TokenMemo(Generic[K, V]):
    """What a pure function of one token said, remembered across texts: tokens recur (Zipf), so a text
    costs two passes of set look-ups in C plus one call per token never seen before.

    Only truthy answers are stored; ``limit`` bounds the tokens held (all are forgotten past it). The answers
    are those of :func:`token_hits_reference` (in another order): ``judge`` is pure, so an answer remembered
    is the answer it would give again.
    """

    def __init__(self, judge: Callable[[K], V], limit: int = 500_000):
        self.judge: Callable[[K], V] = judge
        self.limit = limit
        self._seen: set[K] = set()
        self._hit_tokens: set[K] = set()
        self._hits: dict[K, V] = {}

    def hits(self, tokens: Iterable[K]) -> list[tuple[K, V]]:
        """``(token, answer)`` for the distinct tokens whose answer is truthy.

        ``tokens`` is a set, or a few tokens that may repeat (a list): for those, when every one has been
        seen, two passes of look-ups in C and no set built. (For a long list a set is cheaper: most texts
        hold some word never seen before, and then the set is built anyway.)
        """
        new: Collection[K]
        if isinstance(tokens, (set, frozenset)):
            new = tokens - self._seen
        else:
            tokens = tokens if isinstance(tokens, (list, tuple)) else list(tokens)
            new = () if self._seen.issuperset(tokens) else set(tokens) - self._seen
        if new:
            if len(self._seen) > self.limit:
                self._seen.clear()
                self._hit_tokens.clear()
                self._hits.clear()
                new = set(tokens)
            for t in new:
                self._seen.add(t)
                answer = self.judge(t)
                if answer:
                    self._hit_tokens.add(t)
                    self._hits[t] = answer
        return [(t, self._hits[t]) for t in self._hit_tokens.intersection(tokens)]


def token_hits_reference(judge: Callable[[K], V], tokens: Iterable[K]) -> list[tuple[K, V]]:
    """``(token, judge(token))`` for the distinct tokens whose answer is truthy, judging each afresh."""
    return [(t, a) for t in dict.fromkeys(tokens) if (a := judge(t))]
