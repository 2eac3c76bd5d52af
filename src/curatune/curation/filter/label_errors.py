"""Label errors in classification data: out-of-fold predictions on lexical or sentence features, then confident learning.

How a record is judged (Northcutt et al., "Confident Learning", 2021, via the
``cleanlab`` package):

1. every labelled record's text becomes features: ``tfidf`` (the default: word 1-2-gram TF-IDF,
   sublinear term frequency, fitted on the data itself; seconds for tens of thousands of texts),
   ``embedding`` (``curatune.embed``, the packaged all-MiniLM-L6-v2 by default, vectors cached on disk;
   it reads only the first 256 tokens and embeds about 50 reviews a second on a CPU), or ``ensemble``
   (both, their probabilities averaged);
2. a logistic regression is trained ``folds`` times (stratified k-fold, seeded), each time predicting the
   fold it did not see, so every record gets class probabilities from a model that never saw its label;
   its *label quality* is the out-of-fold probability of its given label (a score for every record);
3. which records are flagged: by default cleanlab's ``find_label_issues`` estimates from those
   probabilities how many labels of each class are wrong (the confident joint) and flags the records
   most likely to be them; ``threshold`` flags every record whose label quality is below it instead, and
   ``top_k`` the ``top_k`` lowest; ``max_share`` caps any of them at that share of the records, keeping
   the lowest.

Validation (issue 15): IMDB reviews (imdb_train_10k, which nothing here was written from) with planted
flips and with reviews whose own star rating contradicts their label: bench/bench_label_errors.py, table in
bench/RESULTS.md (against a 5-fold naive Bayes on word counts and a TF-IDF + confident-learning baseline at
the same number flagged).

:func:`find_label_errors` runs this on a list of texts (or precomputed
embeddings) without a pipeline; :class:`LabelErrors` is the global step.
Every phase that can take more than a couple of seconds (features, each fold, embedding) reports its
progress through the ``curatune`` logger at INFO, at most every two seconds.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import orjson
from pydantic import Field

from ...embed import model as embed_model
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict

log = logging.getLogger("curatune")

# cleanlab's filter_by options. See LabelErrors' docstring for why prune_by_noise_rate is the default.
Method = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"]
Features = Literal["tfidf", "embedding", "ensemble"]


class Progress:
    """Reports a phase's progress through the ``curatune`` logger (or a callback), at most every ``every`` seconds."""

    def __init__(self, report: Callable[[str], None] | None = None, every: float = 2.0):
        self.report = report or (lambda msg: log.info("filter.label_errors: %s", msg))
        self.every = every
        self._start = self._last = time.perf_counter()

    def phase(self, name: str) -> None:
        self._start = self._last = time.perf_counter()
        self.report(f"{name} ...")

    def tick(self, what: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every or done == total:
            self._last = now
            self.report(f"{what}: {done:,} of {total:,} ({now - self._start:.0f} s)")


def tfidf_features(texts: Sequence[str], max_features: int = 300_000, progress: Progress | None = None):
    """Word 1-2-gram TF-IDF (sublinear tf, terms in at least 2 texts), a sparse matrix: the lexical featurizer.

    The texts are split into their 1-2-grams first, with progress (that is most of the time), then counted."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()
    grams: list[list[str]] = []
    for i, text in enumerate(texts, start=1):
        grams.append(analyze(text))
        if progress is not None and (i % 1000 == 0 or i == len(texts)):
            progress.tick("texts split into words", i, len(texts))
    vec = TfidfVectorizer(analyzer=_identity, min_df=2, sublinear_tf=True, max_features=max_features, dtype=np.float32)
    return vec.fit_transform(grams)


def _identity(grams: list[str]) -> list[str]:
    return grams


@dataclass
class LabelErrorResult:
    """What :func:`find_label_errors` found. Arrays are indexed like the input; ``issues`` holds indices.

    Records of classes left out (``skipped_classes``) have ``analysed`` False, ``predicted`` -1 and
    NaN confidences; when the whole analysis is skipped every record is like that and ``warnings`` says why.
    """

    classes: list[str]  # the class names of the columns of pred_probs, sorted
    analysed: np.ndarray  # bool per record: taken into the analysis
    pred_probs: np.ndarray  # (n, len(classes)) out-of-fold probabilities; NaN rows where not analysed
    self_confidence: np.ndarray  # out-of-fold probability of the given label
    predicted: np.ndarray  # index into classes of the most probable class
    issues: np.ndarray  # indices of records flagged as label errors, most confidently wrong first
    folds: int  # folds actually used (0 when skipped)
    features: str = "tfidf"
    skipped_classes: dict[str, int] = field(default_factory=dict)  # class -> count, too small to analyse
    warnings: list[str] = field(default_factory=list)


def out_of_fold_probs(x, y: np.ndarray, folds: int, seed: int, C: float = 1.0, progress: Progress | None = None) -> np.ndarray:
    """Class probabilities for every row from a logistic regression that did not train on it (stratified k-fold).

    ``x`` is a dense array or a sparse matrix."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    k = int(y.max()) + 1
    probs = np.zeros((len(y), k), dtype=np.float64)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    for i, (train, test) in enumerate(splits, start=1):
        model = LogisticRegression(C=C, max_iter=2000)
        model.fit(x[train], y[train])
        # Every class is in every training fold (folds <= smallest class), so columns line up with 0..k-1.
        probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
        if progress is not None:
            progress.tick("folds trained", i, folds)
    return probs


def rank_label_issues(y: np.ndarray, pred_probs: np.ndarray, method: str) -> np.ndarray:
    """Indices cleanlab flags as label issues with ``filter_by=method``, lowest self-confidence first."""
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the caller reports those itself
        # n_jobs=1: no process pool (deterministic, and the pipeline already owns the cores).
        return np.asarray(
            find_label_issues(y, pred_probs, filter_by=method, return_indices_ranked_by="self_confidence", n_jobs=1),
            dtype=np.int64,
        )


def find_label_errors(
    texts_or_embeddings: Sequence[str] | np.ndarray,
    labels: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    method: str = "prune_by_noise_rate",
    *,
    model: str = "default",
    min_per_class: int = 10,
    C: float = 1.0,
    features: str = "tfidf",
    threshold: float | None = None,
    top_k: int | None = None,
    max_share: float | None = None,
    progress: Progress | None = None,
) -> LabelErrorResult:
    """Label errors among ``labels`` (one per text or embedding row); see the module docstring.

    ``features``: ``tfidf``, ``embedding`` (texts embedded with ``load_embedder(model)``) or ``ensemble``;
    a 2-d array is taken as embeddings as is. Classes with fewer than ``min_per_class`` records are left
    out (their records are never flagged); ``folds`` shrinks to the smallest remaining class when that is
    smaller. Fewer than two classes left: nothing is analysed (and nothing embedded), with a warning.
    """
    progress = progress or Progress()
    label_array = np.asarray([str(v) for v in labels], dtype=object)
    n = len(label_array)
    classes = sorted(set(label_array.tolist()))
    counts = Counter(label_array.tolist())
    notes: list[str] = []
    skipped = {c: counts[c] for c in classes if counts[c] < min_per_class}
    kept_classes = [c for c in classes if c not in skipped]
    if skipped:
        notes.append(
            f"classes with fewer than {min_per_class} records are not checked (their records are kept): "
            + ", ".join(f"{c!r} ({k})" for c, k in skipped.items())
        )
    given_embeddings = isinstance(texts_or_embeddings, np.ndarray) and texts_or_embeddings.ndim == 2
    result = LabelErrorResult(
        classes=kept_classes,
        analysed=np.zeros(n, dtype=bool),
        pred_probs=np.full((n, len(kept_classes)), np.nan),
        self_confidence=np.full(n, np.nan),
        predicted=np.full(n, -1, dtype=np.int64),
        issues=np.zeros(0, dtype=np.int64),
        folds=0,
        skipped_classes=skipped,
        warnings=notes,
        features="embedding" if given_embeddings else features,
    )
    if len(kept_classes) < 2:
        if n:
            notes.append(
                f"label errors were not checked: {len(kept_classes)} class(es) with at least {min_per_class} records, 2 are needed"
            )
        return result
    used_folds = min(folds, min(counts[c] for c in kept_classes))
    if used_folds < folds:
        notes.append(f"folds reduced from {folds} to {used_folds}: the smallest class checked has {used_folds} records")

    idx = np.flatnonzero(np.isin(label_array, kept_classes))
    class_index = {c: i for i, c in enumerate(kept_classes)}
    y = np.asarray([class_index[v] for v in label_array[idx]], dtype=np.int64)
    probs = _probabilities(texts_or_embeddings, idx, y, used_folds, seed, C, result.features, model, progress)
    result.analysed[idx] = True
    result.pred_probs[idx] = probs
    result.self_confidence[idx] = probs[np.arange(len(y)), y]
    result.predicted[idx] = probs.argmax(axis=1)
    result.issues = idx[_flagged(y, probs, method, threshold, top_k, max_share, progress)]
    result.folds = used_folds
    return result


def _probabilities(data, idx: np.ndarray, y: np.ndarray, folds: int, seed: int, C: float, features: str, model: str, progress: Progress):
    """Out-of-fold probabilities of the rows ``idx``, from the features asked for (averaged for ``ensemble``)."""
    if isinstance(data, np.ndarray) and data.ndim == 2:
        progress.phase(f"{folds}-fold logistic regression on {len(idx):,} embeddings")
        return out_of_fold_probs(np.asarray(data[idx], dtype=np.float32), y, folds, seed, C, progress)
    texts = list(data)
    chosen = [texts[i] for i in idx]
    parts = []
    if features in ("tfidf", "ensemble"):
        progress.phase(f"TF-IDF features of {len(chosen):,} texts")
        x = tfidf_features(chosen, progress=progress)
        progress.phase(f"{folds}-fold logistic regression on {x.shape[1]:,} TF-IDF features")
        parts.append(out_of_fold_probs(x, y, folds, seed, C, progress))
    if features in ("embedding", "ensemble"):
        progress.phase(f"embedding {len(chosen):,} texts with {model!r}")
        # Looked up at call time, so a stand-in embedder set on curatune.embed.model (as the tests do) is used.
        done = [0]

        def embedded(k: int) -> None:
            done[0] += k
            progress.tick("texts embedded", done[0], len(chosen))

        emb = embed_model.load_embedder(model)(chosen, embedded)
        progress.phase(f"{folds}-fold logistic regression on the embeddings")
        parts.append(out_of_fold_probs(np.asarray(emb, dtype=np.float32), y, folds, seed, C, progress))
    return np.mean(parts, axis=0)


def _flagged(y: np.ndarray, probs: np.ndarray, method: str, threshold: float | None, top_k: int | None, max_share: float | None, progress):
    """Positions (into ``y``) of the records flagged, lowest label quality first (see the module docstring)."""
    quality = probs[np.arange(len(y)), y]
    order = np.argsort(quality, kind="stable")
    if threshold is not None:
        chosen = order[quality[order] < threshold]
    elif top_k is not None:
        chosen = order[:top_k]
    else:
        progress.phase("confident learning")
        chosen = rank_label_issues(y, probs, method)
    if max_share is not None:
        cap = int(max_share * len(y))
        if len(chosen) > cap:
            chosen = chosen[np.argsort(quality[chosen], kind="stable")][:cap]
    return chosen[np.argsort(quality[chosen], kind="stable")]


@register("filter.label_errors")
class LabelErrors(GlobalStep):
    """Drop labelled records whose label a model trained on the other records confidently disagrees with.

    For classification data (records with ``text`` and ``label``; other records are kept untouched).
    ``features``: ``tfidf`` (default: word 1-2-gram TF-IDF, fast), ``embedding`` (``model``: the packaged
    all-MiniLM-L6-v2, or a sentence-transformers folder) or ``ensemble`` (both, probabilities averaged);
    a logistic regression gives every record out-of-fold class probabilities (``folds``-fold stratified
    cross-validation, shuffled with ``seed``). Every analysed record gets a score, ``label_quality`` in
    ``meta["scores"]``: the out-of-fold probability of its given label (low: probably wrong).

    Which records are flagged: cleanlab's confident learning with ``method`` as its ``filter_by``
    (default ``prune_by_noise_rate``: for each pair of classes, as many records as the estimated number of
    flips between them, the ones with the largest margin for the other class; ``prune_by_class``,
    ``both``, ``confident_learning`` and ``predicted_neq_given`` as cleanlab defines them); or, instead,
    every record with ``label_quality`` under ``threshold``, or the ``top_k`` lowest. ``max_share`` caps
    the flagged records at that share of the analysed ones (the lowest kept): a noisy set then loses at
    most that much. Recall and precision on IMDB against the baselines: bench/RESULTS.md (issue 15).

    ``min_per_class``: classes with fewer records are not checked (kept, with a warning);
    ``folds`` shrinks to the smallest checked class when that is smaller. A drop's value is the
    label quality, its detail the predicted label and the record's rank among the flagged records
    (1 = most confidently wrong). Writes ``artifacts/label_issues.jsonl`` (the flagged records, ranked),
    ``artifacts/label_scores.jsonl`` (every analysed record's label quality) and
    ``artifacts/label_errors.json`` (classes, folds used, counts, warnings). Progress (features, each
    fold, embedding) goes to the ``curatune`` logger at INFO, at most every two seconds.
    """

    reasons = ("label_error",)

    def __init__(
        self,
        model: str = "default",
        folds: Annotated[int, Field(ge=2)] = 5,
        seed: int = 0,
        method: Method = "prune_by_noise_rate",
        min_per_class: Annotated[int, Field(ge=2)] = 10,
        features: Features = "tfidf",
        threshold: Annotated[float, Field(gt=0, lt=1)] | None = None,
        top_k: Annotated[int, Field(ge=1)] | None = None,
        max_share: Annotated[float, Field(gt=0, le=1)] | None = None,
    ):
        self.model = model
        self.folds = folds
        self.seed = seed
        self.method = method
        self.min_per_class = min_per_class
        self.features = features
        self.threshold = threshold
        self.top_k = top_k
        self.max_share = max_share
        self._reset()

    def _reset(self) -> None:
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._labels: list[str] = []
        self._drops: dict[str, Verdict] = {}
        self._quality: dict[str, float] = {}
        self._rows: list[dict] = []  # label_issues.jsonl, ranked
        self._scores: list[dict] = []  # label_scores.jsonl
        self._summary: dict | None = None

    def observe(self, rec: Record, prepared) -> None:
        if rec.kind == "labelled":
            self._ids.append(rec.id)
            self._texts.append(rec.text or "")
            self._labels.append(str(rec.label))

    def finish(self) -> None:
        if not self._ids:
            return
        res = find_label_errors(
            self._texts,
            self._labels,
            self.folds,
            self.seed,
            self.method,
            model=self.model,
            min_per_class=self.min_per_class,
            features=self.features,
            threshold=self.threshold,
            top_k=self.top_k,
            max_share=self.max_share,
        )
        for note in res.warnings:
            log.warning("filter.label_errors: %s", note)
        total = len(res.issues)
        for i in np.flatnonzero(res.analysed).tolist():
            q = round(float(res.self_confidence[i]), 4)
            self._quality[self._ids[i]] = q
            predicted = res.classes[res.predicted[i]]
            self._scores.append({"id": self._ids[i], "given": self._labels[i], "predicted": predicted, "label_quality": q})
        for rank, i in enumerate(res.issues.tolist(), start=1):
            given, predicted = self._labels[i], res.classes[res.predicted[i]]
            conf, p_pred = float(res.self_confidence[i]), float(res.pred_probs[i, res.predicted[i]])
            rid = self._ids[i]
            self._drops[rid] = Drop(
                "label_error",
                round(conf, 4),
                self.threshold,
                detail=f"given {given!r}, model says {predicted!r} with p={p_pred:.2f}; rank {rank} of {total} flagged",
            )
            row = {"rank": rank, "id": rid, "given": given, "predicted": predicted}
            self._rows.append(row | {"self_confidence": round(conf, 4), "p_predicted": round(p_pred, 4)})
        self._summary = {
            "labelled_records": len(self._ids),
            "analysed_records": int(res.analysed.sum()),
            "classes": dict(sorted(Counter(self._labels).items())),
            "skipped_classes": res.skipped_classes,
            "folds": res.folds,
            "features": res.features,
            "method": self.method if self.threshold is None and self.top_k is None else "threshold" if self.threshold else "top_k",
            "threshold": self.threshold,
            "top_k": self.top_k,
            "max_share": self.max_share,
            "seed": self.seed,
            "model": self.model if res.features != "tfidf" else None,
            "label_issues": total,
            "warnings": res.warnings,
        }
        # The texts were only needed for the features; decide needs the verdicts and scores alone.
        self._texts = []

    def decide(self, rec: Record) -> Verdict:
        q = self._quality.get(rec.id)
        if q is not None:
            rec.meta.setdefault("scores", {})["label_quality"] = q
        return self._drops.get(rec.id, KEEP)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if self._summary is None:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / "label_issues.jsonl", "wb") as f:
            for row in self._rows:
                f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        with open(out_dir / "label_scores.jsonl", "wb") as f:
            for row in self._scores:
                f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        (out_dir / "label_errors.json").write_bytes(orjson.dumps(self._summary, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return ["artifacts/label_issues.jsonl", "artifacts/label_scores.jsonl", "artifacts/label_errors.json"]
