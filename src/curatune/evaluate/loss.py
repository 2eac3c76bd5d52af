"""The loss of each held-out reference answer under a model, and the perplexity they make together.

The loss of an example is the cross-entropy of its reference answer's tokens (the last assistant
turn, end-of-turn token included, as in training) given everything before them; the prompt's
tokens carry none. Perplexity is ``exp`` of the loss averaged over every answer token of the
set, so that a long answer weighs as many tokens as it has: that is what
``exp(token-weighted mean loss)`` means, and it differs from the mean of per-example perplexities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..curation.record import Record
from ..train.examples import chat_example
from ..train.loss_rank import example_losses
from .generate import Conversation


@dataclass(frozen=True)
class AnswerLosses:
    """Per example: the summed loss of its answer tokens and how many there are."""

    sums: np.ndarray
    tokens: np.ndarray

    def mean(self, i: int) -> float | None:
        """Example ``i``'s mean loss per answer token; None when its answer has no token (nothing to score)."""
        return float(self.sums[i] / self.tokens[i]) if self.tokens[i] else None

    @property
    def loss(self) -> float:
        """Token-weighted mean loss over the set."""
        return float(self.sums.sum() / self.tokens.sum())

    @property
    def perplexity(self) -> float:
        with np.errstate(over="ignore"):  # inf, not an exception, for a model far off the data
            return float(np.exp(self.loss))


def answer_losses(model, tokenizer, conversations: Sequence[Conversation], batch_size: int = 8) -> AnswerLosses:
    """Loss of each conversation's last assistant turn given the turns before it."""
    rows = [reference_answer_row(tokenizer, c) for c in conversations]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    means = np.array(example_losses(model, rows, pad, batch_size), dtype=float)
    # A label at position 0 has nothing before it to be predicted from: the shifted loss never counts it.
    tokens = np.array([sum(1 for label in r["labels"][1:] if label != -100) for r in rows], dtype=float)
    return AnswerLosses(means * tokens, tokens)


def reference_answer_row(tokenizer, conversation: Conversation) -> dict[str, list[int]]:
    """``input_ids`` of the whole conversation and ``labels`` that are -100 everywhere but on the last assistant turn."""
    example = chat_example(tokenizer, Record(id="eval", messages=[dict(m) for m in conversation]))
    mask = _last_run(example.assistant_masks)
    return {"input_ids": example.input_ids, "labels": [t if m else -100 for t, m in zip(example.input_ids, mask)]}


def _last_run(mask: list[int]) -> list[int]:
    """Only the last run of 1s kept: the assistant turns before the last are context, not the reference."""
    out = [0] * len(mask)
    i = len(mask) - 1
    while i >= 0 and not mask[i]:
        i -= 1
    while i >= 0 and mask[i]:
        out[i] = 1
        i -= 1
    return out
