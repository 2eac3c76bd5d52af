"""``split_records``: cluster duplicates, assign whole clusters to stratified splits, and check the result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..curation.record import Record
from ..errors import ConsistencyError, RecipeError
from .assign import NO_STRATUM, assign_clusters, majority, stratum_of, targets
from .clusters import KIND_NAMES, Duplicates, check_thresholds, compare_text, find_duplicates
from .leakage import build_report, resolve_embedder

SPLIT_NAMES = ("train", "val", "test")
EXAMPLE_CLUSTERS = 10


@dataclass
class SplitResult:
    records: list[Record]
    names: list[str]  # the splits made, train first; a split with fraction 0 is left out
    split_of: np.ndarray  # split index of each record
    cluster_of: np.ndarray  # cluster of each record
    report: dict[str, Any]

    def by_split(self) -> dict[str, list[Record]]:
        out: dict[str, list[Record]] = {n: [] for n in self.names}
        for rec, s in zip(self.records, self.split_of.tolist()):
            out[self.names[s]].append(rec)
        return out


def fractions_for(val: float, test: float) -> dict[str, float]:
    """``{train, val, test}`` fractions, without a split of fraction 0; every problem reported at once."""
    problems = [
        f"--{name} must be at least 0 and below 1, got {value}." for name, value in (("val", val), ("test", test)) if not 0 <= value < 1
    ]
    if not problems and val + test >= 1:
        problems.append(f"--val + --test must leave something for train: {val} + {test} = {val + test:g} >= 1.")
    if problems:
        raise RecipeError(problems, "the split options")
    out = {"train": 1 - val - test, "val": val, "test": test}
    return {k: v for k, v in out.items() if k == "train" or v > 0}


def split_records(
    records: Iterable[Record],
    *,
    val: float = 0.1,
    test: float = 0.1,
    stratify: str | None = None,
    seed: int = 0,
    near_dup_threshold: float = 0.7,
    semantic_threshold: float | None = None,
    embed_model: str | Callable[..., np.ndarray] = "default",
    fields: str = "record",
    progress: Callable[[int], None] | None = None,
) -> SplitResult:
    """Train/val/test splits in which no exact, near or semantic duplicate cluster crosses splits.

    ``stratify``: ``label``, ``kind``, or a field of the records' ``meta`` (or of the input row,
    kept in ``meta['extra']``); a cluster counts under its majority value. The same records and
    seed give the same splits. ``embed_model``: a model name/folder, or an embedder (texts -> vectors).
    """
    fractions = fractions_for(val, test)
    check_thresholds(near_dup_threshold, semantic_threshold)
    records = list(records)
    names = list(fractions)
    texts = [compare_text(r, fields) for r in records]
    embedder = resolve_embedder(embed_model) if semantic_threshold is not None else None
    dups = find_duplicates(texts, near_dup_threshold, semantic_threshold, embedder, progress=progress)
    cluster_of = dups.record_clusters()

    values = [stratum_of(r, stratify) for r in records]
    if stratify is not None and records and all(v is None for v in values):
        raise RecipeError([_no_such_key(stratify, records)], "--stratify")
    members = _members(cluster_of)
    cluster_strata = [majority([values[i] for i in m]) for m in members]
    sizes = np.array([m.size for m in members], dtype=np.int64)
    stratum_sizes: dict[str, int] = {}
    for s, k in zip(cluster_strata, sizes.tolist()):
        stratum_sizes[s] = stratum_sizes.get(s, 0) + k
    goal = targets(dict(sorted(stratum_sizes.items())), fractions)  # sorted: ties never depend on input order
    split_of = assign_clusters(sizes, cluster_strata, goal, seed)[cluster_of]

    settings = {"near_dup_threshold": near_dup_threshold, "semantic_threshold": semantic_threshold, "fields": fields}
    leaks = build_report(dups, records, split_of, names, settings, max_pairs=3)
    if leaks.total:  # clusters never cross splits, so this is a bug, not a property of the data
        raise ConsistencyError(
            f"The split put {leaks.total} duplicate pairs in different splits, e.g. {leaks.pairs[:3]}. This is a bug in curatune."
        )
    report = {
        "records": len(records),
        "seed": seed,
        "fractions": fractions,
        "stratify": stratify,
        **settings,
        "sizes": {n: int((split_of == k).sum()) for k, n in enumerate(names)},
        "targets": {n: sum(goal[n].values()) for n in names},
        "distribution": _distribution(values, split_of, names, stratify),
        "clusters": _cluster_stats(dups, members, cluster_strata, values, split_of, records, names),
        "leakage": {"pairs": leaks.total, "by_split_pair": leaks.to_dict()["by_split_pair"]},
    }
    return SplitResult(records, names, split_of, cluster_of, report)


def _members(cluster_of: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(cluster_of, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(cluster_of[order])) + 1) if cluster_of.size else []


def _no_such_key(key: str, records: list[Record]) -> str:
    bookkeeping = {"source", "line", "format", "extra", "input_id", "input_id_value"}
    fields = sorted({k for r in records[:1000] for k in (*r.meta, *(r.meta.get("extra") or {}))} - bookkeeping)
    has_label = any(r.label is not None for r in records[:1000])
    known = ", ".join(["label"] * has_label + ["kind"] + fields)
    return (
        f"no record has a value for '{key}' (looked at the label, meta and the input's extra fields). Stratify by one of: {known}; or "
        "leave --stratify out."
    )


def _distribution(values: list[str | None], split_of: np.ndarray, names: list[str], key: str | None) -> dict[str, Any]:
    """Count and share of each stratum value in each split (the real values of the records, not their clusters')."""
    if key is None:
        return {}
    out: dict[str, Any] = {"key": key, "splits": {}}
    for k, name in enumerate(names):
        counts = Counter(v if v is not None else NO_STRATUM for v, s in zip(values, split_of.tolist()) if s == k)
        total = sum(counts.values())
        out["splits"][name] = {v: {"count": c, "share": round(c / total, 4)} for v, c in sorted(counts.items())}
    return out


def _cluster_stats(dups: Duplicates, members, cluster_strata, values, split_of, records, names) -> dict[str, Any]:
    """What was kept together: clusters of two or more records, the largest listed with their split."""
    multi = [m for m in members if m.size > 1]
    multi.sort(key=lambda m: (-m.size, int(m[0])))
    kinds = Counter(KIND_NAMES[k] for k in dups.pairs.kind.tolist())
    mixed = sum(1 for m in multi if len({values[i] for i in m.tolist()} - {None}) > 1)
    return {
        "total": len(members),
        "with_duplicates": len(multi),
        "records_in_them": int(sum(m.size for m in multi)),
        "largest": int(multi[0].size) if multi else 1,
        "exact_groups": dups.groups.n_groups,
        "pairs": {"near": kinds.get("near", 0), "semantic": kinds.get("semantic", 0), "merged_unverified": int(dups.merged_a.size)},
        "mixed_strata": mixed,
        "largest_clusters": [
            {"split": names[int(split_of[m[0]])], "size": int(m.size), "ids": [records[i].id for i in m[:EXAMPLE_CLUSTERS].tolist()]}
            for m in multi[:EXAMPLE_CLUSTERS]
        ],
    }
