"""Near-duplicate deduplication: MinHash signatures, LSH banding, clusters, one record kept per cluster."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from pydantic import Field

from ...errors import RecipeError
from ..compact import IdTable, PairKeys, SpillBuffer
from ..record import Record
from ..registry import register
from ..step import KEEP, Cluster, Drop, GlobalStep, Verdict
from .exact import check_keep, dedup_text, record_score
from .lsh import band_hashes, bucket_map, bucket_reduce, clusters, estimated_jaccard, optimal_bands, star_keys
from .shingle import minhash, minhash_rensa, shingle_hashes, signatures_of_word_hashes, word_hashes, word_signatures, words

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

    ``verify: parts`` (the default for word shingles; ``signature`` is the rule above alone): a pair counts when
    the word sets of its prompts and of its answers (a record without roles: its text, and its label) are each at
    least ``part_threshold`` alike (Jaccard estimated from a ``part_perm``-value MinHash of each part's words). Pairs
    come from the n-gram bands as above and from bands of two prompt and two answer values each, which a pair shares
    only where both parts are alike. Word sets survive what word n-grams do not (a quarter of the words replaced,
    dropped or inserted, sentences reordered, typos); two parts, not the whole record, keep apart records that share a
    long context but ask and answer differently (Dolly's passages), which the whole record's n-grams merged. Of a
    cluster, only members alike to the kept record are dropped (a chain of templated records "Identify which
    instrument is string or percussion: X, Y" does not take its far end with it). Where either answer has fewer than
    ``short_answer_words`` words (a label, "billing / high", a short fact), the pair is judged by the n-gram rule
    instead: such answers are equal across many records and too short for their words to say much. Costs about 260
    more bytes a record in the main process and word signatures of the two parts in the workers.

    Validation (issue 15 continued): real Alpaca and Dolly records with edited copies made by a procedure written
    before tuning (bench/bench_neardup_dev.py, not bench/heldout): recall 0.568 against 0.408 for the 3-gram rule
    (0.835 for copies with 5-10% of their words edited), 9 originals dropped as duplicates of other originals
    against 18 (read: 3 true duplicates; templated Dolly records, and records that share a passage and have short
    answers, which the n-gram rule judges). ``part_threshold`` 0.75 is the lowest
    value that drops no more originals than the 3-gram rule did and at most 0.1% of the generator's clean records
    (15 of 16,000 at 0.75; 247 at 0.65, whose paraphrased siblings share 0.6 of their words). Figures and the
    variants tried in bench/RESULTS.md.

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
        verify: Literal["parts", "signature"] | None = None,
        part_threshold: Annotated[float, Field(gt=0, le=1)] = 0.75,
        short_answer_words: Annotated[int, Field(ge=0)] = 8,
        part_perm: Annotated[int, Field(ge=8, le=256)] = 64,
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
        self.verify = verify
        self._verify = verify or ("parts" if shingle == "word" else "signature")
        self.part_threshold = part_threshold
        self.short_answer_words = short_answer_words
        self.part_perm = part_perm
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
        if self._verify == "parts" and part_perm % 2:
            raise RecipeError([f"dedup.minhash: part_perm must be even (its bands take two values of each part). Got {part_perm}."])
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
    # Candidate pair keys held in memory at once (8 bytes each, repeats counted) before they spill (compact.PairKeys).
    pair_budget = 1 << 22

    def _reset(self) -> None:
        self._band_buf = SpillBuffer(self.spill_bytes)  # bands x uint64 per record
        self._sig_buf = SpillBuffer(self.spill_bytes)  # num_perm x uint16 per record
        self._part_band_buf = SpillBuffer(self.spill_bytes)  # part_perm // 2 x uint64 per record (verify: parts)
        self._part_sig_buf = SpillBuffer(self.spill_bytes)  # 2 x part_perm + 1 uint16 per record: prompt's, answer's, answer words
        self._ids = IdTable()
        self._rank = array("d")  # length or score, for keep=longest|quality
        self._verdicts: dict[str, tuple[str, float, float]] = {}  # id -> (kept id, similarity, the threshold it met)
        self._clusters: list[dict] = []
        self._dropped_at: list[int] = []  # the dropped records' indices (positions on a cluster)

    def __getstate__(self) -> dict:
        # Workers need the parameters, not the collected state.
        state = dict(self.__dict__)
        state.update(_band_buf=None, _sig_buf=None, _part_band_buf=None, _part_sig_buf=None, _ids=None, _rank=array("d"))
        state.update(_verdicts={}, _clusters=[], _dropped_at=[])
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._band_buf, self._sig_buf, self._ids = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes), IdTable()
        self._part_band_buf, self._part_sig_buf = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes)

    # ---- per record, in the workers -----------------------------------------------------------
    def signature(self, text: str) -> np.ndarray:
        """The uint32 MinHash signature of one text."""
        h = shingle_hashes(text, self.ngram, self.seed, self.shingle)
        return minhash_rensa(h, self.num_perm, self.seed) if self.backend == "rensa" else minhash(h, self.num_perm, self.seed)

    def parts(self, rec: Record) -> tuple[str, str]:
        """The two texts ``verify: parts`` compares: the prompt and the answer (a record without roles: its text
        and its label), or for ``fields: prompt`` / ``response`` that field and nothing."""
        if self.fields == "prompt":
            return dedup_text(rec, "prompt"), ""
        if self.fields == "response":
            return "", dedup_text(rec, "response")
        if rec.messages is not None:
            return rec.prompt_text, rec.response_text
        return rec.all_text, rec.label or ""

    def part_signatures(self, recs: list[Record]) -> tuple[np.ndarray, np.ndarray]:
        """``(bands, small)``: each record's part bands (``part_perm // 2`` uint64: two values of the prompt's word
        signature and two of the answer's per band, so a band is shared only where both parts are alike) and its two
        word-set signatures, compacted (``2 * part_perm`` uint16)."""
        prompts, answers = zip(*(self.parts(r) for r in recs)) if recs else ((), ())
        p = word_signatures(list(prompts), 1, self.part_perm, self.seed + 1)
        a = word_signatures(list(answers), 1, self.part_perm, self.seed + 1)
        return self._part_bands_and_small(p, a, self._answer_words(recs, np.array([len(words(t)) for t in answers], dtype=np.int64)))

    def _answer_words(self, recs: list[Record], counts: np.ndarray) -> np.ndarray:
        """The answers' word counts for the short-answer rule; a record without roles (its "answer" is its label), or
        a step that compares one field, has no answer to be short (65535)."""
        if self.fields != "record":
            return np.full(len(recs), 65535, dtype=np.int64)
        return np.where([r.messages is None for r in recs], 65535, counts)

    def _part_bands_and_small(self, p: np.ndarray, a: np.ndarray, answer_words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.part_perm // 2
        mixed = np.concatenate((p.reshape(-1, k, 2), a.reshape(-1, k, 2)), axis=2).reshape(p.shape[0], 2 * self.part_perm)
        words_col = np.minimum(answer_words, 65535).astype(np.uint16).reshape(-1, 1)
        return band_hashes(mixed, k, 4, self.seed + 1), np.concatenate((compact(p), compact(a), words_col), axis=1)

    def _words_are_the_parts(self, rec: Record) -> bool:
        """The words of the compared text are the prompt's, then the answer's (``dedup_text`` joins them with a line
        break: a chat record of system and user turns, then assistant turns, without a label or other fields)."""
        if self.fields != "record":
            return True
        if rec.messages is None or rec.text is not None or rec.chosen is not None or rec.rejected is not None or rec.label is not None:
            return False
        answered = False
        for m in rec.messages:
            role = m["role"]
            if role == "assistant":
                answered = True
            elif role not in ("system", "user") or answered:
                return False
        return True

    def _batch_with_parts(self, recs: list[Record]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """``(n-gram signatures, part bands, part small, text lengths)`` of a batch, each word hashed once: the parts'
        word hashes serve the n-gram signature of every record whose compared text is its two parts
        (``_words_are_the_parts``); the others are signed from their own text. Equal to ``prepare`` one by one."""
        n = len(recs)
        prompts, answers = zip(*(self.parts(r) for r in recs))
        pw = [words(t) for t in prompts]
        aw = [words(t) for t in answers]
        lp = np.fromiter(map(len, pw), dtype=np.int64, count=n)
        la = np.fromiter(map(len, aw), dtype=np.int64, count=n)
        h = word_hashes([w for ws in pw for w in ws] + [w for ws in aw for w in ws])
        total_p = int(lp.sum())
        hp, ha = h[:total_p], h[total_p:]
        p = signatures_of_word_hashes(hp, lp, 1, self.part_perm, self.seed + 1)
        a = signatures_of_word_hashes(ha, la, 1, self.part_perm, self.seed + 1)
        bands, small = self._part_bands_and_small(p, a, self._answer_words(recs, la))

        fused = np.fromiter(map(self._words_are_the_parts, recs), dtype=bool, count=n)
        sigs = np.empty((n, self.num_perm), dtype=np.uint32)
        lengths = [0] * n
        idx = np.flatnonzero(fused)
        if idx.size:
            # Record i's words: its prompt's hashes, then its answer's, gathered from h in one index array.
            sp = np.concatenate(([0], np.cumsum(lp)[:-1]))[idx]
            sa = total_p + np.concatenate(([0], np.cumsum(la)[:-1]))[idx]
            seg_start = np.stack((sp, sa), axis=1).ravel()
            seg_len = np.stack((lp[idx], la[idx]), axis=1).ravel()
            gather = np.repeat(seg_start - np.concatenate(([0], np.cumsum(seg_len)[:-1])), seg_len) + np.arange(seg_len.sum())
            sigs[idx] = signatures_of_word_hashes(h[gather], lp[idx] + la[idx], self.ngram, self.num_perm, self.seed)
            for i in idx:  # len(dedup_text(...)) without building it: the turns and the line breaks between them
                if self.fields == "record":
                    msgs = recs[i].messages or ()
                    lengths[i] = sum(len(m["content"]) for m in msgs) + max(len(msgs) - 1, 0)
                else:
                    lengths[i] = len(prompts[i]) + len(answers[i])
        rest = np.flatnonzero(~fused)
        if rest.size:
            texts = [dedup_text(recs[i], self.fields) for i in rest]
            sigs[rest] = word_signatures(texts, self.ngram, self.num_perm, self.seed)
            for i, t in zip(rest, texts):
                lengths[i] = len(t)
        return sigs, bands, small, lengths

    def prepare(self, rec: Record) -> tuple:
        text = dedup_text(rec, self.fields)
        sig = self.signature(text)
        out: tuple = (band_hashes(sig, self._b, self._r, self.seed).tobytes(), compact(sig).tobytes(), len(text))
        if self._verify == "parts":
            pb, ps = self.part_signatures([rec])
            out += (pb[0].tobytes(), ps[0].tobytes())
        return out

    def prepare_batch(self, recs: list[Record]) -> list[tuple]:
        """``prepare`` of each record, the word-shingle numpy signatures computed for the whole batch at once."""
        if self.shingle != "word" or self.backend != "numpy" or len(recs) < 2:
            return [self.prepare(r) for r in recs]
        if self._verify == "parts":
            sigs, pb, ps, lengths = self._batch_with_parts(recs)
            bands, small = band_hashes(sigs, self._b, self._r, self.seed), compact(sigs)
            return [(bands[i].tobytes(), small[i].tobytes(), lengths[i], pb[i].tobytes(), ps[i].tobytes()) for i in range(len(recs))]
        texts = [dedup_text(r, self.fields) for r in recs]
        sigs = word_signatures(texts, self.ngram, self.num_perm, self.seed)
        bands = band_hashes(sigs, self._b, self._r, self.seed)
        small = compact(sigs)
        return [(bands[i].tobytes(), small[i].tobytes(), len(t)) for i, t in enumerate(texts)]

    # ---- in the main process --------------------------------------------------------------------
    def observe(self, rec: Record, prepared) -> None:
        prepared = prepared if prepared is not None else self.prepare(rec)
        self._band_buf.append(prepared[0])
        self._sig_buf.append(prepared[1])
        if self._verify == "parts":
            self._part_band_buf.append(prepared[3])
            self._part_sig_buf.append(prepared[4])
        self._ids.append(rec.id)
        if self.keep == "longest":
            self._rank.append(prepared[2])
        elif self.keep == "quality":
            self._rank.append(record_score(rec, self.score_key))

    def _similar_pairs(self, band_matrix: Any, sigs: Any, part_bands: Any, parts: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, similarity)`` of the candidate pairs that count as near duplicates."""
        return self._verified_chunks(self._candidates(band_matrix, part_bands, n), n, sigs, parts)

    def _candidates(self, band_matrix: Any, part_bands: Any, n: int) -> PairKeys:
        """Keys ``a * n + b`` (``a < b``) of the candidate pairs: records sharing a band of the n-gram signature, or,
        with ``verify: parts``, of the part signatures. Held in bounded memory: spilled past ``pair_budget`` keys."""
        keys = PairKeys(self.pair_budget)
        for m in (band_matrix, part_bands) if self._verify == "parts" else (band_matrix,):
            for j in range(m.shape[1]):
                keys.add(star_keys(m[:, j], n))
        return keys

    def _verified_chunks(
        self, keys: PairKeys, n: int, sigs: Any, parts: Any, load: Callable[[np.ndarray], None] | None = None, per: int = 1 << 16
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate pairs that count, verified a chunk of unique keys at a time (each pair once). ``load``: called
        with the records of every ``per`` pairs before they are verified (the cluster reads their rows in one go)."""
        out = []
        for key in keys.chunks():
            a, b = key // n, key % n
            if load is None:
                out.append(self._verified(a, b, sigs, parts))
                continue
            for i in range(0, a.size, per):
                load(np.concatenate((a[i : i + per], b[i : i + per])))
                out.append(self._verified(a[i : i + per], b[i : i + per], sigs, parts))
        if not out:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out]), np.concatenate([o[2] for o in out])

    def _verified(self, a: np.ndarray, b: np.ndarray, sigs: Any, parts: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate pairs that count, and their similarity: the one rule of both the local and the cluster path."""
        sim, need = self._scores(a, b, sigs, parts)
        ok = sim >= need
        return a[ok], b[ok], sim[ok]

    def _scores(self, a: np.ndarray, b: np.ndarray, sigs: Any, parts: Any, chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """``(similarity, threshold)`` per pair. ``verify: signature``: the n-gram Jaccard and ``threshold``.
        ``verify: parts``: the lower of the two parts' estimated word-set Jaccard similarities and ``part_threshold``;
        but where either answer has fewer than ``short_answer_words`` words (a label, a short fact: too few words for
        their set to say much, and equal for many records), the n-gram rule as for ``signature``.
        (``sigs`` and ``parts`` are indexed by arrays of rows only: in memory or read from the spill file.)"""
        sig = estimated_jaccard(sigs, a, b)
        if self._verify != "parts":
            return sig, np.full(a.size, self.threshold)
        k = self.part_perm
        part = np.empty(a.size, dtype=np.float64)
        short = np.empty(a.size, dtype=bool)
        for i in range(0, a.size, chunk):
            pa, pb = parts[a[i : i + chunk]], parts[b[i : i + chunk]]
            prompt_sim = (pa[:, :k] == pb[:, :k]).mean(axis=1)
            answer_sim = (pa[:, k : 2 * k] == pb[:, k : 2 * k]).mean(axis=1)
            part[i : i + chunk] = np.minimum(prompt_sim, answer_sim)
            short[i : i + chunk] = np.minimum(pa[:, 2 * k], pb[:, 2 * k]) < self.short_answer_words
        return np.where(short, sig, part), np.where(short, self.threshold, self.part_threshold)

    def finish(self) -> None:
        n = len(self._ids)
        if n == 0:
            return  # nothing observed since the last finish: its verdicts stand
        ids, rank_buf = self._ids, self._rank
        bufs = (self._band_buf, self._sig_buf, self._part_band_buf, self._part_sig_buf)
        # decide only needs the verdicts: the collected state is freed when finish returns.
        self._band_buf, self._sig_buf = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes)
        self._part_band_buf, self._part_sig_buf = SpillBuffer(self.spill_bytes), SpillBuffer(self.spill_bytes)
        self._ids, self._rank = IdTable(), array("d")
        self._verdicts, self._clusters, self._dropped_at = {}, [], []
        try:
            self._cluster(n, ids, rank_buf, *bufs)
        finally:
            for buf in bufs:
                buf.close()

    def _cluster(
        self,
        n: int,
        ids: IdTable,
        rank_buf: array,
        band_buf: SpillBuffer,
        sig_buf: SpillBuffer,
        part_band_buf: SpillBuffer,
        part_sig_buf: SpillBuffer,
    ) -> None:
        band_matrix = band_buf.columns(np.uint64, (n, self._b))  # (read a band at a time: candidate_pairs)
        sigs = sig_buf.rows(np.uint16, (n, self.num_perm))  # (only the rows of candidate pairs are read)
        parts = part_sig_buf.rows(np.uint16, (n, 2 * self.part_perm + 1)) if self._verify == "parts" else None
        part_bands = part_band_buf.columns(np.uint64, (n, self.part_perm // 2)) if self._verify == "parts" else None
        a, b, _ = self._similar_pairs(band_matrix, sigs, part_bands, parts, n)
        rank = np.frombuffer(rank_buf, dtype=np.float64)
        self._clusters_of(
            a, b, lambda nodes: rank[nodes], lambda x, y: self._scores(x, y, sigs, parts), lambda nodes: [ids[i] for i in nodes.tolist()]
        )

    def _clusters_of(
        self,
        a: np.ndarray,
        b: np.ndarray,
        rank_of: Callable[[np.ndarray], np.ndarray],
        scores: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
        ids_of: Callable[[np.ndarray], list[str]],
    ) -> None:
        """The verified pairs ``(a, b)`` joined into clusters, the kept record of each chosen, the verdicts written.
        ``rank_of(nodes)``: their length or score (keep: longest | quality); ``scores(x, y)``: ``_scores`` of pairs;
        ``ids_of(nodes)``: their ids. The same code for the local path and the cluster's (positions for indices)."""
        nodes, labels = clusters(a, b)  # nodes: ascending record indices
        if nodes.size == 0:
            return
        # Kept member of each cluster: highest rank (length or score), then the earliest record.
        rank = np.zeros(nodes.size) if self.keep == "first" else -rank_of(nodes)
        order = np.lexsort((nodes, rank, labels))
        sorted_labels = labels[order]
        firsts = np.flatnonzero(np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1])))
        kept_of_label = np.empty(labels.max() + 1, dtype=np.int64)
        kept_of_label[sorted_labels[firsts]] = nodes[order[firsts]]
        kept = kept_of_label[labels]
        to_kept, need = scores(nodes, kept)
        name = dict(zip(nodes.tolist(), ids_of(nodes)))

        # Clusters in the order of their kept record, members in input order.
        by_label = np.argsort(labels, kind="stable")
        grouped = labels[by_label]
        bounds = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1], [True])))
        groups = []
        for start, end in zip(bounds[:-1], bounds[1:]):
            members = by_label[start:end]
            k = int(kept[members[0]])
            # verify: parts drops only the members alike to the kept record: a chain A ~ B ~ C of short templated records
            # ("Identify which instrument is string or percussion: X, Y") does not take C with it when C is unlike A.
            direct = self._verify != "parts"
            groups.append(
                (
                    k,
                    [
                        (int(nodes[i]), round(float(to_kept[i]), 4), float(need[i]))
                        for i in members
                        if nodes[i] != k and (direct or to_kept[i] >= need[i])
                    ],
                )
            )
        groups.sort()
        for k, dups in groups:
            for i, jac, need_i in dups:
                self._verdicts[name[i]] = (name[k], jac, need_i)
            self._clusters.append({"kept": name[k], "duplicates": [name[i] for i, _, _ in dups], "jaccard": [jac for _, jac, _ in dups]})
            self._dropped_at.extend(i for i, _, _ in dups)

    # ---- on a cluster: band hashes grouped where they are (issue 19) ------------------------------
    finishes_on_cluster = True

    def state_columns(self, recs: list[Record], prepared: list[Any]) -> dict[str, Any]:
        """What ``observe`` keeps, as columns: band hashes, compact signature, rank (and the part bands and signatures)."""
        prepared = [p if p is not None else self.prepare(r) for r, p in zip(recs, prepared)]
        n = len(prepared)
        cols: dict[str, Any] = {
            "bands": np.frombuffer(b"".join(p[0] for p in prepared), dtype=np.uint64).reshape(n, self._b),
            "sig": np.frombuffer(b"".join(p[1] for p in prepared), dtype=np.uint16).reshape(n, self.num_perm),
            "rank": np.array([self._rank_of(r, p) for r, p in zip(recs, prepared)], dtype=np.float64),
        }
        if self._verify == "parts":
            cols["part_bands"] = np.frombuffer(b"".join(p[3] for p in prepared), dtype=np.uint64).reshape(n, self.part_perm // 2)
            cols["parts"] = np.frombuffer(b"".join(p[4] for p in prepared), dtype=np.uint16).reshape(n, 2 * self.part_perm + 1)
        return cols

    def _rank_of(self, rec: Record, prepared: tuple) -> float:
        """The rank ``observe`` keeps: the length (keep: longest), the score (keep: quality), or nothing (0)."""
        if self.keep == "longest":
            return float(prepared[2])
        return record_score(rec, self.score_key) if self.keep == "quality" else 0.0

    def finish_on(self, cluster: Cluster) -> np.ndarray:
        """``observe`` + ``finish`` over the state on ``cluster``: candidate pairs from band hashes grouped on the cluster
        (each band's rows go to the part of their hash; a part pairs each bucket's records with its first, as
        ``candidate_pairs`` does); then, here, the same verification and clustering as the local path, the signatures
        of candidate pairs only read from the cluster. Positions stand for the local ordinals (same order)."""
        self._ids, self._rank = IdTable(), array("d")
        self._verdicts, self._clusters, self._dropped_at = {}, [], []
        columns = ("bands", "part_bands") if self._verify == "parts" else ("bands",)
        keys = PairKeys(self.pair_budget)
        for part in cluster.shuffle(bucket_map, bucket_reduce, columns):  # a part's keys at a time
            keys.add(part)
        sigs, parts = cluster.rows("sig"), (cluster.rows("parts") if self._verify == "parts" else None)
        columns = ("sig", "parts") if self._verify == "parts" else ("sig",)
        # (bucket_reduce's keys are a << 32 | b; the rows of each chunk's records are read from the cluster in one go)
        a, b, _ = self._verified_chunks(keys, 1 << 32, sigs, parts, lambda pos: cluster.load(pos, columns))
        cluster.load(np.concatenate((a, b)), (*columns, "rank", "id"))  # the clusters' members (their rows: edges x 400 bytes at most)
        rank, ids = cluster.rows("rank"), cluster.rows("id")
        self._clusters_of(a, b, lambda nodes: rank[nodes], lambda x, y: self._scores(x, y, sigs, parts), lambda nodes: ids[nodes].tolist())
        return np.array(sorted(self._dropped_at), dtype=np.int64)

    def decide(self, rec: Record) -> Verdict:
        hit = self._verdicts.get(rec.id)
        if hit is None:
            return KEEP
        kept_id, jac, threshold = hit
        detail = None if jac >= threshold else "joined to the kept record through other near duplicates"
        return Drop("near_duplicate", value=jac, threshold=threshold, duplicate_of=kept_id, detail=detail)

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
