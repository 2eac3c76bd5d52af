"""Which records must stay together: exact duplicates, MinHash near duplicates and, optionally, semantic ones.

Records are first collapsed into *exact groups* (same normalised text); every
later comparison is between groups, so a text repeated a thousand times is
signed, bucketed and embedded once. Near duplicates are groups that share an
LSH bucket of their MinHash signatures and whose estimated Jaccard reaches the
threshold; semantic duplicates are groups whose embeddings' cosine reaches its
threshold. Pairs are listed in *every* bucket (not a star from the bucket's
first member, as the dedup step does): a leakage check must find a pair
between two later members too, and the splitter must keep exactly those pairs
together that the check would find.

One exception keeps the cost bounded: a bucket of more than ``MAX_BUCKET``
groups (thousands of near copies of a template) is not verified pair by pair
when clustering; its members are merged outright. Over-merging costs only
cluster granularity, never leakage, and members of a bucket share ``rows``
MinHash values, which unrelated texts almost never do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import xxhash
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..curation.dedup.exact import dedup_text, normalise
from ..curation.dedup.lsh import band_multipliers, estimated_jaccard, optimal_bands, sorted_unique
from ..curation.dedup.minhash import FN_WEIGHT, FP_WEIGHT
from ..curation.dedup.shingle import minhash, shingle_hashes
from ..curation.record import Record
from ..errors import RecipeError

NGRAM = 3
NUM_PERM = 128
MINHASH_SEED = 1
MAX_BUCKET = 256
SEMANTIC_BLOCK = 2048
NEAR, SEMANTIC = 0, 1
KIND_NAMES = ("near", "semantic")
Progress = Callable[[int], None]


def compare_text(rec: Record, fields: str = "record") -> str:
    """The text two records are compared by.

    ``record`` is every text of the record *without* its label: the same input with two labels
    is still the same input, and must not sit in train and test at once.
    """
    return rec.all_text if fields == "record" else dedup_text(rec, fields)


def check_thresholds(near_dup_threshold: float, semantic_threshold: float | None) -> None:
    problems = []
    if not 0 < near_dup_threshold <= 1:
        problems.append(f"--near-dup-threshold is a Jaccard similarity: above 0 and at most 1, got {near_dup_threshold}.")
    if semantic_threshold is not None and not 0 < semantic_threshold <= 1:
        problems.append(
            f"--semantic-threshold is a cosine similarity: above 0 and at most 1, got {semantic_threshold} (0.9 finds close paraphrases)."
        )
    if problems:
        raise RecipeError(problems, "the split options")


# ---- exact groups ------------------------------------------------------------------------


@dataclass(slots=True)
class ExactGroups:
    of_record: np.ndarray  # group of each record (int64), numbered by first appearance
    first: np.ndarray  # the first record of each group; its text stands for the group

    @property
    def n_groups(self) -> int:
        return int(self.first.size)


def exact_groups(texts: Sequence[str]) -> ExactGroups:
    """Records whose normalised texts are equal share a group."""
    index: dict[int, int] = {}
    of = np.empty(len(texts), dtype=np.int64)
    first: list[int] = []
    for i, text in enumerate(texts):
        key = xxhash.xxh3_128_intdigest(normalise(text).encode("utf-8", "surrogatepass"))
        g = index.setdefault(key, len(first))
        if g == len(first):
            first.append(i)
        of[i] = g
    return ExactGroups(of, np.asarray(first, dtype=np.int64))


# ---- MinHash near duplicates ---------------------------------------------------------------


def signatures(texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """``(len(texts), NUM_PERM)`` uint32 MinHash signatures of word 3-grams, as ``dedup.minhash`` makes them."""
    sigs = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    for i, text in enumerate(texts):
        sigs[i] = minhash(shingle_hashes(text, NGRAM, MINHASH_SEED), NUM_PERM, MINHASH_SEED)
        if progress and i % 1024 == 1023:
            progress(1024)
    if progress and len(texts) % 1024:
        progress(len(texts) % 1024)
    return sigs


def buckets(sigs: np.ndarray, threshold: float) -> Iterator[np.ndarray]:
    """Every LSH bucket of two or more rows, as ``(k, size)`` arrays holding ``k`` buckets of one size."""
    n = sigs.shape[0]
    if n < 2:
        return
    bands, rows = optimal_bands(threshold, NUM_PERM, FP_WEIGHT, FN_WEIGHT)
    # Same band hash as lsh.band_hashes, for all rows in one product (uint64 arithmetic wraps).
    band_matrix = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64) @ band_multipliers(rows, MINHASH_SEED)
    for j in range(bands):
        order = np.argsort(band_matrix[:, j], kind="stable")
        col = band_matrix[order, j]
        starts = np.flatnonzero(np.concatenate(([True], col[1:] != col[:-1])))
        lengths = np.diff(np.append(starts, n))
        for size in np.unique(lengths[lengths >= 2]).tolist():
            run_starts = starts[lengths == size]
            yield order[run_starts[:, None] + np.arange(size)]


def _pairs_within(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(a, b)`` pairs, ``a < b``, inside each row of ``members``."""
    iu, ju = np.triu_indices(members.shape[1], 1)
    a, b = members[:, iu].ravel(), members[:, ju].ravel()
    return np.minimum(a, b), np.maximum(a, b)


