"""Generated answers through curation's own checks: personal data (``filter.pii``) and the harmful-content lexicon.

The steps are the registered ones, built with :func:`curatune.curation.registry.build_step`, so a flag
here means what the same reason means in a curate ledger. PII is checked for every type the
detector knows, e-mail and phone included: in training data those may be redacted and kept, but a
model that writes someone's address is worth a look either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..curation.pii import PII_TYPES
from ..curation.record import Record
from ..curation.registry import build_step
from ..curation.step import Filter

SAFETY_STEPS: dict[str, dict[str, Any]] = {
    "filter.pii": {"types": list(PII_TYPES)},
    "filter.harmful": {"fields": "answer"},
}


@dataclass(frozen=True)
class SafetyCounts:
    """How many answers of one model were flagged, by reason, and which."""

    checked: int
    flagged: int
    by_reason: dict[str, int]
    ids: list[str]  # the flagged examples' ids, in input order

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "flagged": self.flagged, "by_reason": dict(self.by_reason), "ids": list(self.ids)}


class OutputSafety:
    """Runs each text through the safety steps; a flag says which step and why (for PII, the types found, never the values)."""

    def __init__(self, steps: dict[str, dict[str, Any]] | None = None):
        # The safety steps are filters (their verdicts are read with keep()).
        self.steps = [cast(Filter, build_step(name, params)) for name, params in (steps or SAFETY_STEPS).items()]
        for step in self.steps:
            step.setup()

    def flags(self, text: str) -> list[dict[str, Any]]:
        record = Record(id="answer", messages=[{"role": "assistant", "content": text}])
        out = []
        for step in self.steps:
            verdict = step.keep(record)
            if not verdict.kept:
                out.append({"step": step.name, "reason": verdict.reason, "value": verdict.value, "detail": verdict.detail})
        return out


def count_flags(ids: Sequence[str], flags: Sequence[list[dict[str, Any]]]) -> SafetyCounts:
    """Totals over one model's answers: ``flags[i]`` are the flags of the answer to example ``ids[i]``."""
    reasons = Counter(f["reason"] for answer_flags in flags for f in answer_flags)
    flagged = [i for i, answer_flags in zip(ids, flags) if answer_flags]
    return SafetyCounts(len(flags), len(flagged), dict(sorted(reasons.items())), flagged)
