"""Assign whole clusters to splits, stratified, as close to the requested sizes as the clusters allow.

Targets first: each split's size is the largest-remainder rounding of its
fraction of the records, and each split's size is shared out over the strata
the same way (so with only single-record clusters every split and every
stratum within it is hit exactly). Then, stratum by stratum, clusters are
placed largest first (ties in an order drawn from the seed) into the split
whose error ``|size - target|`` the cluster reduces most; among equals, the
split that is proportionally furthest from its target, so large clusters
spread over the splits instead of all landing in train.

Bound: a split only takes a cluster that overshoots its target when every
split is short by less than that cluster, and a split over its target never
takes another. So within a stratum, a split ends at most ``k - 1`` over its
target (``k`` the largest cluster it took) and at most the other splits'
overshoot under it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..curation.record import Record

NO_STRATUM = "(none)"


def stratum_of(rec: Record, key: str | None) -> str | None:
    """The record's value of the stratification key: its label, a ``meta`` field, or an input field kept in ``meta['extra']``."""
    if key is None:
        return None
    if key == "label":
        value = rec.label
    elif key == "kind":
        value = rec.kind
    else:
        value = rec.meta.get(key)
        if value is None:
            value = (rec.meta.get("extra") or {}).get(key)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def majority(values: Sequence[str | None]) -> str:
    """The most common value (ties: the one seen first); records without one count only when all lack it."""
    present = [v for v in values if v is not None]
    if not present:
        return NO_STRATUM
    return Counter(present).most_common(1)[0][0]


def apportion(total: int, weights: Sequence[float], caps: Sequence[int] | None = None) -> list[int]:
    """``total`` shared out in proportion to ``weights`` by largest remainder, never above ``caps``.

    Ties in the remainder go to the larger weight, then the earlier entry: deterministic.
    """
    w = np.asarray(weights, dtype=np.float64)
    caps_arr = np.asarray(caps if caps is not None else [total] * len(w), dtype=np.int64)
    if total <= 0 or w.sum() <= 0:
        return [0] * len(w)
    quota = total * w / w.sum()
    out = np.minimum(np.floor(quota).astype(np.int64), caps_arr)
    order = sorted(range(len(w)), key=lambda i: (-(quota[i] - np.floor(quota[i])), -w[i], i))
    left = total - int(out.sum())
    while left > 0:
        progressed = False
        for i in order:
            if left and out[i] < caps_arr[i]:
                out[i] += 1
                left -= 1
                progressed = True
        if not progressed:  # every entry at its cap: the caps hold less than total
            break
    return out.tolist()


def targets(stratum_sizes: dict[str, int], fractions: dict[str, float]) -> dict[str, dict[str, int]]:
    """``targets[split][stratum]``: records of each stratum each split should get.

    The first split (train) takes what the others leave, so each stratum adds up to its size.
    """
    names = list(fractions)
    strata = list(stratum_sizes)
    sizes = [stratum_sizes[s] for s in strata]
    totals = apportion(sum(sizes), [fractions[n] for n in names])
    room = list(sizes)
    out: dict[str, dict[str, int]] = {}
    for name, total in zip(names[1:], totals[1:]):
        share = apportion(total, sizes, room)
        out[name] = dict(zip(strata, share))
        room = [r - s for r, s in zip(room, share)]
    return {names[0]: dict(zip(strata, room)), **out}


def assign_clusters(sizes: np.ndarray, strata: Sequence[str], target: dict[str, dict[str, int]], seed: int) -> np.ndarray:
    """The split (index into ``target``'s keys) of each cluster."""
    names = list(target)
    tie = np.random.default_rng(seed).permutation(len(sizes))
    order = np.lexsort((tie, -np.asarray(sizes)))  # largest first; equal sizes in the seed's order
    out = np.empty(len(sizes), dtype=np.int64)
    have = {s: np.zeros(len(names), dtype=np.int64) for s in set(strata)}
    goal = {s: np.array([target[n].get(s, 0) for n in names], dtype=np.int64) for s in have}
    for c in order.tolist():
        s, k = strata[c], int(sizes[c])
        out[c] = _best_split(have[s], goal[s], k)
        have[s][out[c]] += k
    return out


def _best_split(have: np.ndarray, goal: np.ndarray, k: int) -> int:
    short = goal - have
    gain = np.abs(short - k) - np.abs(short)  # change of the split's error if it takes the cluster
    # Relative shortfall breaks ties (a split with no target never wins one); then the earlier split.
    relative = np.where(goal > 0, short / np.maximum(goal, 1), -np.inf)
    return int(np.lexsort((np.arange(len(goal)), -relative, gain))[0])
