"""Metrics that need no model: generated text against references, labels against labels, and intervals.

Scales: BLEU and chrF are on sacrebleu's 0-100 scale, the one papers quote; every
other score (ROUGE, exact match, token F1, accuracy, precision, recall, F1) is a
fraction in [0, 1].

A reference may be one string or a list of acceptable strings (SQuAD has several
gold answers per question): exact match, token F1 and ROUGE take the best
alternative, BLEU and chrF count n-grams against all of them.

sacrebleu and rouge_score are imported inside the functions that use them:
rouge_score imports nltk (3 s), which a caller that only wants classification
metrics or a sheet for human raters should not pay for.
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from curatune.errors import InputError

Reference = str | Sequence[str]
Stat = Callable[..., Any]

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


# --- SQuAD-style exact match and token F1 -------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop ASCII punctuation, drop English articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: Reference) -> float:
    """1.0 if the normalised prediction equals a normalised reference (any alternative), else 0.0."""
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(r) for r in _alternatives(reference)))


def token_f1(prediction: str, reference: Reference) -> float:
    """SQuAD's token F1 between normalised prediction and reference; the best over the alternatives."""
    return max(_token_f1_one(prediction, r) for r in _alternatives(reference))


def _token_f1_one(prediction: str, reference: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not predicted or not expected:
        # SQuAD 2.0's rule (no-answer questions): two empty answers agree, so F1 matches exact match.
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _alternatives(reference: Reference) -> list[str]:
    return [reference] if isinstance(reference, str) else list(reference)


# --- generation metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationScores:
    """Corpus scores over ``n`` examples, and the per-example values behind those that have them.

    ``bleu`` and ``chrf`` are corpus statistics (0-100) with no per-example counterpart:
    a mean of sentence BLEUs is not BLEU. ``per_example["chrf"]`` is sentence chrF, whose
    mean differs from corpus chrF; it is there so a bootstrap can resample it. The other
    corpus scores are exactly the means of their per-example values.
    """

    n: int
    bleu: float
    chrf: float
    rouge1: float
    rouge2: float
    rougeL: float  # rouge_score's own name for it
    exact_match: float
    token_f1: float
    # exact_match, token_f1, chrf (sentence), rouge1, rouge2, rougeL: one float per example, in input order
    per_example: dict[str, np.ndarray]
    # sacrebleu's signatures (tokenizer, smoothing, version): what makes a BLEU comparable with another
    signatures: dict[str, str]

    def as_dict(self, per_example: bool = False) -> dict[str, Any]:
        """Plain JSON-ready values; the per-example lists only when asked (they are as long as the data)."""
        out: dict[str, Any] = {
            "n": self.n,
            "bleu": self.bleu,
            "chrf": self.chrf,
            "rouge1": self.rouge1,
            "rouge2": self.rouge2,
            "rougeL": self.rougeL,
            "exact_match": self.exact_match,
            "token_f1": self.token_f1,
            "signatures": dict(self.signatures),
        }
        if per_example:
            out["per_example"] = {k: v.tolist() for k, v in self.per_example.items()}
        return out


def generation_metrics(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    rouge_stemmer: bool = False,
    rouge_tokenizer: Any = None,
) -> GenerationScores:
    """BLEU, chrF, ROUGE-1/2/L F-measure, exact match and token F1 of ``predictions`` against ``references``.

    ``references[i]`` is the reference of ``predictions[i]``: a string, or a list of acceptable strings.
    ``rouge_stemmer`` turns on rouge_score's Porter stemmer (English only). rouge_score's tokenizer keeps
    only a-z and 0-9, so text in other scripts scores 0; for such data pass ``rouge_tokenizer``, any
    object with a ``tokenize(text) -> list[str]`` method.
    """
    refs = _checked_references(predictions, references)
    bleu, chrf, signatures = _sacrebleu_scores(predictions, refs)
    per_example = {
        "exact_match": np.array([exact_match(p, r) for p, r in zip(predictions, refs)]),
        "token_f1": np.array([token_f1(p, r) for p, r in zip(predictions, refs)]),
        "chrf": _sentence_chrf(predictions, refs),
        **_rouge_f(predictions, refs, rouge_stemmer, rouge_tokenizer),
    }
    means = {name: float(values.mean()) for name, values in per_example.items()}
    return GenerationScores(
        n=len(predictions),
        bleu=bleu,
        chrf=chrf,
        rouge1=means["rouge1"],
        rouge2=means["rouge2"],
        rougeL=means["rougeL"],
        exact_match=means["exact_match"],
        token_f1=means["token_f1"],
        per_example=per_example,
        signatures=signatures,
    )


def _check_paired(predictions: Sequence, references: Sequence, fix: str) -> None:
    """One reference per prediction, and at least one of each; ``fix`` says how to pair them."""
    if len(predictions) != len(references):
        raise InputError(f"Got {len(predictions)} predictions and {len(references)} references: {fix}")
    if not predictions:
        raise InputError("No examples to score: predictions and references are empty.")


def _checked_references(predictions: Sequence[str], references: Sequence[Reference]) -> list[list[str]]:
    """References as lists of alternatives, after checking they pair one to one with the predictions."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise InputError("predictions and references must be lists of strings, one per example, not a single string: wrap it in a list.")
    _check_paired(predictions, references, "each prediction needs one reference (a string or a list of strings), in the same order.")
    refs = []
    for i, (prediction, reference) in enumerate(zip(predictions, references)):
        if not isinstance(prediction, str):
            raise InputError(f"predictions[{i}] is a {type(prediction).__name__}, not a string: give the generated text.")
        alternatives = _alternatives(reference)
        if not alternatives or not all(isinstance(a, str) for a in alternatives):
            raise InputError(f"references[{i}] is {reference!r}: give a string, or a non-empty list of strings.")
        refs.append(alternatives)
    return refs


def _sacrebleu_scores(predictions: Sequence[str], refs: list[list[str]]) -> tuple[float, float, dict[str, str]]:
    from sacrebleu.metrics import BLEU, CHRF

    streams = _reference_streams(refs)
    bleu, chrf = BLEU(), CHRF()
    # sacrebleu takes None for a missing alternative (its docs); its annotation says Sequence[Sequence[str]].
    bleu_score = bleu.corpus_score(list(predictions), streams).score  # type: ignore[arg-type]
    chrf_score = chrf.corpus_score(list(predictions), streams).score  # type: ignore[arg-type]
    return float(bleu_score), float(chrf_score), {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())}


def _reference_streams(refs: list[list[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: one stream per reference position; None where an example has fewer alternatives."""
    width = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


def _sentence_chrf(predictions: Sequence[str], refs: list[list[str]]) -> np.ndarray:
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    return np.array([chrf.sentence_score(p, r).score for p, r in zip(predictions, refs)], dtype=float)


def _rouge_f(predictions: Sequence[str], refs: list[list[str]], stemmer: bool, tokenizer: Any) -> dict[str, np.ndarray]:
    from rouge_score import rouge_scorer

    if tokenizer is None:
        _warn_untokenizable(refs)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stemmer, tokenizer=tokenizer)
    # score_multi keeps, per ROUGE type, the alternative with the best F-measure (target first, then prediction).
    scores = [scorer.score_multi(r, p) for p, r in zip(predictions, refs)]
    return {t: np.array([s[t].fmeasure for s in scores], dtype=float) for t in ROUGE_TYPES}


