"""Selection to a budget: keep the best N records (or a fraction) that are also different from each other.

The rule is Deita's (Liu et al. 2024, "What makes good data for alignment"):
take records from the highest quality score down, and skip a candidate whose
embedding is within ``max_similarity`` cosine of a record already chosen, so
that the budget is not spent on many versions of one example. When the
similarity rule leaves the budget short, the skipped records fill it, the
one farthest from everything chosen first (k-center greedy), so a request for
N records returns N whenever the data has N records without defects.

``score_key`` names a score in ``meta["scores"]`` written by an earlier step
(``score.quality`` by default; ``score.ifd`` writes ``ifd``: higher is harder,
and Cherry LLM keeps the highest, the default order; ``ascending: true`` takes
the easiest). Records without the score rank last; with no scores at all the
order is a seeded shuffle (pure diversity). The similarity rule applies inside
a stratum. ``stratify`` splits the budget over the values of ``label``, ``language``
(``meta["language"]``), any ``meta`` key, or ``task``: clusters of the
embeddings found by k-means (:mod:`.tasks`), in proportion to their sizes
(largest remainder), and selects inside each.

Two rules keep the selection's mix close to the pool's:

- ``length_buckets`` (above 1): records are ranked by their score's percentile
  *within their answer-length bucket* (about equal counts of answer words), written as
  ``<score_key>_in_length``; a score that grows with answer length (as
  ``quality`` does) then cannot fill the budget with the longest answers.
- ``exclude_defects``: a record that ``score.quality`` found a defect in
  (``meta["scores"]["defects"]`` above 0: a placeholder input or answer, a
  refusal, a truncated answer, a missing input, a flagged duplicate...) is not
  selected (reason ``defective``), and the strata's shares are taken over the
  records that can be selected.

Every record not chosen gets a ledger entry: ``defective``, ``too_similar`` (value: the
similarity, ``duplicate_of``: the chosen record it resembles) or
``over_budget`` (value: its score, threshold: the lowest chosen score of its
stratum). ``artifacts/selection.json`` summarises the choice, with its
composition against the pool (:mod:`.composition`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import numpy as np
import xxhash
from pydantic import Field

from ..embedding_step import EmbeddingStep
from ..phases import phase
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Verdict
from .composition import Seen, composition
from .tasks import answer_words, auto_clusters, has_input, instruction_verb, rank_within_length, task_clusters

NO_STRATUM = ""


def allocate(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """Budget per stratum, proportional to its size, summing to min(budget, total) (largest remainder)."""
    total = sum(sizes.values())
    budget = min(budget, total)
    if total == 0:
        return {k: 0 for k in sizes}
    raw = {k: budget * n / total for k, n in sizes.items()}
    out = {k: min(sizes[k], math.floor(v)) for k, v in raw.items()}
    for k in sorted(sizes, key=lambda k: (-(raw[k] - math.floor(raw[k])), k)):
        if sum(out.values()) >= budget:
            break
        if out[k] < sizes[k]:
            out[k] += 1
    # Strata too small for their share hand the rest to the others.
    while sum(out.values()) < budget:
        room = [k for k in sorted(sizes) if out[k] < sizes[k]]
        out[room[0]] += 1
    return out


def deita_select(emb: np.ndarray, order: np.ndarray, budget: int, max_similarity: float, block: int = 256):
    """Rows chosen (in order), and for every row skipped as too similar: (row, nearest chosen row, similarity).

    Candidates are taken in ``order``; each block's similarities to the rows already chosen come from
    one matrix product, and those inside the block from another, so Python only walks the block.
    """
    chosen: list[int] = []
    chosen_vecs = np.empty((min(budget, len(order)), emb.shape[1]), dtype=np.float32)
    skipped: list[tuple[int, int, float]] = []
    for start in range(0, len(order), block):
        if len(chosen) >= budget:
            break
        rows = order[start : start + block]
        vecs = emb[rows]
        n0 = len(chosen)
        prior = vecs @ chosen_vecs[:n0].T if n0 else None
        inner = vecs @ vecs.T
        in_block: list[int] = []  # positions in rows chosen in this block
        for j, row in enumerate(rows.tolist()):
            if len(chosen) >= budget:
                break
            best_sim, best_row = -1.0, -1
            if prior is not None:
                k = int(np.argmax(prior[j]))
                best_sim, best_row = float(prior[j, k]), chosen[k]
            if in_block:
                sims = inner[j, in_block]
                k = int(np.argmax(sims))
                if sims[k] > best_sim:
                    best_sim, best_row = float(sims[k]), int(rows[in_block[k]])
            if best_sim >= max_similarity:
                skipped.append((row, best_row, best_sim))
                continue
            chosen_vecs[len(chosen)] = vecs[j]
            chosen.append(row)
            in_block.append(j)
    return chosen, skipped


def kcenter_fill(emb: np.ndarray, chosen: list[int], candidates: list[int], n: int) -> list[int]:
    """n more rows from candidates, each the one farthest (lowest max-similarity) from all chosen so far."""
    if n <= 0 or not candidates:
        return []
    cand = np.asarray(candidates)
    cvecs = emb[cand]
    nearest = (cvecs @ emb[chosen].T).max(axis=1) if chosen else np.full(len(cand), -1.0, dtype=np.float32)
    picked: list[int] = []
    alive = np.ones(len(cand), dtype=bool)
    for _ in range(min(n, len(cand))):
        masked = np.where(alive, nearest, np.inf)
        k = int(np.argmin(masked))
        picked.append(int(cand[k]))
        alive[k] = False
        nearest = np.maximum(nearest, cvecs @ cvecs[k])
    return picked


@register("select.budget")
class BudgetSelect(EmbeddingStep):
    """Keep the ``budget`` best records that are not near copies of each other (Deita's rule); drop the rest with their scores.

    ``budget``: a count (5000) or a fraction of the input (0.2). ``score_key`` / ``ascending``: the
    score to rank by and its direction. ``max_similarity``: cosine similarity at which a candidate
    counts as a copy of a chosen record. ``stratify``: ``label``, ``language``, a ``meta`` key, or
    ``task`` (k-means clusters of the embeddings; ``clusters``: how many, 0 for one per 200 records).
    ``length_buckets``: rank by the score's percentile within answer-length buckets (0: by the score
    itself). ``exclude_defects``: never select a record ``score.quality`` found a defect in.
    ``fields`` / ``model`` / ``max_chars``: the text embedded (cut to ``max_chars`` characters: the
    task shows in its first few sentences, and embedding time grows with length) and the model.
    """

    reasons = ("defective", "too_similar", "over_budget")
    _cluster: np.ndarray | None = None  # each record's task cluster, when stratifying by task

    def __init__(
        self,
        budget: Annotated[float, Field(gt=0)] = 0.2,
        score_key: str | None = "quality",
        ascending: bool = False,
        max_similarity: Annotated[float, Field(gt=0, le=1)] = 0.9,
        stratify: str | None = None,
        clusters: Annotated[int, Field(ge=0)] = 0,
        length_buckets: Annotated[int, Field(ge=0)] = 0,
        exclude_defects: bool = True,
        fields: Literal["record", "prompt", "response"] = "record",
        model: str = "default",
        max_chars: Annotated[int, Field(ge=0)] = 0,
        seed: int = 0,
    ):
        self.budget = budget
        self.score_key = score_key
        self.ascending = ascending
        self.max_similarity = max_similarity
        self.stratify = stratify
        self.clusters = clusters
        self.length_buckets = length_buckets
        self.exclude_defects = exclude_defects
        self.fields = fields
        self.model = model
        self.max_chars = max_chars
        self.seed = seed
        self._reset()

    def target(self, n: int) -> int:
        """Records to keep out of n: a fraction below 1, a count otherwise."""
        return min(n, int(round(self.budget * n)) if self.budget < 1 else int(self.budget))

    def text_of(self, rec: Record) -> str:
        text = super().text_of(rec)
        return text[: self.max_chars] if self.max_chars else text

    def extra_of(self, rec: Record) -> Seen:
        scores = rec.meta.get("scores") or {}
        value = scores.get(self.score_key) if self.score_key else None
        score = float(value) if isinstance(value, (int, float)) and value == value else None
        defects = scores.get("defects")
        return Seen(
            score=score,
            stratum=self._stratum(rec),
            words=answer_words(rec),
            with_input=rec.messages is not None and has_input(rec),
            defects=int(defects) if isinstance(defects, (int, float)) and defects == defects else 0,
            verb=instruction_verb(rec) if rec.messages is not None else "",
        )

    def _stratum(self, rec: Record) -> str:
        if not self.stratify or self.stratify == "task":
            return NO_STRATUM  # task clusters come from the embeddings, in decide_all
        if self.stratify == "label":
            value = rec.label
        else:
            value = rec.meta.get(self.stratify)
        return NO_STRATUM if value is None else str(value)

    def _seen(self) -> list[Seen]:
        """What :meth:`extra_of` kept per record (the base class holds it as ``list[object]``)."""
        return cast("list[Seen]", self._extra)

    def _rank_values(self, seen: list[Seen]) -> np.ndarray:
        """What records are ranked by, higher better (NaN: unscored): the score, or its rank within its length bucket."""
        scores = np.array([np.nan if s.score is None else s.score for s in seen], dtype=np.float64)
        if self.length_buckets > 1:
            words = np.array([s.words for s in seen], dtype=np.float64)
            tiebreak = np.array([xxhash.xxh64_intdigest(i.encode(), seed=self.seed) for i in self._ids], dtype=np.uint64)
            return rank_within_length(scores, words, self.length_buckets, self.ascending, tiebreak)
        return -scores if self.ascending else scores

    def _order(self, rows: list[int], value: np.ndarray) -> np.ndarray:
        """Best first: by ``value`` (higher better), unranked last, ties by a seeded hash of the id."""

        def key(r: int) -> tuple[int, float, int]:
            tie = xxhash.xxh64_intdigest(self._ids[r].encode(), seed=self.seed)
            v = value[r]
            return (1, 0.0, tie) if v != v else (0, -float(v), tie)

        return np.asarray(sorted(rows, key=key), dtype=np.int64)

    def _strata(self, emb: np.ndarray, seen: list[Seen]) -> tuple[list[str], np.ndarray | None]:
        """Each record's stratum, and its task cluster when stratifying by task.

        By task, a stratum is a task cluster, split by whether the record has an input: the selection
        then holds each cluster and the share with an input in the pool's proportions (less the
        defects). The answer-length mix is kept by the ranking (``length_buckets``), not by strata.
        """
        if self.stratify != "task":
            return [s.stratum for s in seen], None
        k = self.clusters or auto_clusters(len(seen))
        with phase(f"finding {k} task clusters", total=None):
            labels = task_clusters(emb, k, self.seed)
        self._cluster = labels
        return [f"task {c}" + (" with input" if s.with_input else "") for c, s in zip(labels.tolist(), seen)], labels

    def decide_all(self, emb: np.ndarray) -> None:
        seen = self._seen()
        n = len(self._ids)
        self._verdict: dict[int, Verdict] = {}
        self._cluster = None
        self._value = np.zeros(0)
        self._summary: dict = {"input": n}
        if n == 0:
            return
        value = self._value = self._rank_values(seen)
        stratum_of, clusters = self._strata(emb, seen)
        strata: dict[str, list[int]] = {}
        for r, s in enumerate(stratum_of):
            if self.exclude_defects and seen[r].defects:
                self._verdict[r] = Drop(
                    "defective",
                    seen[r].defects,
                    0,
                    detail=f"{seen[r].defects} defect(s) found by score.quality: a placeholder input or answer, a refusal, "
                    "a truncated answer, the question repeated, a missing input, or a duplicate or safety flag",
                )
                continue
            strata.setdefault(s, []).append(r)
        quota = allocate({s: len(rows) for s, rows in strata.items()}, self.target(n))
        per_stratum: dict[str, Any] = {}
        for s, rows in sorted(strata.items(), key=lambda kv: (len(kv[0]), kv[0])):
            order = self._order(rows, value)
            chosen, skipped = deita_select(emb, order, quota[s], self.max_similarity)
            filled = kcenter_fill(emb, chosen, [r for r, _, _ in skipped], quota[s] - len(chosen))
            selected = set(chosen) | set(filled)
            self._drop_unselected(order, selected, skipped, s, quota[s], len(rows))
            ranked = [float(value[r]) for r in selected if value[r] == value[r]]
            entry: dict = {
                "records": len(rows),
                "budget": quota[s],
                "chosen_by_score": len(chosen),
                "filled_for_diversity": len(filled),
                "too_similar": sum(1 for r, _, _ in skipped if r not in selected),
                "lowest_chosen_rank_value": round(min(ranked), 4) if ranked else None,
            }
            per_stratum[s or "all"] = entry
        if clusters is not None:
            # About a hundred cluster x input strata: the composition's clusters say what matters.
            per_stratum = {"count": len(per_stratum), "filled_for_diversity": sum(e["filled_for_diversity"] for e in per_stratum.values())}
        mask = np.ones(n, dtype=bool)
        mask[list(self._verdict)] = False
        if clusters is None and emb.ndim == 2 and emb.shape[1] and n >= 4:
            # Not stratified by task: the clusters are still found, for the report (what the selection did to the mix).
            with phase("finding task clusters for the report", total=None):
                clusters = task_clusters(emb, self.clusters or auto_clusters(n), self.seed)
        self._summary.update(
            {
                "budget": self.target(n),
                "selected": n - len(self._verdict),
                "score_key": self.score_key,
                "ranked_by": f"{self.score_key}_in_length" if self.length_buckets > 1 and self.score_key else self.score_key,
                "scored": sum(1 for s in seen if s.score is not None),
                "max_similarity": self.max_similarity,
                "stratify": self.stratify,
                "strata": per_stratum,
                "reasons": dict(Counter(v.reason for v in self._verdict.values())),
                "composition": composition(seen, mask, clusters),
            }
        )

    def _drop_unselected(self, order: np.ndarray, selected: set[int], skipped: list, s: str, quota: int, size: int) -> None:
        """The ledger verdict of every record of one stratum that was not selected."""
        seen, value = self._seen(), self._value
        ranked = [float(value[r]) for r in selected if value[r] == value[r]]
        cutoff = min(ranked) if ranked else None
        similar = {r: (t, sim) for r, t, sim in skipped if r not in selected}
        where = f" in {s}" if s else ""
        by = f"{self.score_key} rank within its answer-length bucket" if self.length_buckets > 1 else f"{self.score_key}"
        for rank, r in enumerate(order.tolist(), 1):
            if r in selected:
                continue
            if r in similar:
                t, sim = similar[r]
                self._verdict[r] = Drop("too_similar", round(sim, 4), self.max_similarity, duplicate_of=self._ids[t])
                continue
            v = value[r]
            shown = None if v != v else round(float(v) if not (self.ascending and self.length_buckets <= 1) else -float(v), 4)
            limit = None if cutoff is None else round(cutoff if not (self.ascending and self.length_buckets <= 1) else -cutoff, 4)
            score = seen[r].score
            self._verdict[r] = Drop(
                "over_budget",
                shown,
                limit,
                detail=f"rank {rank} of {size}{where} by {by}"
                + (f" (score {score:.4g})" if score is not None and self.length_buckets > 1 else "")
                + f"; {quota} chosen",
            )

    def decide(self, rec: Record) -> Verdict:
        row = self._row[rec.id]
        if self.length_buckets > 1 and self.score_key and len(self._value) and self._value[row] == self._value[row]:
            rec.meta.setdefault("scores", {})[f"{self.score_key}_in_length"] = round(float(self._value[row]), 4)
        if self._cluster is not None:
            rec.meta["task_cluster"] = int(self._cluster[row])
        return self._verdict.get(row, KEEP)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not getattr(self, "_summary", None) or not self._summary.get("input"):
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "selection.json"
        path.write_text(json.dumps(self._summary, indent=2))
        return [f"artifacts/{path.name}"]
