"""What a selection holds against the pool it came from: answer lengths, task clusters, inputs, defects.

A selector can look good on its own score and still change the data's mix: keep only long
answers, drop a whole kind of task, or keep the records whose input is a placeholder.
:func:`composition` puts the numbers side by side, and names every task cluster holding at
least ``min_pool_share`` of the pool whose share in the selection fell below a third of its
share in the pool (a cluster whose records are mostly defective is marked so: dropping it is
the point).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

# Answer-length histogram edges, in words: [0, 5), [5, 20), [20, 50), [50, 100), [100, 200), [200, inf).
WORD_EDGES = (0, 5, 20, 50, 100, 200)
SHORT_WORDS = 20
TOP_VERBS = 12


@dataclass(frozen=True)
class Seen:
    """What the selector keeps of each record: its score, stratum, answer words, input, defects and first verb."""

    score: float | None
    stratum: str
    words: int
    with_input: bool
    defects: int
    verb: str


def _bins_label(i: int) -> str:
    lo = WORD_EDGES[i]
    return f"{lo}-{WORD_EDGES[i + 1] - 1}" if i + 1 < len(WORD_EDGES) else f"{lo}+"


def _side(rows: list[Seen]) -> dict:
    n = len(rows)
    words = np.array([r.words for r in rows], dtype=np.int64)
    hist = np.bincount(np.searchsorted(WORD_EDGES, words, side="right") - 1, minlength=len(WORD_EDGES)) if n else np.zeros(len(WORD_EDGES))
    share = (lambda k: round(k / n, 4)) if n else (lambda k: 0.0)
    return {
        "records": n,
        "answer_words_median": float(np.median(words)) if n else 0.0,
        "share_under_20_words": share(int((words < SHORT_WORDS).sum())),
        "answer_words_histogram": {_bins_label(i): share(int(c)) for i, c in enumerate(hist)},
        "share_with_input": share(sum(r.with_input for r in rows)),
        "share_defective": share(sum(r.defects > 0 for r in rows)),
    }


def cluster_name(verbs: Counter) -> str:
    """A cluster's name: its three most common first words with their shares ("rewrite 62%, edit 9%, change 5%")."""
    total = sum(verbs.values())
    return ", ".join(f"{v or '(none)'} {c / total:.0%}" for v, c in verbs.most_common(3)) if total else ""


def composition(seen: list[Seen], selected: np.ndarray, clusters: np.ndarray | None, min_pool_share: float = 0.01) -> dict:
    """Pool against selection: lengths, inputs, defects, first verbs and task clusters (``selected``: a boolean mask)."""
    pool = seen
    chosen = [s for s, keep in zip(seen, selected.tolist()) if keep]
    out: dict[str, Any] = {"pool": _side(pool), "selected": _side(chosen)}
    n_pool, n_sel = len(pool), max(1, len(chosen))
    verbs_pool = Counter(s.verb for s in pool)
    verbs_sel = Counter(s.verb for s in chosen)
    out["verbs"] = {
        v: {"pool": round(c / n_pool, 4), "selected": round(verbs_sel[v] / n_sel, 4)} for v, c in verbs_pool.most_common(TOP_VERBS)
    }
    for v in ("rewrite", "classify"):
        out["verbs"].setdefault(
            v, {"pool": round(verbs_pool[v] / n_pool, 4) if n_pool else 0.0, "selected": round(verbs_sel[v] / n_sel, 4)}
        )
    if clusters is not None and n_pool:
        rows: list[dict[str, Any]] = []
        for c in range(int(clusters.max()) + 1 if len(clusters) else 0):
            members = np.flatnonzero(clusters == c)
            if not len(members):
                continue
            pool_share = len(members) / n_pool
            sel_share = int(selected[members].sum()) / n_sel
            defective = sum(seen[i].defects > 0 for i in members) / len(members)
            rows.append(
                {
                    "cluster": c,
                    "name": cluster_name(Counter(seen[i].verb for i in members)),
                    "pool_share": round(pool_share, 4),
                    "selected_share": round(sel_share, 4),
                    "ratio": round(sel_share / pool_share, 3),
                    "share_defective": round(defective, 4),
                }
            )
        out["clusters"] = rows
        out["clusters_below_a_third"] = [
            {**r, "defective": r["share_defective"] >= 0.5}
            for r in rows
            if r["pool_share"] >= min_pool_share and r["selected_share"] < r["pool_share"] / 3
        ]
    return out
