"""Exact deduplication after normalisation: the first, longest or best-scored of each group is kept."""

from __future__ import annotations

import unicodedata
from array import array
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import xxhash

from ...errors import RecipeError
from ..cluster import concat_rows, split_rows
from ..compact import HashIndex, IdTable
from ..record import Record
from ..registry import register
from ..step import KEEP, Cluster, Drop, GlobalStep, Verdict

KEEP_POLICIES = ("first", "longest", "quality")


def dedup_text(rec: Record, fields: str) -> str:
    """The text a dedup step compares: the whole record, the prompt only, or the answer only."""
    if fields == "prompt":
        return rec.prompt_text if rec.messages is not None else rec.all_text
    if fields == "response":
        return rec.response_text
    return rec.all_text + ("\x00" + rec.label if rec.label is not None else "")


def nfkc_casefold(text: str) -> str:
    """NFKC, then casefold: compatibility forms and case do not make two texts different."""
    if text.isascii():
        return text.lower()  # NFKC leaves ASCII alone, and casefold is lower() there
    return unicodedata.normalize("NFKC", text).casefold()


def normalise(text: str) -> str:
    """Case, Unicode form and whitespace do not make two texts different."""
    # str.split() splits on the same Unicode whitespace as the regex \s+ did, and is three times faster.
    return " ".join(nfkc_casefold(text).split())


def record_score(rec: Record, score_key: str | None) -> float:
    """The record's ``meta["scores"][score_key]``; a record without one ranks below every scored record."""
    value = (rec.meta.get("scores") or {}).get(score_key) if score_key else None
    return float(value) if isinstance(value, (int, float)) and value == value else float("-inf")


def check_keep(step: str, keep: str, score_key: str | None) -> None:
    if keep == "quality" and not score_key:
        raise RecipeError(
            [
                f"The 'keep' parameter of {step} is 'quality', which needs 'score_key': the name of a score in "
                "meta['scores'] written by an earlier score step (for example score_key: quality). "
                "Set score_key, or use keep: first or keep: longest."
            ]
        )


