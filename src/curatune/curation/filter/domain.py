"""Domain relevance: score every record for how well it fits the user's domain, and drop or flag the rest.

The user gives the domain one of three ways:

- ``examples``: a handful (5 to 50) of in-domain texts, inline in the recipe or
  in ``examples_file`` (any format curatune reads). A record's score is its
  mean cosine similarity to its ``k`` most similar examples. The default
  threshold comes from the examples themselves: each example is scored
  against the others, and a record less similar to the examples than
  ``median - 3 x MAD`` of those scores is off-domain (for 20 examples of one
  domain this lands between in-domain and unrelated text; set ``threshold``
  to override).
- ``description``: a sentence or two ("questions about contract law").
  Scores are cosine similarities to it; with no ``threshold`` the dataset's
  own scores are split where they separate best (Otsu), and only when they
  form two clear groups (a valley in their histogram at the cut, Ashman's
  D >= 2): a dataset that is all in the domain loses nothing.
- ``labelled_file``: records labelled in or out of the domain (``label``
  equal to ``in_label`` or not); a logistic regression on their embeddings
  gives each record's probability of being in the domain (threshold 0.5).

The scores, the threshold and how it was chosen, and the lowest-scored
records are in ``artifacts/domain_relevance.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from ...errors import RecipeError
from ..embedding_step import EmbeddingStep
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Verdict


def top_k_similarity(emb: np.ndarray, refs: np.ndarray, k: int) -> np.ndarray:
    """Mean cosine similarity of each row to its k most similar reference rows."""
    sims = emb @ refs.T
    k = max(1, min(k, refs.shape[0]))
    if k == refs.shape[0]:
        return sims.mean(axis=1)
    return np.sort(np.partition(sims, -k, axis=1)[:, -k:], axis=1).mean(axis=1)


def leave_one_out_threshold(refs: np.ndarray, k: int) -> float:
    """median - 3 MAD of each example's similarity to the other examples (a robust lower bound of in-domain)."""
    if len(refs) < 3:
        raise RecipeError(["filter.domain needs at least 3 examples to set its own threshold; add examples or set 'threshold'."])
    sims = refs @ refs.T
    np.fill_diagonal(sims, -np.inf)
    kk = max(1, min(k, len(refs) - 1))
    loo = np.sort(sims, axis=1)[:, -kk:].mean(axis=1)
    med = float(np.median(loo))
    mad = float(np.median(np.abs(loo - med))) * 1.4826
    return med - 3 * mad


