"""The scores of an ablation: each arm's model on the same held-out references, and curated minus every other arm.

Per reference set and model: the answer-only loss of every reference answer (summed over its tokens,
with the token count, so the set's NLL is token-weighted as in :mod:`.loss`), and, when answers are
generated, ROUGE-L and the cosine similarity of sentence embeddings between each generated answer and
its reference.

An arm may have several seeds (random draws). The interval of curated minus another arm is a paired
bootstrap over the reference examples, and over the seeds of each arm: every resample draws one set of
examples, shared by both arms, and a set of each arm's seeds with replacement; an arm's value in a
resample is the mean over its drawn seeds. So the interval holds both the variance of the references
and that of the random draw, and the examples' shared difficulty cancels out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .generate import Conversation, generate_answers
from .loss import answer_losses
from .metrics import generation_metrics

# Metric name -> whether higher is better. "nll" is the token-weighted answer-only loss (nats per token).
METRICS = {"nll": False, "rougeL": True, "similarity": True}


@dataclass(frozen=True)
class References:
    """One held-out reference set: ids and conversations ending with the reference answer."""

    name: str
    source: str
    ids: list[str]
    conversations: list[list[dict[str, str]]]


def score_model(
    model: Any,
    tokenizer: Any,
    references: Sequence[References],
    *,
    generate: bool,
    max_new_tokens: int,
    batch_size: int,
    embed_model: str = "default",
) -> dict[str, dict[str, list]]:
    """Per reference set: ``loss_sum`` and ``tokens`` per example; with ``generate``, ``answers``, ``rougeL`` and ``similarity``."""
    out: dict[str, dict[str, list]] = {}
    for refs in references:
        losses = answer_losses(model, tokenizer, refs.conversations, batch_size)
        scores: dict[str, list] = {"loss_sum": losses.sums.tolist(), "tokens": losses.tokens.tolist()}
        if generate:
            prompts: list[Conversation] = [c[:-1] for c in refs.conversations]
            answers = generate_answers(model, tokenizer, prompts, max_new_tokens, batch_size)
            texts = [c[-1]["content"] for c in refs.conversations]
            scores["answers"] = answers
            scores["rougeL"] = generation_metrics(answers, texts).per_example["rougeL"].tolist()
            scores["similarity"] = answer_similarity(answers, texts, embed_model).tolist()
        out[refs.name] = scores
    return out


def answer_similarity(answers: Sequence[str], references: Sequence[str], embed_model: str = "default") -> np.ndarray:
    """Cosine similarity of each answer's sentence embedding with its reference's (0 for an empty answer)."""
    from ..embed.model import embed_texts

    a = embed_texts([t if t.strip() else " " for t in answers], embed_model)
    r = embed_texts(list(references), embed_model)
    sims = np.einsum("ij,ij->i", a, r).astype(float)
    return np.where([bool(t.strip()) for t in answers], sims, 0.0)


# ---- statistics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmValues:
    """One arm's per-example values on one reference set and metric: one row per seed.

    ``values`` are per-example scores (ROUGE-L) or, for the NLL, summed losses whose ``weights`` are
    the token counts (the set's value is then sum(values) / sum(weights)).
    """

    values: np.ndarray  # (seeds, examples)
    weights: np.ndarray | None = None  # (seeds, examples) or None for a plain mean

    @classmethod
    def of(cls, seeds: Sequence[dict[str, list]], metric: str) -> ArmValues:
        if metric == "nll":
            return cls(np.array([s["loss_sum"] for s in seeds], float), np.array([s["tokens"] for s in seeds], float))
        return cls(np.array([s[metric] for s in seeds], float))

    def estimate(self) -> float:
        """The mean over seeds of each seed's value on every example."""
        if self.weights is None:
            return float(self.values.mean())
        return float(np.mean(self.values.sum(axis=1) / self.weights.sum(axis=1)))

    def resampled(self, example_counts: np.ndarray, seed_counts: np.ndarray) -> np.ndarray:
        """The arm's value in each resample: ``example_counts`` (R, n) draws of examples, ``seed_counts`` (R, seeds) of seeds."""
        if self.weights is None:
            per_seed = example_counts @ self.values.T / example_counts.sum(axis=1, keepdims=True)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                per_seed = (example_counts @ self.values.T) / (example_counts @ self.weights.T)
        return (per_seed * seed_counts).sum(axis=1) / seed_counts.sum(axis=1)


@dataclass(frozen=True)
class ArmDifference:
    """``a - b`` (curated minus another arm), its percentile interval, and how often ``a`` came out better."""

    difference: float
    low: float
    high: float
    a_better_fraction: float
    higher_is_better: bool
    confidence: float
    n_resamples: int

    @property
    def verdict(self) -> str:
        """``better``, ``worse`` (for ``a``) or ``unclear`` when the interval holds 0."""
        if self.low > 0 or self.high < 0:
            a_higher = self.low > 0
            return "better" if a_higher == self.higher_is_better else "worse"
        return "unclear"

    def as_dict(self) -> dict[str, Any]:
        return {
            "difference": self.difference, "low": self.low, "high": self.high, "a_better_fraction": self.a_better_fraction,
            "higher_is_better": self.higher_is_better, "confidence": self.confidence, "n_resamples": self.n_resamples,
            "verdict": self.verdict,
        }  # fmt: skip


def seeded_paired_bootstrap(
    a: ArmValues, b: ArmValues, higher_is_better: bool, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> ArmDifference:
    """Paired bootstrap of value(a) - value(b) over the shared examples and each arm's seeds (see the module's docstring)."""
    n = a.values.shape[1]
    if b.values.shape[1] != n:
        raise InputError(
            f"The two arms were scored on {n} and {b.values.shape[1]} examples: a paired comparison needs the same references, in the "
            "same order."
        )
    if n < 2:
        raise InputError("A bootstrap interval needs at least two reference examples; give more references.")
    rng = np.random.default_rng(seed)
    examples = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)
    seeds_a = rng.multinomial(len(a.values), np.full(len(a.values), 1.0 / len(a.values)), size=n_resamples).astype(float)
    seeds_b = rng.multinomial(len(b.values), np.full(len(b.values), 1.0 / len(b.values)), size=n_resamples).astype(float)
    diffs = a.resampled(examples, seeds_a) - b.resampled(examples, seeds_b)
    diffs = diffs[np.isfinite(diffs)]
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    a_better = np.mean(diffs > 0) if higher_is_better else np.mean(diffs < 0)
    return ArmDifference(a.estimate() - b.estimate(), float(low), float(high), float(a_better), higher_is_better, confidence, n_resamples)