_ROUGE_DEFAULT_TOKEN = re.compile(r"[a-z0-9]")


def _warn_untokenizable(refs: list[list[str]]) -> None:
    """Say so when rouge_score's a-z/0-9 tokenizer sees nothing in a non-empty reference: it scores 0 silently."""
    lost = sum(1 for r in refs if any(a.strip() for a in r) and not any(_ROUGE_DEFAULT_TOKEN.search(a.lower()) for a in r))
    if lost:
        warnings.warn(
            f"{lost} of {len(refs)} references have no ROUGE tokens: rouge_score keeps only a-z and 0-9, so text in other "
            "scripts scores 0. Pass rouge_tokenizer=, an object with tokenize(text) -> list[str], for such languages.",
            stacklevel=4,  # the caller of generation_metrics
        )


# --- classification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int  # examples whose reference is this label


@dataclass(frozen=True)
class ClassificationScores:
    """Accuracy, per-class and macro scores, and the confusion matrix in the order of ``labels``.

    A class with no predictions has precision 0, one with no references recall 0 (scikit-learn's
    ``zero_division=0``). Macro averages run over every label in ``labels``, so a label the model
    invented (present only in predictions) counts, with F1 0, as in scikit-learn's classification_report.
    """

    labels: list[Hashable]
    n: int
    accuracy: float
    per_class: dict[Hashable, ClassScores]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: np.ndarray  # confusion[i, j]: examples of reference labels[i] predicted as labels[j]
    per_example: dict[str, np.ndarray]  # "correct": 1.0 or 0.0 per example, for bootstrapping accuracy

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; labels become strings where they are keys."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "labels": [str(label) for label in self.labels],
            "per_class": {str(label): vars(s).copy() for label, s in self.per_class.items()},
            "macro": {"precision": self.macro_precision, "recall": self.macro_recall, "f1": self.macro_f1},
            "confusion": self.confusion.tolist(),
        }