def bimodal_threshold(scores: np.ndarray, bins: int = 40) -> tuple[float | None, float]:
    """(Otsu's cut of the scores, or None when they do not form two groups; Ashman's D of the two sides).

    Otsu always finds a cut, and the two halves of any spread look apart, so the
    cut is used only when the histogram also has a valley there: its lowest
    (smoothed) bin between the two sides' highest is at most a quarter of the
    lower of those peaks. A bell-shaped or flat spread of scores has no such valley.
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(s)
    if n < 10 or s[0] == s[-1]:
        return None, 0.0
    csum = np.cumsum(s)
    i = np.arange(1, n)  # left side = s[:i]
    m1, m2 = csum[:-1] / i, (csum[-1] - csum[:-1]) / (n - i)
    best = int(np.argmax(i * (n - i) * (m1 - m2) ** 2))
    left, right = s[: best + 1], s[best + 1 :]
    d = float(np.sqrt(2) * abs(right.mean() - left.mean()) / np.sqrt(left.var() + right.var() + 1e-12))
    cut = float((s[best] + s[best + 1]) / 2)
    hist, edges = np.histogram(s, bins=bins)
    smooth = np.convolve(np.pad(hist, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    centres = (edges[:-1] + edges[1:]) / 2
    lo, hi = np.flatnonzero(centres < cut), np.flatnonzero(centres >= cut)
    if len(lo) == 0 or len(hi) == 0:
        return None, d
    peak_l = lo[np.argmax(smooth[lo])]
    peak_r = hi[np.argmax(smooth[hi])]
    valley = smooth[peak_l : peak_r + 1].min()
    two_groups = d >= 2 and valley <= 0.25 * min(smooth[peak_l], smooth[peak_r])
    return (cut if two_groups else None), d


@register("filter.domain")
class DomainRelevance(EmbeddingStep):
    """Drop (or flag) records far from the user's domain, given by examples, a description or a labelled sample.

    ``examples`` / ``examples_file``: in-domain texts; ``description``: the domain in words;
    ``labelled_file`` with ``in_label``: records labelled in or out. ``threshold``: the score under
    which a record is off-domain (default: chosen from the examples or the data, see the module doc).
    ``fields``: the text scored (``record``, ``prompt`` or ``response``). ``k``: examples averaged per record.
    """

    reasons = ("off_domain",)
    contract_params = {"description": "questions about geography and the capitals of countries"}

    def __init__(
        self,
        examples: list[str] | None = None,
        examples_file: str | None = None,
        description: str | None = None,
        labelled_file: str | None = None,
        in_label: str = "in",
        threshold: float | None = None,
        k: Annotated[int, Field(ge=1)] = 5,
        fields: Literal["record", "prompt", "response"] = "record",
        model: str = "default",
    ):
        self.examples = examples
        self.examples_file = examples_file
        self.description = description
        self.labelled_file = labelled_file
        self.in_label = in_label
        self.threshold = threshold
        self.k = k
        self.fields = fields
        self.model = model
        if not (examples or examples_file or description or labelled_file):
            raise RecipeError(
                [
                    "filter.domain needs the domain: set 'examples' (a few in-domain texts), 'examples_file', 'description' or "
                    "'labelled_file'."
                ]
            )
        self._reset()

    def _reference(self) -> tuple[str, list[str], list[str | None] | None]:
        """(method, texts, labels or None) from the parameters; an error when the domain is not given."""
        if self.labelled_file:
            recs = _read_texts(self.labelled_file, self.fields, labelled=True)
            texts = [t for t, _ in recs]
            labels = [lab for _, lab in recs]
            if not any(lab == self.in_label for lab in labels) or all(lab == self.in_label for lab in labels):
                raise RecipeError(
                    [f"filter.domain: {self.labelled_file} needs records labelled '{self.in_label}' and records labelled otherwise."]
                )
            return "labelled", texts, labels
        texts = list(self.examples or [])
        if self.examples_file:
            texts += [t for t, _ in _read_texts(self.examples_file, self.fields, labelled=False)]
        if texts:
            return "examples", texts, None
        return "description", [self.description or ""], None

    def decide_all(self, emb: np.ndarray) -> None:
        self._scores = np.zeros(len(self._ids), dtype=np.float32)
        self._cut: float | None = None
        self._how = "nothing to score"
        if not self._ids:
            return
        method, texts, labels = self._reference()
        refs = self.embed(texts)
        if method == "labelled":
            from sklearn.linear_model import LogisticRegression

            assert labels is not None, "the labelled method comes with labels"
            y = np.array([lab == self.in_label for lab in labels], dtype=int)
            clf = LogisticRegression(max_iter=1000, class_weight="balanced").fit(refs, y)
            self._scores = clf.predict_proba(emb)[:, 1].astype(np.float32)
            self._cut, self._how = (self.threshold if self.threshold is not None else 0.5), "probability of the in-domain class"
        else:
            self._scores = top_k_similarity(emb, refs, self.k).astype(np.float32)
            if self.threshold is not None:
                self._cut, self._how = self.threshold, "set in the recipe"
            elif method == "examples":
                self._cut = leave_one_out_threshold(refs, self.k)
                self._how = f"median - 3 MAD of the {len(refs)} examples' similarity to each other"
            else:
                self._cut, d = bimodal_threshold(self._scores)
                self._how = (
                    f"Otsu split of the data's scores (Ashman's D = {d:.2f})"
                    if self._cut is not None
                    else ("none: the data's scores form one group (no valley between two peaks); set 'threshold' to cut")
                )
        self._method = method

    def decide(self, rec: Record) -> Verdict:
        row = self._row[rec.id]
        score = float(self._scores[row])
        if self._cut is not None and score < self._cut:
            return Drop(
                "off_domain", round(score, 4), round(float(self._cut), 4), detail=f"similarity to the domain {score:.3f} < {self._cut:.3f}"
            )
        return KEEP

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not getattr(self, "_ids", None) or not hasattr(self, "_scores"):
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        order = np.argsort(self._scores, kind="stable")
        hist, edges = np.histogram(self._scores, bins=20)
        report = {
            "method": self._method,
            "threshold": None if self._cut is None else round(float(self._cut), 4),
            "threshold_from": self._how,
            "records": len(self._ids),
            "below_threshold": int((self._scores < self._cut).sum()) if self._cut is not None else 0,
            "histogram": {"counts": hist.tolist(), "edges": [round(float(e), 4) for e in edges]},
            "lowest": [{"id": self._ids[i], "score": round(float(self._scores[i]), 4)} for i in order[:50]],
        }
        path = out_dir / "domain_relevance.json"
        path.write_text(json.dumps(report, indent=2))
        return [f"artifacts/{path.name}"]


def _read_texts(path: str, fields: str, labelled: bool) -> list[tuple[str, str | None]]:
    from ..dedup.exact import dedup_text
    from ..read.records import Reject, read_records

    out = []
    for item in read_records([path]):
        if isinstance(item, Reject):
            raise RecipeError(
                [f"filter.domain: {item.source} line {item.line} cannot be read ({item.reason}: {item.detail}); fix or remove that line."]
            )
        text = item.text if labelled and item.kind == "labelled" and item.text is not None else dedup_text(item, fields)
        out.append((text, item.label))
    if not out:
        raise RecipeError([f"filter.domain: {path} holds no records."])
    return out
