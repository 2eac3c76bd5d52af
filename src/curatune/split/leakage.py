"""Leakage between splits: record pairs in different splits that are exact, near or semantic duplicates.

Pairs are found between exact groups (see :mod:`.clusters`) and then expanded
to records: every cross-split pair inside an exact group is an ``exact`` pair,
and every cross-split pair of records of two similar groups is a ``near`` (or
``semantic``) pair with the groups' similarity. Counts are exact; the list of
pairs stops at ``max_pairs`` (a split with thousands of copies has millions of
pairs, and the first few thousand tell the story).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..curation.record import Record
from ..embed import load_embedder
from .clusters import KIND_NAMES, Duplicates, check_thresholds, compare_text, find_duplicates

KINDS = ("exact", "near", "semantic")
MAX_PAIRS = 10_000


@dataclass
class LeakageReport:
    sizes: dict[str, int]
    counts: dict[tuple[str, str], dict[str, int]]  # (split a, split b) -> kind -> pairs
    pairs: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    @property
    def truncated(self) -> bool:
        return len(self.pairs) < self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "sizes": self.sizes,
            "total_pairs": self.total,
            "by_split_pair": [{"splits": list(k), **v, "total": sum(v.values())} for k, v in self.counts.items()],
            "pairs_listed": len(self.pairs),
            "truncated": self.truncated,
            "pairs": self.pairs,
        }


def split_counts(dups: Duplicates, split_of: np.ndarray, n_splits: int) -> np.ndarray:
    """``(groups, splits)``: how many records of each exact group lie in each split."""
    out = np.zeros((dups.groups.n_groups, n_splits), dtype=np.int64)
    np.add.at(out, (dups.groups.of_record, split_of), 1)
    return out


def count_cross(dups: Duplicates, split_of: np.ndarray, n_splits: int) -> dict[tuple[int, int], dict[str, int]]:
    """Cross-split record pairs per split pair ``(s, t)``, ``s < t``, and kind; by arithmetic, never by listing."""
    c = split_counts(dups, split_of, n_splits)
    p = dups.pairs
    ca, cb = c[p.a], c[p.b]
    out = {}
    for s in range(n_splits):
        for t in range(s + 1, n_splits):
            counts = {"exact": int((c[:, s] * c[:, t]).sum())}
            both_ways = ca[:, s] * cb[:, t] + ca[:, t] * cb[:, s]
            for k, kind in enumerate(KIND_NAMES):
                counts[kind] = int(both_ways[p.kind == k].sum())
            out[(s, t)] = counts
    return out


def cross_split_pairs(dups: Duplicates, split_of: np.ndarray) -> Iterator[tuple[str, int, int, float]]:
    """``(kind, record i, record j, similarity)`` for every pair of records in different splits, ``split_of[i] < split_of[j]``.

    Lazy, and it only ever visits cross-split pairs: stopping after the first thousand costs a thousand.
    """
    members = _members_by_group(dups.groups.of_record)
    for group in members:
        if group.size > 1:
            for i, j in _cross(group, group, split_of):
                yield "exact", i, j, 1.0
    p = dups.pairs
    for ga, gb, sim, kind in zip(p.a.tolist(), p.b.tolist(), p.similarity.tolist(), p.kind.tolist()):
        for i, j in _cross(members[ga], members[gb], split_of):
            yield KIND_NAMES[kind], i, j, round(sim, 4)


def _members_by_group(of_record: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(of_record, kind="stable")
    bounds = np.flatnonzero(np.diff(of_record[order])) + 1
    return np.split(order, bounds)


def _cross(x: np.ndarray, y: np.ndarray, split_of: np.ndarray) -> Iterator[tuple[int, int]]:
    """Pairs (i from x, j from y) in different splits, the earlier split first. ``x is y``: each pair once."""
    sx, sy = split_of[x], split_of[y]
    for s in np.unique(sx).tolist():
        for t in np.unique(sy).tolist():
            if s == t or (x is y and s > t):
                continue
            for i in x[sx == s].tolist():
                for j in y[sy == t].tolist():
                    yield (i, j) if s < t else (j, i)


def leakage_report(
    splits: dict[str, list[Record]],
    near_dup_threshold: float = 0.7,
    semantic_threshold: float | None = None,
    embed_model: str | Callable[..., np.ndarray] = "default",
    fields: str = "record",
    max_pairs: int = MAX_PAIRS,
    progress: Callable[[int], None] | None = None,
) -> LeakageReport:
    """Every exact, near and (with ``semantic_threshold``) semantic duplicate pair across the given splits."""
    check_thresholds(near_dup_threshold, semantic_threshold)
    names = list(splits)
    records = [r for name in names for r in splits[name]]
    split_of = np.repeat(np.arange(len(names)), [len(splits[n]) for n in names])
    texts = [compare_text(r, fields) for r in records]
    embedder = resolve_embedder(embed_model) if semantic_threshold is not None else None
    dups = find_duplicates(texts, near_dup_threshold, semantic_threshold, embedder, split_of=split_of, progress=progress)
    settings = {"near_dup_threshold": near_dup_threshold, "semantic_threshold": semantic_threshold, "fields": fields}
    return build_report(dups, records, split_of, names, settings, max_pairs)


def build_report(
    dups: Duplicates, records: list[Record], split_of: np.ndarray, names: list[str], settings: dict[str, Any], max_pairs: int = MAX_PAIRS
) -> LeakageReport:
    split_of = np.asarray(split_of, dtype=np.int64)
    counts = {
        (names[s], names[t]): dict(sorted(c.items(), key=lambda kv: KINDS.index(kv[0])))
        for (s, t), c in count_cross(dups, split_of, len(names)).items()
    }
    listed = [
        {
            "kind": kind,
            "split_a": names[split_of[i]],
            "id_a": records[i].id,
            "split_b": names[split_of[j]],
            "id_b": records[j].id,
            "similarity": sim,
        }
        for kind, i, j, sim in itertools.islice(cross_split_pairs(dups, split_of), max_pairs)
    ]
    order = {n: k for k, n in enumerate(names)}
    listed.sort(key=lambda p: (order[p["split_a"]], order[p["split_b"]], KINDS.index(p["kind"]), -p["similarity"], p["id_a"], p["id_b"]))
    sizes = {n: int((split_of == k).sum()) for k, n in enumerate(names)}
    return LeakageReport(sizes, counts, listed, settings)


def resolve_embedder(embed_model: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """An embedder object is used as it is (tests pass a fake); a name or folder is loaded."""
    if callable(embed_model):
        return embed_model
    return load_embedder(embed_model)