def _product(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.repeat(x, y.size), np.tile(y, x.size)
    return np.minimum(a, b), np.maximum(a, b)


def _cross_pairs_within(bucket: np.ndarray, home: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs inside one large bucket that can cross splits, without listing the pairs inside one split.

    ``home`` is each group's split, -1 for a group that lies in several (it can leak with anything).
    """
    h = home[bucket]
    values = np.unique(h[h >= 0]).tolist()
    parts = [_product(bucket[h == s], bucket[h == t]) for i, s in enumerate(values) for t in values[i + 1 :]]
    mixed = bucket[h == -1]
    if mixed.size:
        parts.append(_product(mixed, bucket[h >= 0]))
        parts.append(_pairs_within(mixed[None, :]))
    return parts


def _unique_pairs(a: list[np.ndarray], b: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    if not a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    key = sorted_unique(np.concatenate(a).astype(np.int64) * n + np.concatenate(b).astype(np.int64))
    return key // n, key % n


@dataclass(slots=True)
class Pairs:
    a: np.ndarray  # int64 group indices, a < b
    b: np.ndarray
    similarity: np.ndarray  # float64
    kind: np.ndarray  # uint8: NEAR or SEMANTIC

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint8))

    def __len__(self) -> int:
        return int(self.a.size)


def near_pairs(sigs: np.ndarray, threshold: float, home: np.ndarray | None = None) -> tuple[Pairs, np.ndarray, np.ndarray]:
    """Verified near-duplicate pairs, and the unverified edges of oversize buckets (clustering only).

    ``home``: for a leakage check, each group's split (-1 for a group in several splits); only
    pairs that can cross splits are listed then, and oversize buckets are verified too, since a
    report cannot merge what it does not check.
    """
    n = sigs.shape[0]
    cand_a, cand_b, star_a, star_b = [], [], [], []
    for members in buckets(sigs, threshold):
        if members.shape[1] <= MAX_BUCKET:
            a, b = _pairs_within(members)
            if home is not None:
                can_cross = (home[a] != home[b]) | (home[a] == -1)
                a, b = a[can_cross], b[can_cross]
            cand_a.append(a)
            cand_b.append(b)
        elif home is not None:
            for bucket in members:
                for a, b in _cross_pairs_within(bucket, home):
                    cand_a.append(a)
                    cand_b.append(b)
        else:
            star_a.append(np.repeat(members[:, :1], members.shape[1] - 1, axis=1).ravel())
            star_b.append(members[:, 1:].ravel())
    a, b = _unique_pairs(cand_a, cand_b, n)
    jac = estimated_jaccard(sigs, a, b)
    ok = jac >= threshold
    merged_a = np.concatenate(star_a) if star_a else np.empty(0, np.int64)
    merged_b = np.concatenate(star_b) if star_b else np.empty(0, np.int64)
    return Pairs(a[ok], b[ok], jac[ok], np.full(int(ok.sum()), NEAR, np.uint8)), merged_a, merged_b


# ---- semantic near duplicates --------------------------------------------------------------


def semantic_pairs(vectors: np.ndarray, threshold: float, home: np.ndarray | None = None) -> Pairs:
    """Pairs whose (L2-normalised) vectors have cosine >= threshold, by blocks of the full product.

    Exact, not approximate (unlike ``dedup.semantic``'s k-means buckets): a leakage check that
    misses pairs would be worse than a slow one. Cost is quadratic: about a minute for 50,000 texts.
    """
    n = vectors.shape[0]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    a_parts, b_parts, s_parts = [], [], []
    for i0 in range(0, n, SEMANTIC_BLOCK):
        for j0 in range(i0, n, SEMANTIC_BLOCK):
            sims = vectors[i0 : i0 + SEMANTIC_BLOCK] @ vectors[j0 : j0 + SEMANTIC_BLOCK].T
            ii, jj = np.nonzero(sims >= threshold)
            a, b = ii + i0, jj + j0
            keep = a < b
            if home is not None:
                keep &= (home[a] != home[b]) | (home[a] == -1)
            a_parts.append(a[keep])
            b_parts.append(b[keep])
            s_parts.append(sims[ii[keep], jj[keep]].astype(np.float64))
    if not a_parts:
        return Pairs.empty()
    a, b = np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)
    return Pairs(a, b, np.minimum(np.concatenate(s_parts), 1.0), np.full(a.size, SEMANTIC, np.uint8))


def _merge(near: Pairs, semantic: Pairs, n: int) -> Pairs:
    """One pair list; a pair that is both near and semantic counts as near (the cheaper, surer evidence)."""
    if not len(semantic):
        return near
    near_keys = near.a * n + near.b
    new = ~np.isin(semantic.a * n + semantic.b, near_keys)
    return Pairs(
        np.concatenate((near.a, semantic.a[new])),
        np.concatenate((near.b, semantic.b[new])),
        np.concatenate((near.similarity, semantic.similarity[new])),
        np.concatenate((near.kind, semantic.kind[new])),
    )


# ---- putting it together ---------------------------------------------------------------------


@dataclass(slots=True)
class Duplicates:
    """Exact groups, and the near/semantic pairs between groups."""

    groups: ExactGroups
    pairs: Pairs
    merged_a: np.ndarray  # unverified edges from oversize buckets (empty in a leakage check)
    merged_b: np.ndarray

    def record_clusters(self) -> np.ndarray:
        """Cluster of each record (exact groups joined by every pair), numbered by first appearance."""
        g = self.groups.n_groups
        a = np.concatenate((self.pairs.a, self.merged_a))
        b = np.concatenate((self.pairs.b, self.merged_b))
        graph = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(g, g))
        _, labels = connected_components(graph, directed=False)
        of_record = labels[self.groups.of_record]
        # Renumber in order of each cluster's first record, so numbering never depends on scipy's.
        _, first = np.unique(of_record, return_index=True)
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        return rank[of_record]


def find_duplicates(
    texts: Sequence[str],
    near_dup_threshold: float = 0.7,
    semantic_threshold: float | None = None,
    embedder: Callable[..., np.ndarray] | None = None,
    split_of: np.ndarray | None = None,
    progress: Progress | None = None,
) -> Duplicates:
    """Exact groups and near/semantic pairs between them.

    ``split_of`` (the split of each record) turns this into a leakage check: only pairs that can
    cross splits are listed, and nothing is merged unverified.
    """
    groups = exact_groups(texts)
    reps = [texts[i] for i in groups.first.tolist()]
    home = None
    if split_of is not None:
        home = _group_home(groups, np.asarray(split_of, dtype=np.int64))
    sigs = signatures(reps, progress)
    pairs, merged_a, merged_b = near_pairs(sigs, near_dup_threshold, home)
    if semantic_threshold is not None:
        if embedder is None:
            raise ValueError("semantic_threshold needs an embedder")
        vectors = embedder(reps, progress)
        pairs = _merge(pairs, semantic_pairs(vectors, semantic_threshold, home), groups.n_groups)
    return Duplicates(groups, pairs, merged_a, merged_b)


def _group_home(groups: ExactGroups, split_of: np.ndarray) -> np.ndarray:
    """Each group's split, or -1 where its records lie in more than one."""
    g = groups.n_groups
    lo = np.full(g, np.iinfo(np.int64).max)
    hi = np.full(g, -1)
    np.minimum.at(lo, groups.of_record, split_of)
    np.maximum.at(hi, groups.of_record, split_of)
    return np.where(lo == hi, lo, -1)
