"""Label errors in classification data: out-of-fold predictions on sentence embeddings, then confident learning.

How a record is judged (Northcutt et al., "Confident Learning", 2021, via the
``cleanlab`` package):

1. every labelled record's text is embedded (``curatune.embed``, the packaged
   all-MiniLM-L6-v2 by default; vectors are cached on disk);
2. a logistic regression on the embeddings is trained ``folds`` times
   (stratified k-fold, seeded), each time predicting the fold it did not
   see, so every record gets class probabilities from a model that never
   saw its label;
3. ``cleanlab.filter.find_label_issues`` estimates, from those
   probabilities, how many labels of each class are wrong (the confident
   joint) and flags the records most likely to be them.

:func:`find_label_errors` runs this on a list of texts (or precomputed
embeddings) without a pipeline; :class:`LabelErrors` is the global step.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
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
    skipped_classes: dict[str, int] = field(default_factory=dict)  # class -> count, too small to analyse
    warnings: list[str] = field(default_factory=list)


def out_of_fold_probs(x: np.ndarray, y: np.ndarray, folds: int, seed: int, C: float = 1.0) -> np.ndarray:
    """Class probabilities for every row from a logistic regression that did not train on it (stratified k-fold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    k = int(y.max()) + 1
    probs = np.zeros((len(y), k), dtype=np.float64)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(C=C, max_iter=2000)
        model.fit(x[train], y[train])
        # Every class is in every training fold (folds <= smallest class), so columns line up with 0..k-1.
        probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
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
) -> LabelErrorResult:
    """Label errors among ``labels`` (one per text or embedding row); see the module docstring.

    Texts are embedded with ``load_embedder(model)``; a 2-d array is taken as embeddings as is.
    Classes with fewer than ``min_per_class`` records are left out (their records are never
    flagged); ``folds`` shrinks to the smallest remaining class when that is smaller. Fewer than
    two classes left: nothing is analysed (and nothing embedded), with a warning.
    """
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
    if isinstance(texts_or_embeddings, np.ndarray) and texts_or_embeddings.ndim == 2:
        x = np.asarray(texts_or_embeddings[idx], dtype=np.float32)
    else:
        texts = list(texts_or_embeddings)
        # Looked up at call time, so a stand-in embedder set on curatune.embed.model (as the tests do) is used.
        x = embed_model.load_embedder(model)([texts[i] for i in idx])  # one call: it batches and caches

    probs = out_of_fold_probs(x, y, used_folds, seed, C)
    result.analysed[idx] = True
    result.pred_probs[idx] = probs
    result.self_confidence[idx] = probs[np.arange(len(y)), y]
    result.predicted[idx] = probs.argmax(axis=1)
    result.issues = idx[rank_label_issues(y, probs, method)]
    result.folds = used_folds
    return result


@register("filter.label_errors")
class LabelErrors(GlobalStep):
    """Drop labelled records whose label a model trained on the other records confidently disagrees with.

    For classification data (records with ``text`` and ``label``; other records are kept
    untouched). Each labelled text is embedded with ``model`` (``default``: the packaged
    all-MiniLM-L6-v2, or a sentence-transformers folder); a logistic regression on the
    embeddings gives every record out-of-fold class probabilities (``folds``-fold stratified
    cross-validation, shuffled with ``seed``); cleanlab's confident learning flags the records
    whose given label is most likely wrong. ``method`` is cleanlab's ``filter_by``:
    ``prune_by_noise_rate`` (default) removes, for each pair of classes, as many records as the
    estimated number of flips between them, the ones with the largest margin for the other class;
    ``prune_by_class`` the lowest-confidence records of each class; ``both`` only records both
    pick; ``confident_learning`` every record counted off the diagonal of the confident joint;
    ``predicted_neq_given`` every record whose predicted class is not its label (flags the most).
    With two classes the first three flag the same records. prune_by_noise_rate (cleanlab's own
    default) is the default for its recall: on IMDB with 15% planted flips
    (bench/bench_label_noise.py, MiniLM) it finds 73% of the flips at 45% precision, against 62%
    at 54% for confident_learning and 79% at 41% for predicted_neq_given, and the flips left in
    are what a head trained to convergence memorises (its MLP head gains 6.4 accuracy points
    over the full noisy set, and ends 0.5 below training on the truly clean set).

    ``min_per_class``: classes with fewer records are not checked (kept, with a warning);
    ``folds`` shrinks to the smallest checked class when that is smaller. A drop's value is the
    out-of-fold probability of the given label, its detail the predicted label and the record's
    rank among the flagged records (1 = most confidently wrong). Writes
    ``artifacts/label_issues.jsonl`` (the flagged records, ranked) and ``artifacts/label_errors.json``
    (classes, folds used, counts, warnings).
    """

    reasons = ("label_error",)

    def __init__(
        self,
        model: str = "default",
        folds: Annotated[int, Field(ge=2)] = 5,
        seed: int = 0,
        method: Method = "prune_by_noise_rate",
        min_per_class: Annotated[int, Field(ge=2)] = 10,
    ):
        self.model = model
        self.folds = folds
        self.seed = seed
        self.method = method
        self.min_per_class = min_per_class
        self._reset()

    def _reset(self) -> None:
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._labels: list[str] = []
        self._drops: dict[str, Verdict] = {}
        self._rows: list[dict] = []  # label_issues.jsonl, ranked
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
            self._texts, self._labels, self.folds, self.seed, self.method, model=self.model, min_per_class=self.min_per_class
        )
        for note in res.warnings:
            log.warning("filter.label_errors: %s", note)
        total = len(res.issues)
        for rank, i in enumerate(res.issues.tolist(), start=1):
            given, predicted = self._labels[i], res.classes[res.predicted[i]]
            conf, p_pred = float(res.self_confidence[i]), float(res.pred_probs[i, res.predicted[i]])
            rid = self._ids[i]
            self._drops[rid] = Drop(
                "label_error",
                round(conf, 4),
                None,
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
            "method": self.method,
            "seed": self.seed,
            "model": self.model,
            "label_issues": total,
            "warnings": res.warnings,
        }
        # The texts were only needed to embed; decide needs the verdicts alone.
        self._texts = []

    def decide(self, rec: Record) -> Verdict:
        return self._drops.get(rec.id, KEEP)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if self._summary is None:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / "label_issues.jsonl", "wb") as f:
            for row in self._rows:
                f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        (out_dir / "label_errors.json").write_bytes(orjson.dumps(self._summary, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        return ["artifacts/label_issues.jsonl", "artifacts/label_errors.json"]
