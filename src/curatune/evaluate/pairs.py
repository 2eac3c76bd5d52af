"""A preference run on held-out pairs: does the tuned model prefer the chosen answer, and by how much more than its base?

For each held-out pair, the summed log-probability of each answer given the prompt, under both models
(the answer's tokens only, end-of-turn token included, as :func:`curatune.evaluate.loss.answer_losses`
scores a reference answer). Three per-pair numbers, each with a bootstrap interval over the pairs:

- ``reward_margin``: the implicit DPO reward of the tuned model against the base,
  ``beta * ((log p(chosen) - log p_base(chosen)) - (log p(rejected) - log p_base(rejected)))``, with the
  run's ``beta``; the base's is 0 by definition. The same number TRL logs as ``rewards/margins`` on the
  validation pairs, here on pairs no checkpoint was chosen on. For ORPO and SimPO (no reference in
  their loss) it is still measured against the base: how far training moved the preference.
- ``reward_accuracy``: 1 where that margin is above 0 (TRL's ``rewards/accuracies``); the base's is 0.
- ``preference_accuracy``: 1 where the model finds the chosen answer more likely than the rejected one
  (summed log-probabilities): defined for the base too, so the paired difference says what training changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..curation.record import Record
from .loss import answer_losses


@dataclass(frozen=True)
class PairScores:
    """Per held-out pair (in the order given): each model's log-probabilities of the two answers."""

    ids: list[str]
    logps: dict[str, dict[str, np.ndarray]]  # model name -> side -> summed log-probability

    def margins(self, beta: float) -> np.ndarray:
        t, b = self.logps["tuned"], self.logps["base"]
        return beta * ((t["chosen"] - b["chosen"]) - (t["rejected"] - b["rejected"]))

    def prefers_chosen(self, name: str) -> np.ndarray:
        side = self.logps[name]
        return (side["chosen"] > side["rejected"]).astype(float)


def pairs_of(records: list[Record]) -> list[Record]:
    """The held-out records that are pairs (an unpaired KTO example has nothing to compare)."""
    return [r for r in records if r.chosen is not None and r.rejected is not None and r.messages]


def answer_logps(model, tokenizer, records: list[Record], batch_size: int = 8) -> dict[str, np.ndarray]:
    """Side (``chosen``, ``rejected``) -> each pair's summed log-probability of that answer under ``model``."""
    return {
        side: -answer_losses(model, tokenizer, [r.side_messages(side) for r in records], batch_size).sums for side in ("chosen", "rejected")
    }
