"""The rule that makes one preference pair out of a row of scored completions (UltraFeedback and the like).

UltraFeedback gives each prompt several completions, each with a score. A pair is
made of two of them, by a rule whose every parameter is a setting (``data.pairs`` in
a recipe, ``--pair-rule`` and friends on ``curatune convert``):

- ``chosen``: the completion with the highest score (the first of them on a tie).
- ``rejected``: with ``best_vs_random`` (UltraFeedback-binarized's rule), one
  completion drawn at random among those scored at least ``min_margin`` below the
  chosen one; with ``best_vs_worst``, the lowest-scored one (the first on a tie).
- Ties are skipped: a completion scored the same as the chosen one is never the
  rejected one (``min_margin`` 0 means "strictly lower"). A row where no completion
  qualifies gives no pair: it is a ``read`` drop with reason ``no_pair``.
- The random draw is seeded by ``seed`` and the record's id, so a pair does not
  depend on the order of the rows or on which worker reads them.

Completions whose score is missing or not a number are never picked.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

import xxhash

PairRuleName = Literal["best_vs_random", "best_vs_worst"]
# Where a completion's score is looked for when ``score_field`` is ``auto``, in this order.
SCORE_FIELDS = ("overall_score", "score", "rating")


@dataclass(frozen=True, slots=True)
class PairRule:
    rule: PairRuleName = "best_vs_random"
    min_margin: float = 0.0
    score_field: str = "auto"
    seed: int = 0


def as_score(value: object) -> float | None:
    """A usable score: a finite number (a bool is not one), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def pick_pair(scores: list[float | None], rule: PairRule, record_id: str) -> tuple[int, int] | None:
    """``(chosen index, rejected index)`` by the rule, or None when no completion is scored far enough below the best."""
    scored = [(i, s) for i, s in enumerate(scores) if s is not None]
    if len(scored) < 2:
        return None
    best_i, best = max(scored, key=lambda t: (t[1], -t[0]))  # the highest, the first of a tie
    lower = [(i, s) for i, s in scored if s < best and best - s >= rule.min_margin]
    if not lower:
        return None
    if rule.rule == "best_vs_worst":
        worst = min(s for _, s in lower)
        return best_i, next(i for i, s in lower if s == worst)
    rng = random.Random(xxhash.xxh64_intdigest(f"{rule.seed}\x00{record_id}".encode("utf-8", "surrogatepass")))
    return best_i, rng.choice(lower)[0]
