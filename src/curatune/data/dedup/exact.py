"""Exact deduplication after normalisation: the first (or longest) of each group is kept."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Literal

import orjson
import xxhash

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict

_SPACE = re.compile(r"\s+")


def dedup_text(rec: Record, fields: str) -> str:
    """The text a dedup step compares: the whole record, the prompt only, or the answer only."""
    if fields == "prompt":
        return rec.prompt_text if rec.messages is not None else rec.all_text
    if fields == "response":
        return rec.response_text
    return rec.all_text + ("\x00" + rec.label if rec.label is not None else "")


def normalise(text: str) -> str:
    """Case, Unicode form and whitespace do not make two texts different."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@register("dedup.exact")
class ExactDedup(GlobalStep):
    """Drop records whose normalised text equals an earlier record's; each drop names the record it repeats.

    ``fields``: ``record`` (all text, and the label), ``prompt`` (system and user turns) or
    ``response`` (the answer). ``keep``: ``first`` seen, or the ``longest`` record of the group.
    """

    reasons = ("exact_duplicate",)

    def __init__(self, fields: Literal["record", "prompt", "response"] = "record", keep: Literal["first", "longest"] = "first", normalize: bool = True):
        self.fields = fields
        self.keep = keep
        self.normalize = normalize
        self._reset()

    def _reset(self) -> None:
        self._keeper: dict[int, tuple[str, int]] = {}  # hash -> (kept id, length)
        self._groups: dict[int, list[str]] = {}  # hash -> every id, only for groups of 2 or more

    def _hash(self, rec: Record) -> tuple[int, int]:
        text = dedup_text(rec, self.fields)
        if self.normalize:
            text = normalise(text)
        return xxhash.xxh3_128_intdigest(text.encode("utf-8", "surrogatepass")), len(text)

    def prepare(self, rec: Record) -> tuple[int, int]:
        return self._hash(rec)

    def observe(self, rec: Record, prepared) -> None:
        h, n = prepared if prepared is not None else self._hash(rec)
        kept = self._keeper.get(h)
        if kept is None:
            self._keeper[h] = (rec.id, n)
            return
        self._groups.setdefault(h, [kept[0]]).append(rec.id)
        if self.keep == "longest" and n > kept[1]:
            self._keeper[h] = (rec.id, n)

    def decide(self, rec: Record) -> Verdict:
        h, _ = self._hash(rec)
        kept_id = self._keeper[h][0]
        if kept_id == rec.id:
            return KEEP
        return Drop("exact_duplicate", duplicate_of=kept_id)

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not self._groups:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "exact_duplicate_clusters.jsonl"
        with open(path, "wb") as f:
            for h, ids in self._groups.items():
                kept = self._keeper[h][0]
                f.write(orjson.dumps({"kept": kept, "duplicates": [i for i in ids if i != kept]}, option=orjson.OPT_APPEND_NEWLINE))
        return [f"artifacts/{path.name}"]
