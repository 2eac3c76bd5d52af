"""Semantic deduplication (SemDeDup, Abbas et al. 2023): drop records whose meaning repeats a kept one.

Records are embedded (all-MiniLM-L6-v2 by default, cached on disk), grouped
by k-means into clusters of about ``cluster_size``, and inside each cluster
taken in keep order (``first`` seen, ``longest``, or highest ``quality``
score): a record whose cosine similarity to an already kept record of its
cluster reaches ``threshold`` is dropped and points at that record. Clustering
keeps the cost near-linear (each record is compared only inside its cluster);
the price is that a pair split across two clusters is not found, which k-means
makes rare for pairs this similar.

Cosine similarity of MiniLM embeddings: paraphrases are about 0.85-0.95,
the same question about different things 0.6-0.8. The default 0.95 drops
close paraphrases only: on the generator's templated records 0.92 already
took about 1% of the clean ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import orjson
from pydantic import Field

from ..embedding_step import EmbeddingStep
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Verdict
from .exact import check_keep, record_score


def cluster_labels(emb: np.ndarray, cluster_size: int, seed: int) -> np.ndarray:
    """k-means cluster of each row, k = n / cluster_size (one cluster for small inputs)."""
    n = len(emb)
    k = n // cluster_size
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=max(1024, 3 * k))
    return km.fit_predict(emb).astype(np.int64)


def semantic_duplicates(emb: np.ndarray, order: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the row it duplicates (-1 when kept) and that similarity.

    ``order``: rows from the one to keep first to the last; inside each cluster a
    row is dropped when its similarity to a row kept before it reaches the threshold.
    """
    n = len(emb)
    dup_of = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float32)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[np.argsort(rank[members], kind="stable")]
        vecs = emb[members]
        kept: list[int] = []  # positions in members
        kept_vecs = np.empty_like(vecs)
        for j in range(len(members)):
            if kept:
                sims = kept_vecs[: len(kept)] @ vecs[j]
                best = int(np.argmax(sims))
                if sims[best] >= threshold:
                    dup_of[members[j]] = members[kept[best]]
                    sim[members[j]] = sims[best]
                    continue
            kept_vecs[len(kept)] = vecs[j]
            kept.append(j)
    return dup_of, sim


@register("dedup.semantic")
class SemanticDedup(EmbeddingStep):
    """Drop records whose embedding is within ``threshold`` cosine similarity of a kept record's; each drop names it.

    ``fields``: the text compared (``record``, ``prompt`` or ``response``). ``keep``: which
    record of a group stays (``first``, ``longest``, or ``quality`` with ``score_key``).
    ``model``: ``default`` (packaged all-MiniLM-L6-v2) or a sentence-transformers folder.
    Groups are listed in ``artifacts/semantic_duplicate_clusters.jsonl``.
    """

    reasons = ("semantic_duplicate",)

    def __init__(
        self,
        threshold: Annotated[float, Field(gt=0, le=1)] = 0.95,
        fields: Literal["record", "prompt", "response"] = "record",
        keep: Literal["first", "longest", "quality"] = "first",
        score_key: str | None = None,
        cluster_size: Annotated[int, Field(ge=2)] = 200,
        model: str = "default",
        seed: int = 0,
    ):
        self.threshold = threshold
        self.fields = fields
        self.keep = keep
        self.score_key = score_key
        self.cluster_size = cluster_size
        self.model = model
        self.seed = seed
        check_keep("dedup.semantic", keep, score_key)
        self._reset()

    def extra_of(self, rec: Record) -> object:
        if self.keep == "quality":
            return record_score(rec, self.score_key)
        return len(self.text_of(rec)) if self.keep == "longest" else None

    def decide_all(self, emb: np.ndarray) -> None:
        n = len(self._ids)
        self._dup_of = np.full(n, -1, dtype=np.int64)
        self._sim = np.zeros(n, dtype=np.float32)
        if n < 2:
            return
        if self.keep == "first":
            order = np.arange(n)
        else:  # highest rank first; ties go to the earlier record
            order = np.lexsort((np.arange(n), -np.asarray(self._extra, dtype=np.float64)))
        labels = cluster_labels(emb, self.cluster_size, self.seed)
        self._dup_of, self._sim = semantic_duplicates(emb, order, labels, self.threshold)

    def decide(self, rec: Record) -> Verdict:
        row = self._row[rec.id]
        target = int(self._dup_of[row])
        if target < 0:
            return KEEP
        return Drop("semantic_duplicate", round(float(self._sim[row]), 4), self.threshold, duplicate_of=self._ids[target])

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not hasattr(self, "_dup_of") or not (self._dup_of >= 0).any():
            return []
        groups: dict[int, list[int]] = {}
        for row, target in enumerate(self._dup_of.tolist()):
            if target >= 0:
                groups.setdefault(target, []).append(row)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "semantic_duplicate_clusters.jsonl"
        with open(path, "wb") as f:
            for kept, rows in groups.items():
                dups = [{"id": self._ids[r], "similarity": round(float(self._sim[r]), 4)} for r in rows]
                f.write(orjson.dumps({"kept": self._ids[kept], "duplicates": dups}, option=orjson.OPT_APPEND_NEWLINE))
        return [f"artifacts/{path.name}"]
