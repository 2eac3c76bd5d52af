"""Task types without labels, and a score that is not answer length in disguise.

Two pieces the budget selector uses to keep a pool's mix of tasks:

- :func:`task_clusters`: k-means over the (normalised) embeddings of the instructions, so
  "rewrite this sentence", "classify these animals" and "write a poem" fall in different
  clusters without anyone naming them. The number of clusters, by default, grows with the
  pool (one per 200 records, 2 to 64).
- :func:`instruction_verb`: the first word of the instruction, lower-cased ("rewrite",
  "classify", "generate"): a second, readable view of the task mix for the report.
- :func:`rank_within_length`: a score's percentile rank among records whose answers are of
  about the same length (buckets of about equal counts of answer words). Quality heuristics reward long
  answers (the longest-answer selector is a strong baseline for that reason, Zhao et al. 2024,
  "Long is more for alignment"); ranked inside its length bucket, a short answer that is the
  best of the short ones ranks as high as the best long one, so a selection keeps the pool's
  answer-length mix instead of its longest answers.
"""

from __future__ import annotations

import re

import numpy as np

from ..filter._instruct_text import instruction_and_input
from ..record import Record

_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


def instruction_verb(rec: Record) -> str:
    """The instruction's first word, lower-cased ("" when it has none)."""
    instruction, _ = instruction_and_input(rec)
    m = _WORD.search(instruction[:80])
    return m.group(0).lower() if m else ""


def has_input(rec: Record) -> bool:
    """Whether the record's first user turn holds an input below its instruction (Alpaca's ``input``)."""
    return bool(instruction_and_input(rec)[1].strip())


def answer_words(rec: Record) -> int:
    return len(rec.response_text.split()) if rec.messages is not None or rec.chosen is not None else 0


def auto_clusters(n: int) -> int:
    """Clusters for a pool of n records when none is asked for: one per 200 records, 2 to 64."""
    return max(2, min(64, n // 200)) if n >= 4 else 1


def task_clusters(emb: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster of each row (0..k-1, numbered by size, largest first): k-means on the normalised embeddings."""
    n = len(emb)
    k = max(1, min(k, n))
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    # Full k-means up to 20,000 rows (under a second or two here); mini-batches above, where it would take minutes.
    km = (
        KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100)
        if n <= 20_000
        else MiniBatchKMeans(n_clusters=k, n_init=3, random_state=seed, batch_size=4096)
    )
    labels = km.fit_predict(np.asarray(emb, dtype=np.float32))
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    renumber = np.empty(k, dtype=np.int64)
    renumber[order] = np.arange(k)
    return renumber[labels]


def length_buckets(words: np.ndarray, buckets: int) -> np.ndarray:
    """Bucket of each record (0..buckets-1 at most) by answer words, about equal counts, never splitting one word count.

    Distinct word counts are taken shortest first into a bucket until it holds ``len(words) / buckets``
    records. Quantile edges would put one-word and two-word answers together wherever one-word answers
    are fewer than a bucket's share, and a score that grows with length then ranks every one-word
    answer at the bottom of that bucket (on Alpaca: 483 one-word answers, none selected).
    """
    if buckets <= 1 or len(words) == 0:
        return np.zeros(len(words), dtype=np.int64)
    values, counts = np.unique(words, return_counts=True)
    size = len(words) / buckets
    of_value = np.empty(len(values), dtype=np.int64)
    bucket, filled = 0, 0
    for i, c in enumerate(counts.tolist()):
        if filled >= size and bucket < buckets - 1:
            bucket, filled = bucket + 1, 0
        of_value[i] = bucket
        filled += c
    return of_value[np.searchsorted(values, words)]


def rank_within_length(
    scores: np.ndarray, words: np.ndarray, buckets: int, ascending: bool = False, tiebreak: np.ndarray | None = None
) -> np.ndarray:
    """Each score's percentile rank (0 worst, 1 best) among the scored records of its answer-length bucket.

    ``scores`` holds NaN for unscored records (they get NaN back). Ties share their mean rank, or, with
    ``tiebreak`` (one number per record, e.g. a seeded hash of its id), are ordered by it: short answers
    often tie (every two-word answer gets the same quality), and mean ranks would put them all at the
    middle of their bucket, below the best of any bucket without ties, so a selection would lose them.
    """
    out = np.full(len(scores), np.nan)
    bucket = length_buckets(words, buckets)
    for b in np.unique(bucket):
        rows = np.flatnonzero((bucket == b) & ~np.isnan(scores))
        if len(rows) == 0:
            continue
        values = scores[rows] if not ascending else -scores[rows]
        if tiebreak is None:
            ranks = _average_ranks(values)
        else:
            ranks = np.empty(len(rows))
            ranks[np.lexsort((tiebreak[rows], values))] = np.arange(1, len(rows) + 1)
        out[rows] = (ranks - 0.5) / len(rows)
    return out


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank (scipy's rankdata 'average', without scipy)."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    ranks = np.empty(len(values))
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_vals[end] != sorted_vals[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return ranks