def classification_metrics(
    predictions: Sequence[Hashable], references: Sequence[Hashable], labels: Sequence[Hashable] | None = None
) -> ClassificationScores:
    """Score predicted labels against reference labels.

    ``labels`` fixes the order of rows and columns; labels seen in the data but not listed come
    after them, sorted, so no example is silently left out of the matrix. Without ``labels`` the
    order is every label seen, sorted.
    """
    _check_paired(predictions, references, "give one predicted label per reference, in the same order.")
    order = _label_order(predictions, references, labels)
    confusion = _confusion(predictions, references, order)
    tp = np.diag(confusion).astype(float)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    # 2tp / (2tp + fp + fn) is the harmonic mean of precision and recall, and 0 rather than 0/0 when tp is 0.
    f1 = _ratio(2 * tp, predicted + support)
    correct = np.array([p == r for p, r in zip(predictions, references)], dtype=float)
    return ClassificationScores(
        labels=order,
        n=len(predictions),
        accuracy=float(correct.mean()),
        per_class={
            label: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])) for i, label in enumerate(order)
        },
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        confusion=confusion,
        per_example={"correct": correct},
    )


def _label_order(predictions: Sequence[Hashable], references: Sequence[Hashable], labels: Sequence[Hashable] | None) -> list[Hashable]:
    given = list(labels or [])
    if len(set(given)) != len(given):
        repeated = sorted({str(label) for label in given if given.count(label) > 1})
        raise InputError(f"labels lists {', '.join(repeated)} more than once: give each label once, in the order wanted.")
    unlisted = (set(references) | set(predictions)) - set(given)
    return given + _sorted(unlisted)


def _sorted(labels: set[Hashable]) -> list[Hashable]:
    try:
        return sorted(labels)  # type: ignore[type-var]
    except TypeError:  # mixed types (1 and "1"): any fixed order will do
        return sorted(labels, key=repr)


def _confusion(predictions: Sequence[Hashable], references: Sequence[Hashable], order: list[Hashable]) -> np.ndarray:
    index = {label: i for i, label in enumerate(order)}
    k = len(order)
    cells = np.array([index[r] * k + index[p] for p, r in zip(predictions, references)], dtype=np.int64)
    return np.bincount(cells, minlength=k * k).reshape(k, k)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


