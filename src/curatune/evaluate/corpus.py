"""Bootstrap intervals for scores of a whole set: corpus BLEU and chrF, perplexity, macro F1.

Such a score is not a mean of per-example values, so :func:`~curatune.evaluate.bootstrap_ci`
cannot resample it. It is, though, a function of per-example counts summed over the set:
n-gram matches and totals for BLEU and chrF, loss sums and token counts for perplexity, confusion
cells for macro F1. Resampling examples is then resampling rows of those counts and scoring the
sums, as sacrebleu's own paired bootstrap does. Both systems get the same resamples, so the
interval of their difference is a paired one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import Interval, PairedDifference

Score = Callable[[np.ndarray], float]  # summed statistics (one row) -> score

_MAX_CELLS = 1 << 22  # resample weights held at once (32 MiB of float64)


@dataclass(frozen=True)
class CorpusComparison:
    a: Interval
    b: Interval
    difference: PairedDifference  # score(b) - score(a)


def paired_corpus_bootstrap(
    stats_a: np.ndarray, stats_b: np.ndarray, score: Score, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> CorpusComparison:
    """Intervals of ``score`` for two systems and of their difference; ``stats_x[i]`` are example ``i``'s counts."""
    a, b = np.asarray(stats_a, dtype=float), np.asarray(stats_b, dtype=float)
    if a.ndim != 2 or a.shape[0] != b.shape[0] or a.shape[0] == 0:
        raise ValueError(f"stats_a and stats_b must be (examples, counts) arrays over the same examples; got {a.shape} and {b.shape}.")
    sums_a, sums_b = _resampled_sums([a, b], n_resamples, seed)
    scores_a = np.array([score(s) for s in sums_a])
    scores_b = np.array([score(s) for s in sums_b])
    tail = (1 - confidence) / 2
    observed_a, observed_b = score(a.sum(0)), score(b.sum(0))

    def interval(estimate: float, values: np.ndarray) -> tuple[float, float, float]:
        low, high = np.quantile(values, [tail, 1 - tail])
        return estimate, float(low), float(high)

    differences = scores_b - scores_a
    return CorpusComparison(
        Interval(*interval(observed_a, scores_a), confidence, n_resamples),
        Interval(*interval(observed_b, scores_b), confidence, n_resamples),
        PairedDifference(*interval(observed_b - observed_a, differences), float(np.mean(differences > 0)), confidence, n_resamples),
    )


def _resampled_sums(arrays: list[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Per resample, each array's rows summed with the same draw: how often each example was drawn, times its counts."""
    rng = np.random.default_rng(seed)
    n = arrays[0].shape[0]
    per_chunk = max(1, _MAX_CELLS // n)
    out: list[list[np.ndarray]] = [[] for _ in arrays]
    for start in range(0, n_resamples, per_chunk):
        draws = rng.integers(0, n, size=(min(per_chunk, n_resamples - start), n))
        weights = np.stack([np.bincount(row, minlength=n) for row in draws]).astype(float)
        for sums, array in zip(out, arrays):
            sums.append(weights @ array)
    return [np.concatenate(s) for s in out]


# --- the statistics of each score ------------------------------------------------------------------


def sacrebleu_statistics(name: str, predictions: Sequence[str], references: Sequence[str]) -> tuple[np.ndarray, Score]:
    """Per-example sufficient statistics of sacrebleu's ``bleu`` or ``chrf`` (default settings), and the score of their sums."""
    from sacrebleu.metrics import BLEU, CHRF

    metric = BLEU() if name == "bleu" else CHRF()
    stats = np.array(metric._extract_corpus_statistics(list(predictions), [list(references)]), dtype=float)
    return stats, lambda summed: float(metric._compute_score_from_stats(list(summed)).score)


def loss_statistics(sums: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Rows ``(summed loss, answer tokens)``, for :func:`token_weighted_loss` and :func:`perplexity`."""
    return np.stack([np.asarray(sums, dtype=float), np.asarray(tokens, dtype=float)], axis=1)


def token_weighted_loss(summed: np.ndarray) -> float:
    return float(summed[0] / summed[1]) if summed[1] else math.nan


def perplexity(summed: np.ndarray) -> float:
    # np.exp: a model far off the data has a loss whose exp overflows a float; inf says so, an exception would not.
    with np.errstate(over="ignore"):
        return float(np.exp(token_weighted_loss(summed)))


def confusion_statistics(predictions: Sequence[object], references: Sequence[object], labels: Sequence[object]) -> np.ndarray:
    """One row per example: a one-hot over the confusion matrix's cells (reference row, predicted column)."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    rows = np.zeros((len(predictions), k * k))
    for i, (p, r) in enumerate(zip(predictions, references)):
        rows[i, index[r] * k + index[p]] = 1.0
    return rows


def macro_score(which: str, k: int) -> Score:
    """Macro ``precision``, ``recall`` or ``f1`` of a summed confusion matrix, as :func:`classification_metrics` computes it."""

    def score(summed: np.ndarray) -> float:
        confusion = summed.reshape(k, k)
        tp = np.diag(confusion)
        predicted, support = confusion.sum(0), confusion.sum(1)
        numerator, denominator = {"precision": (tp, predicted), "recall": (tp, support), "f1": (2 * tp, predicted + support)}[which]
        return float(np.divide(numerator, denominator, out=np.zeros(k), where=denominator > 0).mean())

    return score
