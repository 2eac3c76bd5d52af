"""Near-duplicate deduplication: MinHash signatures, LSH banding, clusters, one record kept per cluster."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from pydantic import Field

from ...errors import RecipeError
from ..compact import IdTable, SpillBuffer
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict
from .exact import check_keep, dedup_text, record_score
from .lsh import band_hashes, candidate_pairs, clusters, estimated_jaccard, optimal_bands
from .shingle import minhash, minhash_rensa, shingle_hashes, word_signatures

FP_WEIGHT, FN_WEIGHT = 0.1, 0.9


def compact(signature: np.ndarray) -> np.ndarray:
    """What the step keeps of a signature to verify pairs: the high 16 bits of each value (the
    best-mixed part of a multiplicative hash)."""
    return (signature >> 16).astype(np.uint16)


@register("dedup.minhash")
class MinHashDedup(GlobalStep):
    """Drop near duplicates: records whose word (or character) n-gram Jaccard similarity to another is at least ``threshold``.

    Each record's normalised ``fields`` text (``record``, ``prompt`` or ``response``, as in
    ``dedup.exact``) becomes ``ngram``-gram shingles and a MinHash signature of ``num_perm``
    values. ``shingle: word`` (the default) shingles words (punctuation removed); ``shingle: char``
    shingles characters of the normalised text (whitespace runs as one space, punctuation kept;
    ``ngram`` then counts characters). ``shingle: char, ngram: 3`` is the paraphrase-leaning option:
    it ranks reworded pairs closer than word 3-grams do (MRPC ROC AUC 0.755 against 0.653) and
    survives typos, but its scores run higher (unrelated 2,000-character texts share about 0.3 of
    their character 3-grams, 8,000-character ones about 0.46), so deduplicate with it at
    ``threshold: 0.85`` (bench/bench_mrpc.py measures the trade-off) and it costs about twice the time.
    Records that share a band of the signature (``bands`` x ``rows``; by default the pair that
    minimises false positives and negatives at ``threshold`` as datasketch chooses them, with misses
    weighted 9 to 1 because candidates are verified) are candidates;
    a candidate pair counts when the Jaccard estimated from the signatures is >= ``threshold``.
    Pairs join into clusters; of each cluster the ``first`` record, the ``longest``, or the one with
    the highest ``meta["scores"][score_key]`` (``quality``) is kept, and every other member is dropped
    as ``near_duplicate`` with ``duplicate_of`` the kept record and ``value`` its estimated Jaccard to it.
    Clusters go to ``artifacts/near_duplicate_clusters.jsonl``.

    Workers compute the signatures; the main process keeps ``bands`` uint64 and ``num_perm`` uint16
    values per record (the high 16 bits of each MinHash value: two different values agree by
    chance 1 time in 65,536, a bias of about 1e-5 on the estimated Jaccard), about 420 bytes a record with the defaults.
    """

    decides_by_id = True  # verdicts by id from finish (or observe)
    reasons = ("near_duplicate",)

    def __init__(
        self,
        fields: Literal["record", "prompt", "response"] = "record",
        threshold: Annotated[float, Field(gt=0, le=1)] = 0.7,
        ngram: Annotated[int, Field(ge=1, le=32)] = 3,
        shingle: Literal["word", "char"] = "word",
        num_perm: Annotated[int, Field(ge=8, le=1024)] = 128,
        bands: Annotated[int, Field(ge=1)] | None = None,
        rows: Annotated[int, Field(ge=1)] | None = None,
        keep: Literal["first", "longest", "quality"] = "first",
        score_key: str | None = None,
        seed: int = 1,
        backend: Literal["numpy", "rensa"] = "numpy",
    ):
        self.fields = fields
        self.threshold = threshold
        self.ngram = ngram
        self.shingle = shingle
        self.num_perm = num_perm
        self.bands = bands
        self.rows = rows
        self.keep = keep
        self.score_key = score_key
        self.seed = seed
        self.backend = backend
        check_keep("dedup.minhash", keep, score_key)
        if (bands is None) != (rows is None):
            raise RecipeError(
                [
                    f"dedup.minhash: set both 'bands' and 'rows', or neither (they are chosen from the threshold). Got bands={bands!r}, "
                    f"rows={rows!r}."
                ]
            )
        if bands is not None and rows is not None and bands * rows > num_perm:
            raise RecipeError(
                [
                    f"dedup.minhash: bands x rows must be at most num_perm={num_perm}. Got {bands} x {rows} = {bands * rows}; lower them "
                    "or raise num_perm."
                ]
            )
        # Every candidate pair is verified, so a false positive costs one signature comparison while a
        # false negative loses a duplicate: weigh misses 9 to 1 (at 0.7: 20 x 6, 98% of pairs at
        # Jaccard 0.75 become candidates, against 67% with datasketch's even weights, 14 x 9).
        self._b, self._r = (
            (bands, rows) if bands is not None and rows is not None else optimal_bands(float(threshold), num_perm, FP_WEIGHT, FN_WEIGHT)
        )
        self._reset()

    # Bytes of band hashes, and of signatures, kept in memory; past it they go to a temporary file (finish reads the
    # bands back a column at a time, and the signatures of candidate pairs only): what grows with the data beyond the ids.
    spill_bytes = 64 << 20

    def _reset(self) -> None:
        self._band_buf = SpillBuffer(self.spill_bytes)  # bands x uint64 per record
        self._sig_buf = SpillBuffer(self.spill_bytes)  # num_perm x uint16 per record
        self._ids = IdTable()
        self._rank = array("d")  # length or score, for keep=longest|quality
        self._verdicts: dict[str, tuple[str, float]] = {}
        self._clusters: list[dict] = []

    def __getstate__(self) -> dict:
        # Workers need the parameters, not the collected state.
        state = dict(self.__dict__)
        state.update(_band_buf=None, _sig_buf=None, _ids=None, _rank=array("d"), _verdicts={}, _clusters=[])
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._band_buf, self._sig_buf, self._ids = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes), IdTable()

    # ---- per record, in the workers -----------------------------------------------------------
    def signature(self, text: str) -> np.ndarray:
        """The uint32 MinHash signature of one text."""
        h = shingle_hashes(text, self.ngram, self.seed, self.shingle)
        return minhash_rensa(h, self.num_perm, self.seed) if self.backend == "rensa" else minhash(h, self.num_perm, self.seed)

    def prepare(self, rec: Record) -> tuple[bytes, bytes, int]:
        text = dedup_text(rec, self.fields)
        sig = self.signature(text)
        return band_hashes(sig, self._b, self._r, self.seed).tobytes(), compact(sig).tobytes(), len(text)

    def prepare_batch(self, recs: list[Record]) -> list[tuple[bytes, bytes, int]]:
        """``prepare`` of each record, the word-shingle numpy signatures computed for the whole batch at once."""
        if self.shingle != "word" or self.backend != "numpy" or len(recs) < 2:
            return [self.prepare(r) for r in recs]
        texts = [dedup_text(r, self.fields) for r in recs]
        sigs = word_signatures(texts, self.ngram, self.num_perm, self.seed)
        bands = band_hashes(sigs, self._b, self._r, self.seed)
        small = compact(sigs)
        return [(bands[i].tobytes(), small[i].tobytes(), len(t)) for i, t in enumerate(texts)]

    # ---- in the main process --------------------------------------------------------------------
    def observe(self, rec: Record, prepared) -> None:
        bands, sig, n = prepared if prepared is not None else self.prepare(rec)
        self._band_buf.append(bands)
        self._sig_buf.append(sig)
        self._ids.append(rec.id)
        if self.keep == "longest":
            self._rank.append(n)
        elif self.keep == "quality":
            self._rank.append(record_score(rec, self.score_key))

    def finish(self) -> None:
        n = len(self._ids)
        if n == 0:
            return  # nothing observed since the last finish: its verdicts stand
        ids, rank_buf = self._ids, self._rank
        band_buf, sig_buf = self._band_buf, self._sig_buf
        band_matrix = band_buf.columns(np.uint64, (n, self._b))  # (read a band at a time: candidate_pairs)
        sigs = sig_buf.rows(np.uint16, (n, self.num_perm))  # (only the rows of candidate pairs are read)
        # decide only needs the verdicts: the collected state is freed when finish returns.
        self._band_buf, self._sig_buf = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes)
        self._ids, self._rank = IdTable(), array("d")
        try:
            self._cluster(ids, rank_buf, band_matrix, sigs)
        finally:
            del band_matrix, sigs
            band_buf.close()
            sig_buf.close()

    def _cluster(self, ids: IdTable, rank_buf: array, band_matrix: Any, sigs: Any) -> None:
        self._verdicts, self._clusters = {}, []
        a, b = candidate_pairs(band_matrix)
        ok = estimated_jaccard(sigs, a, b) >= self.threshold
        nodes, labels = clusters(a[ok], b[ok])  # nodes: ascending record indices
        if nodes.size == 0:
            return
        # Kept member of each cluster: highest rank (length or score), then the earliest record.
        rank = np.zeros(nodes.size) if self.keep == "first" else -np.frombuffer(rank_buf, dtype=np.float64)[nodes]
        order = np.lexsort((nodes, rank, labels))
        sorted_labels = labels[order]
        firsts = np.flatnonzero(np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1])))
        kept_of_label = np.empty(labels.max() + 1, dtype=np.int64)
        kept_of_label[sorted_labels[firsts]] = nodes[order[firsts]]
        kept = kept_of_label[labels]
        to_kept = estimated_jaccard(sigs, nodes, kept)

        # Clusters in the order of their kept record, members in input order.
        by_label = np.argsort(labels, kind="stable")
        grouped = labels[by_label]
        bounds = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1], [True])))
        groups = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            members = by_label[start:end]
            k = int(kept[members[0]])
            groups.append((k, [(int(nodes[i]), round(float(to_kept[i]), 4)) for i in members if nodes[i] != k]))
        groups.sort()
        for k, dups in groups:
            for i, jac in dups:
                self._verdicts[ids[i]] = (ids[k], jac)
            self._clusters.append({"kept": ids[k], "duplicates": [ids[i] for i, _ in dups], "jaccard": [jac for _, jac in dups]})

    def decide(self, rec: Record) -> Verdict:
        hit = self._verdicts.get(rec.id)
        if hit is None:
            return KEEP
        kept_id, jac = hit
        detail = None if jac >= self.threshold else "joined to the kept record through other near duplicates"
        return Drop("near_duplicate", value=jac, threshold=self.threshold, duplicate_of=kept_id, detail=detail)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not self._clusters:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "near_duplicate_clusters.jsonl"
        with open(path, "wb") as f:
            for c in self._clusters:
                f.write(orjson.dumps(c, option=orjson.OPT_APPEND_NEWLINE))
        return [f"artifacts/{path.name}"]

    @property
    def band_params(self) -> tuple[int, int]:
        """The ``(bands, rows)`` in use: the given ones, or those chosen from the threshold."""
        return self._b, self._r