# --- intervals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A statistic on the data and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int


@dataclass(frozen=True)
class PairedDifference:
    """stat(b) - stat(a) on the same examples, its bootstrap interval, and how often b came out ahead."""

    difference: float
    low: float
    high: float
    b_better_fraction: float  # resamples where stat(b) > stat(a); ties count for neither
    confidence: float
    n_resamples: int


# Resampled values held in memory at once (float64: 32 MiB): larger jobs run in chunks of resamples.
_MAX_CELLS = 1 << 22


def bootstrap_ci(
    per_example_values: Sequence[float] | np.ndarray,
    stat: Stat = np.mean,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``stat`` over per-example values (resampling examples with replacement).

    ``stat`` is called as ``stat(values_2d, axis=1)`` on a block of resamples, as np.mean and np.median allow.
    """
    values = _as_values(per_example_values, "per_example_values")
    _check_bootstrap_parameters(n_resamples, confidence)
    (stats,) = _resampled_stats([values], stat, n_resamples, seed)
    low, high = _percentile_interval(stats, confidence)
    return Interval(float(stat(values[None, :], axis=1)[0]), low, high, confidence, n_resamples)


def paired_bootstrap_diff(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    stat: Stat = np.mean,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """Compare two systems scored on the same examples: ``a[i]`` and ``b[i]`` must be the same example.

    Each resample draws one set of examples for both systems, so the variance the examples share
    cancels out and a small consistent gain shows up that two separate intervals would hide.
    """
    values_a, values_b = _as_values(a, "a"), _as_values(b, "b")
    if len(values_a) != len(values_b):
        raise InputError(
            f"a has {len(values_a)} values and b has {len(values_b)}: a paired comparison needs both systems scored on the same examples, "
            "in the same order."
        )
    _check_bootstrap_parameters(n_resamples, confidence)
    stats_a, stats_b = _resampled_stats([values_a, values_b], stat, n_resamples, seed)
    differences = stats_b - stats_a
    low, high = _percentile_interval(differences, confidence)
    observed = float(stat(values_b[None, :], axis=1)[0] - stat(values_a[None, :], axis=1)[0])
    return PairedDifference(observed, low, high, float(np.mean(differences > 0)), confidence, n_resamples)


def _as_values(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise InputError(f"{name} must be a non-empty list of numbers, one per example; got shape {array.shape}.")
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array))[:5].tolist()
        raise InputError(
            f"{name} has values that are not finite numbers (NaN or infinite) at positions {bad}: score every example, "
            "or leave the unscored ones out of both sides."
        )
    return array


def _check_bootstrap_parameters(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer (1000 is usual); got {n_resamples!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, exclusive (0.95 for a 95% interval); got {confidence!r}.")


def _resampled_stats(arrays: list[np.ndarray], stat: Stat, n_resamples: int, seed: int) -> list[np.ndarray]:
    """``stat`` of each array over ``n_resamples`` resamples, the same example indices for every array."""
    rng = np.random.default_rng(seed)
    n = len(arrays[0])
    per_chunk = max(1, _MAX_CELLS // n)
    chunks: list[list[np.ndarray]] = [[] for _ in arrays]
    for start in range(0, n_resamples, per_chunk):
        indices = rng.integers(0, n, size=(min(per_chunk, n_resamples - start), n))
        for out, array in zip(chunks, arrays):
            out.append(np.asarray(stat(array[indices], axis=1), dtype=float))
    return [np.concatenate(out) for out in chunks]


def _percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``; sound near 0 and 1 and with few trials.

    ``successes`` may be fractional (ties counted as half a win). With ``n == 0`` nothing is
    known and the interval is (0, 1).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, exclusive (0.95 for a 95% interval); got {confidence!r}.")
    if n == 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}; got {successes}.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half_width = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return float(max(0.0, centre - half_width)), float(min(1.0, centre + half_width))
