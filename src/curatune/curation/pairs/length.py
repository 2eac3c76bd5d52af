"""The length bias of a preference set: how often the chosen answer is the longer one, reported and optionally balanced.

Preference sets are often longer-is-better: annotators and judge models favour the
longer answer, and a set where the chosen side is longer in 70% of pairs lets DPO
raise its reward by making answers longer (the length exploitation that SimPO's and
R-DPO's length normalisation answer). This step measures the bias and, when asked,
drops pairs until it is within a target.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import median
from typing import Annotated, Literal

import xxhash
from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict
from ._sides import is_pair


def side_length(text: str, unit: str) -> int:
    return len(text.split()) if unit == "words" else len(text)


def drops_to_reach(longer: int, differing: int, target: float) -> int:
    """How many chosen-longer pairs to drop so that at most ``target`` of the pairs of unequal length are chosen-longer."""
    if differing == 0 or longer <= target * differing:
        return 0
    if target <= 0:
        return longer
    # (longer - k) / (differing - k) <= target  <=>  k >= (longer - target * differing) / (1 - target)
    return min(longer, math.ceil((longer - target * differing) / (1 - target) - 1e-9))


@register("pair.length_balance")
class LengthBalance(GlobalStep):
    """Report how often the chosen answer is longer (artifacts/length_bias.json); optionally drop pairs to balance it.

    Lengths are in ``unit`` (``words`` or ``chars``); pairs of equal length count for
    neither side. With ``max_chosen_longer`` (a share, e.g. 0.55) pairs whose chosen side
    is longer are dropped, those with the largest chosen/rejected length ratio first (the
    pairs that most teach "longer wins"), until at most that share of the pairs of unequal
    length have the longer answer chosen. Without it nothing is dropped: the report alone.
    KTO examples (one side) are not counted.
    """

    decides_by_id = True
    reasons = ("length_bias",)

    def __init__(
        self,
        max_chosen_longer: Annotated[float, Field(ge=0, le=1)] | None = None,
        unit: Literal["words", "chars"] = "words",
    ):
        self.max_chosen_longer = max_chosen_longer
        self.unit = unit
        self._reset()

    def _reset(self) -> None:
        self._ratios: dict[str, float] = {}  # id -> log(chosen length / rejected length), chosen-longer pairs only
        self._counts = {"pairs": 0, "chosen_longer": 0, "chosen_shorter": 0, "same_length": 0}
        self._log_ratios: list[float] = []
        self._dropped: dict[str, float] = {}

    def prepare(self, rec: Record) -> tuple[int, int] | None:
        if not is_pair(rec):
            return None
        return side_length(rec.chosen or "", self.unit), side_length(rec.rejected or "", self.unit)

    def observe(self, rec: Record, prepared) -> None:
        if prepared is None:
            return
        c, r = prepared
        self._counts["pairs"] += 1
        ratio = math.log((c + 1) / (r + 1))  # +1: an empty side has a length ratio too
        self._log_ratios.append(ratio)
        if c > r:
            self._counts["chosen_longer"] += 1
            self._ratios[rec.id] = ratio
        elif c < r:
            self._counts["chosen_shorter"] += 1
        else:
            self._counts["same_length"] += 1

    def _share(self, longer: int, shorter: int) -> float | None:
        return round(longer / (longer + shorter), 4) if longer + shorter else None

    def finish(self) -> None:
        if self.max_chosen_longer is None:
            return
        longer, shorter = self._counts["chosen_longer"], self._counts["chosen_shorter"]
        k = drops_to_reach(longer, longer + shorter, self.max_chosen_longer)
        # The largest ratios first; ties by a hash of the id, so the choice does not depend on reading order.
        order = sorted(self._ratios, key=lambda i: (-self._ratios[i], xxhash.xxh64_intdigest(i.encode("utf-8", "surrogatepass"))))
        self._dropped = {i: self._ratios[i] for i in order[:k]}

    def decide(self, rec: Record) -> Verdict:
        ratio = self._dropped.get(rec.id)
        if ratio is None:
            return KEEP
        before = self._share(self._counts["chosen_longer"], self._counts["chosen_shorter"])
        return Drop(
            "length_bias",
            value=round(math.exp(ratio), 3),
            threshold=self.max_chosen_longer,
            detail=f"chosen is {math.exp(ratio):.2f}x the rejected length; dropped to bring the chosen-longer share from {before} "
            f"to at most {self.max_chosen_longer}",
        )

    def report(self) -> dict:
        c = self._counts
        after_longer = c["chosen_longer"] - len(self._dropped)
        ratios = self._log_ratios
        return {
            "unit": self.unit,
            **c,
            "share_chosen_longer": self._share(c["chosen_longer"], c["chosen_shorter"]),
            "median_length_ratio": round(math.exp(median(ratios)), 3) if ratios else None,
            "max_chosen_longer": self.max_chosen_longer,
            "dropped": len(self._dropped),
            "share_chosen_longer_after": self._share(after_longer, c["chosen_shorter"]),
            "note": "share_chosen_longer counts pairs of unequal length; length ratio is (chosen + 1) / (rejected + 1)",
        }

    def write_artifacts(self, out_dir: Path) -> list[str]:
        if not self._counts["pairs"]:
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "length_bias.json"
        path.write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")
        return [f"artifacts/{path.name}"]
