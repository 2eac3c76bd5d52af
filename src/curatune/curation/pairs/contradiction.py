"""Pairs that contradict each other: the same prompt and the same two answers, preferred one way and the other.

Such pairs come from merged sources, several annotators, or a swap in a pipeline. DPO
trained on both pulls the model's margin one way and back; neither label can be trusted
more than the other without more votes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

import orjson
import xxhash

from ..dedup.exact import normalise
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict
from ._sides import is_pair, present_sides


def _h(text: str) -> int:
    return xxhash.xxh3_64_intdigest(normalise(text).encode("utf-8", "surrogatepass"))


def _key(parts: str) -> int:
    # A hash of text, not Python's hash(): worker processes must agree on it.
    return xxhash.xxh3_64_intdigest(parts.encode())


def preference_key(rec: Record) -> tuple[int, bool] | None:
    """``(key, direction)``: the key is the prompt and the unordered pair of answers; the direction which way it points.

    Texts are compared after ``dedup.exact``'s normalisation (case, Unicode form, whitespace). A KTO
    example's key is the prompt and its completion, its direction its label. None for a record that
    is not preference data, or a pair whose sides are the same (``pair.same_answers`` drops those).
    """
    sides = present_sides(rec)
    if not sides:
        return None
    prompt = "\x00".join(f"{m['role']}\x01{normalise(m['content'])}" for m in rec.messages or ())
    p = xxhash.xxh3_64_intdigest(prompt.encode("utf-8", "surrogatepass"))
    if not is_pair(rec):
        side, text = sides[0]
        return _key(f"{p} {_h(text)} unpaired"), side == "chosen"
    a, b = _h(rec.chosen or ""), _h(rec.rejected or "")
    if a == b:
        return None
    return _key(f"{p} {min(a, b)} {max(a, b)}"), a < b


@register("pair.contradiction")
class Contradiction(GlobalStep):
    """Drop pairs preferred both ways: the same prompt and answers with chosen and rejected swapped.

    A KTO completion labelled both desirable and undesirable for the same prompt is the same
    contradiction. ``resolve``: ``drop_all`` drops every pair of such a group (``contradicting_pair``);
    ``majority`` keeps the direction most pairs of the group agree on and drops the others
    (``outvoted_pair``), and drops the whole group on a tie. Each drop names a pair of the
    other direction in ``duplicate_of``. Exact copies that agree are left to ``dedup.exact``.
    """

    decides_by_id = True
    reasons = ("contradicting_pair", "outvoted_pair")

    def __init__(self, resolve: Literal["drop_all", "majority"] = "drop_all"):
        self.resolve = resolve
        self._reset()

    def _reset(self) -> None:
        self._groups: dict[int, list[tuple[str, bool]]] = {}  # key -> (id, direction), in reading order
        self._dropped: dict[str, tuple[str, str]] = {}  # id -> (reason, an id of the other direction)
        self._contradictions: list[dict] = []

    def prepare(self, rec: Record) -> tuple[int, bool] | None:
        return preference_key(rec)

    def observe(self, rec: Record, prepared) -> None:
        if prepared is None:
            return
        key, direction = prepared
        self._groups.setdefault(key, []).append((rec.id, direction))

    def finish(self) -> None:
        for members in self._groups.values():
            votes = Counter(d for _, d in members)
            if len(votes) < 2:
                continue
            first = {d: next(i for i, dd in members if dd == d) for d in votes}
            tie = votes[True] == votes[False]
            winner = None if self.resolve == "drop_all" or tie else votes.most_common(1)[0][0]
            for rid, d in members:
                if d != winner:
                    self._dropped[rid] = ("contradicting_pair" if winner is None else "outvoted_pair", first[not d])
            self._contradictions.append(
                {"ids": [i for i, _ in members], "votes": [votes[True], votes[False]], "kept": [i for i, d in members if d == winner]}
            )

    def decide(self, rec: Record) -> Verdict:
        hit = self._dropped.get(rec.id)
        if hit is None:
            return KEEP
        reason, other = hit
        return Drop(reason, duplicate_of=other, detail=f"the same prompt and answers are preferred the other way in {other}")

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not self._contradictions:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "contradicting_pairs.jsonl"
        path.write_bytes(b"".join(orjson.dumps(c, option=orjson.OPT_APPEND_NEWLINE) for c in self._contradictions))
        return [f"artifacts/{path.name}"]
