"""Selection to a budget: keep the best N records (or a fraction) that are also different from each other.

The rule is Deita's (Liu et al. 2024, "What makes good data for alignment"):
take records from the highest quality score down, and skip a candidate whose
embedding is within ``max_similarity`` cosine of a record already chosen, so
that the budget is not spent on many versions of one example. When the
similarity rule leaves the budget short, the skipped records fill it, the
one farthest from everything chosen first (k-center greedy), so a request for
N records returns N whenever the data has N.

``score_key`` names a score in ``meta["scores"]`` written by an earlier step
(``score.quality`` by default; ``score.ifd`` writes ``ifd``, for which lower
is easier, so ``ascending: true``). Records without the score rank last;
with no scores at all the order is a seeded shuffle (pure diversity).
``stratify`` splits the budget over the values of ``label``, ``language``
(``meta["language"]``), or any ``meta`` key, in proportion to their sizes
(largest remainder), and selects inside each.

Every record not chosen gets a ledger entry: ``too_similar`` (value: the
similarity, ``duplicate_of``: the chosen record it resembles) or
``over_budget`` (value: its score, threshold: the lowest chosen score of its
stratum). ``artifacts/selection.json`` summarises the choice.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal, cast

import numpy as np
import xxhash
from pydantic import Field

from ..embedding_step import EmbeddingStep
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Verdict

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
    counts as a copy of a chosen record. ``stratify``: ``label``, ``language``, or a ``meta`` key.
    ``fields`` / ``model``: the text embedded and the embedding model.
    """

    reasons = ("too_similar", "over_budget")

    def __init__(
        self,
        budget: Annotated[float, Field(gt=0)] = 0.2,
        score_key: str | None = "quality",
        ascending: bool = False,
        max_similarity: Annotated[float, Field(gt=0, le=1)] = 0.9,
        stratify: str | None = None,
        fields: Literal["record", "prompt", "response"] = "record",
        model: str = "default",
        seed: int = 0,
    ):
        self.budget = budget
        self.score_key = score_key
        self.ascending = ascending
        self.max_similarity = max_similarity
        self.stratify = stratify
        self.fields = fields
        self.model = model
        self.seed = seed
        self._reset()

    def target(self, n: int) -> int:
        """Records to keep out of n: a fraction below 1, a count otherwise."""
        return min(n, int(round(self.budget * n)) if self.budget < 1 else int(self.budget))

    def extra_of(self, rec: Record) -> tuple[float | None, str]:
        value = (rec.meta.get("scores") or {}).get(self.score_key) if self.score_key else None
        score = float(value) if isinstance(value, (int, float)) and value == value else None
        return score, self._stratum(rec)

    def _stratum(self, rec: Record) -> str:
        if not self.stratify:
            return NO_STRATUM
        if self.stratify == "label":
            value = rec.label
        else:
            value = rec.meta.get(self.stratify)
        return NO_STRATUM if value is None else str(value)

    def _order(self, rows: list[int]) -> np.ndarray:
        """Best first: by score (direction per ``ascending``), unscored last, ties by a seeded hash of the id."""
        extra = self._scores_and_strata()

        def key(r: int) -> tuple[int, float, int]:
            score = extra[r][0]
            tie = xxhash.xxh64_intdigest(self._ids[r].encode(), seed=self.seed)
            if score is None:
                return (1, 0.0, tie)
            return (0, score if self.ascending else -score, tie)

        return np.asarray(sorted(rows, key=key), dtype=np.int64)

    def _scores_and_strata(self) -> list[tuple[float | None, str]]:
        """What :meth:`extra_of` kept per record (the base class holds it as ``list[object]``)."""
        return cast("list[tuple[float | None, str]]", self._extra)

    def decide_all(self, emb: np.ndarray) -> None:
        extra = self._scores_and_strata()
        n = len(self._ids)
        self._verdict: dict[int, Verdict] = {}
        self._summary: dict = {"input": n}
        if n == 0:
            return
        strata: dict[str, list[int]] = {}
        for r, (_, s) in enumerate(extra):
            strata.setdefault(s, []).append(r)
        quota = allocate({s: len(rows) for s, rows in strata.items()}, self.target(n))
        per_stratum = {}
        for s, rows in sorted(strata.items()):
            order = self._order(rows)
            chosen, skipped = deita_select(emb, order, quota[s], self.max_similarity)
            filled = kcenter_fill(emb, chosen, [r for r, _, _ in skipped], quota[s] - len(chosen))
            selected = set(chosen) | set(filled)
            scores = [v for v in (extra[r][0] for r in selected) if v is not None]
            cutoff = (max(scores) if self.ascending else min(scores)) if scores else None
            similar = {r: (t, sim) for r, t, sim in skipped if r not in selected}
            for rank, r in enumerate(order.tolist(), 1):
                if r in selected:
                    continue
                if r in similar:
                    t, sim = similar[r]
                    self._verdict[r] = Drop("too_similar", round(sim, 4), self.max_similarity, duplicate_of=self._ids[t])
                else:
                    score = extra[r][0]
                    where = f" in {self.stratify}={s!r}" if self.stratify else ""
                    self._verdict[r] = Drop(
                        "over_budget",
                        None if score is None else round(score, 4),
                        None if cutoff is None else round(cutoff, 4),
                        detail=f"rank {rank} of {len(rows)}{where}; {quota[s]} chosen",
                    )
            per_stratum[s or "all"] = {
                "records": len(rows),
                "budget": quota[s],
                "chosen_by_score": len(chosen),
                "filled_for_diversity": len(filled),
                "too_similar": len(similar),
                "lowest_chosen_score" if not self.ascending else "highest_chosen_score": cutoff,
            }
        self._summary.update(
            {
                "budget": self.target(n),
                "selected": n - len(self._verdict),
                "score_key": self.score_key,
                "scored": sum(1 for e in extra if e[0] is not None),
                "max_similarity": self.max_similarity,
                "strata": per_stratum,
                "reasons": dict(Counter(v.reason for v in self._verdict.values())),
            }
        )

    def decide(self, rec: Record) -> Verdict:
        return self._verdict.get(self._row[rec.id], KEEP)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not getattr(self, "_summary", None) or not self._summary.get("input"):
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "selection.json"
        path.write_text(json.dumps(self._summary, indent=2))
        return [f"artifacts/{path.name}"]