@register("dedup.exact")
class ExactDedup(GlobalStep):
    """Drop records whose normalised text equals an earlier record's; each drop names the record it repeats.

    ``fields``: ``record`` (all text, and the label), ``prompt`` (system and user turns) or
    ``response`` (the answer). ``keep``: ``first`` seen, the ``longest`` record of the group, or
    the one with the highest ``meta["scores"][score_key]`` (``quality``; ties and unscored
    records go to the earliest).
    """

    decides_by_id = True  # verdicts by id from finish (or observe)
    reasons = ("exact_duplicate",)

    def __init__(
        self,
        fields: Literal["record", "prompt", "response"] = "record",
        keep: Literal["first", "longest", "quality"] = "first",
        normalize: bool = True,
        score_key: str | None = None,
    ):
        self.fields = fields
        self.keep = keep
        self.normalize = normalize
        self.score_key = score_key
        check_keep("dedup.exact", keep, score_key)
        self._reset()

    def _reset(self) -> None:
        # One group per distinct text, in flat arrays (about 40 bytes and the kept id's length per group, where
        # dicts of tuples took about 250): its hash's low 64 bits -> the group, the high 64 bits, the kept id, its rank.
        self._index = HashIndex()
        self._collided: dict[int, int] = {}  # 128-bit hash -> group, for texts whose low 64 bits another text has
        self._hi = array("Q")
        self._kept_ids = IdTable()  # the group's first record
        self._rank = array("d")  # the kept record's length or score (keep=longest|quality)
        self._moved: dict[int, str] = {}  # group -> a later record kept in the first one's place (keep=longest|quality)
        self._groups: dict[int, list[str]] = {}  # group -> every id, only for groups of 2 or more
        self._dropped: dict[str, str] = {}  # id -> the id kept in its place (observe with keep=first, else finish)

    def _group(self, h: int) -> tuple[int, bool]:
        """The group of a 128-bit hash, and whether it is new."""
        lo, hi = h & 0xFFFFFFFFFFFFFFFF, h >> 64
        g = self._index.setdefault(lo, len(self._hi))  # None: a new group, filed under lo
        if g is not None and self._hi[g] == hi:
            return g, False
        if g is not None:  # another text with the same low 64 bits (about once in 10^10 pairs): the full hash decides
            other = self._collided.get(h)
            if other is not None:
                return other, False
            self._collided[h] = len(self._hi)
        g = len(self._hi)
        self._hi.append(hi)
        return g, True

    def _kept_id(self, g: int) -> str:
        moved = self._moved.get(g)
        return self._kept_ids[g] if moved is None else moved

    def _hash(self, rec: Record) -> tuple[int, int]:
        text = dedup_text(rec, self.fields)
        if self.normalize:
            text = normalise(text)
        return xxhash.xxh3_128_intdigest(text.encode("utf-8", "surrogatepass")), len(text)

    def prepare(self, rec: Record) -> tuple[int, int]:
        return self._hash(rec)

    def observe(self, rec: Record, prepared) -> None:
        h, n = prepared if prepared is not None else self._hash(rec)
        rank = record_score(rec, self.score_key) if self.keep == "quality" else n
        g, new = self._group(h)
        if new:
            self._kept_ids.append(rec.id)
            if self.keep != "first":
                self._rank.append(rank)
            return
        kept_id = self._kept_id(g)
        self._groups.setdefault(g, [kept_id]).append(rec.id)
        if self.keep == "first":
            self._dropped[rec.id] = kept_id  # final: the first record of a group stays whatever comes later
        # Strictly greater: on a tie the earlier record stays, so the choice does not depend on luck.
        elif rank > self._rank[g]:
            self._moved[g] = rec.id
            self._rank[g] = rank

    def decides_on_observe(self) -> bool:
        return self.keep == "first"

    def finish(self) -> None:
        # Verdicts by id (ids are unique within a run), so that decide() need not normalise and hash each record
        # again. With keep=first, observe() wrote them already: the first of a group is its keeper from the start.
        if self.keep != "first":
            self._dropped = {i: kept for g, ids in self._groups.items() for kept in (self._kept_id(g),) for i in ids if i != kept}

    def decide(self, rec: Record) -> Verdict:
        kept_id = self._dropped.get(rec.id)
        if kept_id is None:
            return KEEP
        return Drop("exact_duplicate", duplicate_of=kept_id)

    # ---- on a cluster: a hash shuffle (issue 19) ------------------------------------------------------
    finishes_on_cluster = True

    def state_columns(self, recs: list[Record], prepared: list[Any]) -> dict[str, Any]:
        """The 128-bit hash as two uint64 columns, and the rank ``observe`` would keep (length or score)."""
        h = [p[0] if p is not None else self._hash(r)[0] for r, p in zip(recs, prepared)]
        ranks = [record_score(r, self.score_key) if self.keep == "quality" else p[1] for r, p in zip(recs, prepared)]
        return {
            "lo": np.array([x & 0xFFFFFFFFFFFFFFFF for x in h], dtype=np.uint64),
            "hi": np.array([x >> 64 for x in h], dtype=np.uint64),
            "rank": np.array(ranks, dtype=np.float64),
        }

    def finish_on(self, cluster: Cluster) -> np.ndarray:
        """``observe`` + ``finish`` over the state on ``cluster``: records go to the part of their hash, each part finds
        its groups of two or more; here, the groups are recorded as ``observe`` would have met them (the kept record
        as the local step keeps it: the first, or the highest rank and on a tie the first)."""
        self._reset()
        groups = [g for part in cluster.shuffle(_exact_map, _exact_reduce, self.keep) for g in part]
        # Local order of the groups: by the position of their second record (when observe first met a repeat).
        groups.sort(key=lambda g: g[0][1])
        dropped = []
        for positions, ids, k in groups:
            g = len(self._kept_ids)
            self._kept_ids.append(ids[0])
            if k:
                self._moved[g] = ids[k]
            self._groups[g] = list(ids)
            for i, rec_id in enumerate(ids):
                if i != k:
                    self._dropped[rec_id] = ids[k]
                    dropped.append(positions[i])
        return np.array(sorted(dropped), dtype=np.int64)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not self._groups:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "exact_duplicate_clusters.jsonl"
        with open(path, "wb") as f:
            for g, ids in self._groups.items():
                kept = self._kept_id(g)
                f.write(orjson.dumps({"kept": kept, "duplicates": [i for i in ids if i != kept]}, option=orjson.OPT_APPEND_NEWLINE))
        return [f"artifacts/{path.name}"]


def _exact_map(cols: dict[str, Any], parts: int, keep: str) -> list[dict[str, Any]]:
    """A block's rows cut by their hash into ``parts``: equal texts meet in one part."""
    return split_rows(cols, (cols["lo"] % np.uint64(parts)).astype(np.int64), parts)


def _exact_reduce(pieces: list[dict[str, Any]], keep: str) -> list[tuple[list[int], list[str], int]]:
    """A part's groups of two or more records with one hash: ``(positions, ids, index of the kept one)``, in input order."""
    cols = concat_rows(pieces)
    if not cols or cols["pos"].size < 2:
        return []
    order = np.lexsort((cols["pos"], cols["hi"], cols["lo"]))
    lo, hi = cols["lo"][order], cols["hi"][order]
    same = (lo[1:] == lo[:-1]) & (hi[1:] == hi[:-1])
    if not same.any():
        return []
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    ends = np.concatenate((starts[1:], [lo.size]))
    out = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s < 2:
            continue
        idx = order[s:e]
        rank = cols["rank"][idx]
        # The first, or the highest rank with the earliest on a tie (argmax gives the first maximum).
        k = 0 if keep == "first" else int(np.argmax(rank))
        out.append((cols["pos"][idx].tolist(), cols["id"][idx].tolist(), k))
    return out
