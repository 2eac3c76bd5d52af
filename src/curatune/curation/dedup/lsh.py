"""LSH banding on MinHash signatures, vectorised: band parameters, candidate pairs, clusters.

Candidates are found by sorting each band column (``np.argsort``), never by
per-record dictionary lookups: records whose band hash is equal sit next to
each other, and every member of such a run is paired with the run's first
(earliest) record. Pairs are then verified by the Jaccard estimated from the
signatures, and the verified pairs are joined into clusters (connected
components, i.e. union-find over the pairs).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..cluster import concat_rows, split_rows
from ..compact import sorted_unique


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimising the weighted false positive and
    false negative probability mass around ``threshold``, as datasketch's ``_optimal_param`` does
    (integrals of ``1 - (1 - s**r)**b`` below and above the threshold)."""
    b = np.concatenate([np.full(num_perm // k, k) for k in range(1, num_perm + 1)])[:, None]
    r = np.concatenate([np.arange(1, num_perm // k + 1) for k in range(1, num_perm + 1)])[:, None]
    lo = np.linspace(0.0, threshold, 401)[None, :]
    hi = np.linspace(threshold, 1.0, 401)[None, :]
    fp = np.trapezoid(1 - (1 - lo**r) ** b, lo, axis=1)
    fn = np.trapezoid((1 - hi**r) ** b, hi, axis=1)
    i = int(np.argmin(fp_weight * fp + fn_weight * fn))  # first minimum: fewest bands, as datasketch
    return int(b[i, 0]), int(r[i, 0])


@lru_cache(maxsize=16)
def band_multipliers(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, rows, 3])
    return rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)


def band_hashes(signature: np.ndarray, bands: int, rows: int, seed: int = 1) -> np.ndarray:
    """One uint64 per band: a random linear combination of the band's ``rows`` signature values.

    A ``(num_perm,)`` signature gives ``(bands,)``; a ``(n, num_perm)`` matrix gives ``(n, bands)``.
    """
    lead = signature.shape[:-1]
    return signature[..., : bands * rows].reshape(*lead, bands, rows).astype(np.uint64) @ band_multipliers(rows, seed)


def candidate_pairs(band_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` index arrays, ``a < b``, of records sharing at least one band hash; each pair once.

    ``band_matrix`` is ``(n_records, bands)`` uint64. Within a bucket every record is paired with
    the bucket's earliest record only (a star, not all pairs): linear in the bucket size, and the
    clusters come out the same whenever the bucket's members are near duplicates of each other.
    """
    n = band_matrix.shape[0]
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    keys = [k for j in range(band_matrix.shape[1]) if (k := star_keys(band_matrix[:, j], n)).size]
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    key = sorted_unique(np.concatenate(keys))
    return key // n, key % n


def star_keys(col: np.ndarray, n: int) -> np.ndarray:
    """One band column's candidate pairs as keys ``a * n + b`` (``a < b``; repeats possible across columns): each
    record of a bucket of equal hashes paired with the bucket's earliest record."""
    if col.size < 2:
        return np.empty(0, np.int64)
    order = np.argsort(col, kind="stable")
    s = col[order]
    same = s[1:] == s[:-1]
    if not same.any():
        return np.empty(0, np.int64)
    is_start = np.concatenate(([True], ~same))
    run_start = np.maximum.accumulate(np.where(is_start, np.arange(col.size), 0))
    dup = np.flatnonzero(~is_start)
    # A stable sort keeps a run in record order: its start is its earliest record, below every other member.
    return order[run_start[dup]].astype(np.int64) * n + order[dup].astype(np.int64)


# ---- candidate pairs on a cluster (issue 19): band rows shuffled by hash, each bucket paired with its first record ----

_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)


def bucket_map(cols: dict, parts: int, columns: tuple[str, ...]) -> list[dict]:
    """A block's band hashes exploded into ``(band, hash, pos)`` rows, cut into ``parts`` by band and hash: the rows of
    one bucket (one band's equal hashes, from every block) meet in one part. ``columns``: the band matrices to use
    (the n-gram bands, and the part bands under ``verify: parts``: their bands numbered after the n-gram ones)."""
    band_ids, hashes, positions = [], [], []
    offset = 0
    for name in columns:
        m = cols.get(name)
        if m is None or m.size == 0:
            offset += 0 if m is None else m.shape[1]
            continue
        n, k = m.shape
        band_ids.append(np.tile(np.arange(offset, offset + k, dtype=np.int64), n))
        hashes.append(m.reshape(-1))
        positions.append(np.repeat(cols["pos"], k))
        offset += k
    if not hashes:
        empty = {"band": np.empty(0, np.int64), "hash": np.empty(0, np.uint64), "pos": np.empty(0, np.int64)}
        return [empty] * parts
    rows = {"band": np.concatenate(band_ids), "hash": np.concatenate(hashes), "pos": np.concatenate(positions)}
    mixed = rows["hash"] ^ (rows["band"].astype(np.uint64) * _BAND_MIX)
    return split_rows(rows, (mixed % np.uint64(parts)).astype(np.int64), parts)


def bucket_reduce(pieces: list[dict], columns: tuple[str, ...]) -> np.ndarray:
    """A part's candidate pairs as keys ``a << 32 | b`` (``a < b``, each once): within each bucket, every record paired
    with the bucket's earliest, as :func:`candidate_pairs` pairs them."""
    rows = concat_rows(pieces)
    if not rows or rows["pos"].size < 2:
        return np.empty(0, np.int64)
    pos = rows["pos"]
    order = np.lexsort((pos, rows["hash"], rows["band"]))
    band, h, p = rows["band"][order], rows["hash"][order], pos[order]
    same = (band[1:] == band[:-1]) & (h[1:] == h[:-1])
    if not same.any():
        return np.empty(0, np.int64)
    is_start = np.concatenate(([True], ~same))
    run_start = np.maximum.accumulate(np.where(is_start, np.arange(p.size), 0))
    dup = np.flatnonzero(~is_start)
    return sorted_unique((p[run_start[dup]] << 32) | p[dup])


def estimated_jaccard(sigs: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Fraction of equal signature values for each pair ``(a[i], b[i])``, in chunks to bound memory."""
    out = np.empty(a.size, dtype=np.float64)
    for i in range(0, a.size, chunk):
        out[i : i + chunk] = (sigs[a[i : i + chunk]] == sigs[b[i : i + chunk]]).mean(axis=1)
    return out


def clusters(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over the pairs: ``(nodes, labels)``, the sorted records in any pair and their cluster."""
    nodes = sorted_unique(np.concatenate((a, b)))
    if nodes.size == 0:
        return nodes, np.empty(0, np.int64)
    ia, ib = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    # Imported here: worker processes import this module for the signatures only, and scipy.sparse costs them 0.25 s.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(ia.size, dtype=np.int8), (ia, ib)), shape=(nodes.size, nodes.size))
    _, labels = connected_components(graph, directed=False)
    return nodes, labels
