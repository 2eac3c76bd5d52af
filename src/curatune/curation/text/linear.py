"""A small linear text classifier stored as readable weights: word n-gram features, one dot product, a sigmoid.

The models of the defect checks (refusals, truncated endings) are trained offline by scripts under
``bench/models/`` and shipped as JSON beside the filters (``resources/*.json``): ``{"bias": b,
"weights": {"feature": w, ...}, "ngram": n, ...}``. A feature is a run of up to ``ngram`` words joined
by spaces, after :func:`tokens` (lower case, straight quotes, contractions spelled out), so a weight can
be read ("unable to": +2.1) and a ledger detail can name the features that fired. Scoring a text is
one dictionary look-up per n-gram, with no numpy call: cheaper for one short text than a vectoriser.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# Contractions spelled out, so that "can't", "cannot" and "can not" are one feature.
_CONTRACTIONS = (
    (re.compile(r"\bcan'?t\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\bi'?m\b"), "i am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\bit'?s\b"), "it is"),
)
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-cased words with straight apostrophes and contractions spelled out ("I'm" -> "i", "am")."""
    t = text.lower().translate(_APOSTROPHES)
    if "'" in t or "can" in t or "won" in t:
        for pattern, repl in _CONTRACTIONS:
            t = pattern.sub(repl, t)
    return _TOKEN.findall(t)


def ngram_features(words: list[str], n: int) -> set[str]:
    """Every run of 1 to ``n`` consecutive words, joined by single spaces."""
    out = set(words)
    for k in range(2, n + 1):
        out.update(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))
    return out


@dataclass(frozen=True)
class LinearModel:
    """Weights of word n-gram features and a bias; ``probability`` is the logistic of their sum."""

    bias: float
    weights: dict[str, float]
    ngram: int
    threshold: float = 0.5
    meta: dict | None = None

    @classmethod
    def load(cls, package: str, name: str) -> LinearModel:
        data = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
        return cls(
            float(data["bias"]), {k: float(v) for k, v in data["weights"].items()}, int(data["ngram"]), float(data["threshold"]), data
        )

    def logit(self, words: list[str]) -> float:
        return self.logit_of(ngram_features(words, self.ngram))

    def probability(self, words: list[str]) -> float:
        return self.probability_of(ngram_features(words, self.ngram))

    def top_features(self, words: list[str], k: int = 3) -> list[str]:
        """The ``k`` present features with the largest positive weights: why the model fired."""
        return self.top_of(ngram_features(words, self.ngram), k)

    # The same on a set of features made by the caller (a model whose features are not word n-grams).
    def logit_of(self, features: set[str]) -> float:
        w = self.weights
        return self.bias + sum(w.get(f, 0.0) for f in features)

    def probability_of(self, features: set[str]) -> float:
        z = self.logit_of(features)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def top_of(self, features: set[str], k: int = 3) -> list[str]:
        w = self.weights
        present = [(w[f], f) for f in features if w.get(f, 0.0) > 0]
        return [f for _, f in sorted(present, reverse=True)[:k]]
