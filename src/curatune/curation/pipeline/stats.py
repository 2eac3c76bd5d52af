"""What a run counts: per step, per batch of a segment, and in all (``input == kept + dropped``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConsistencyError
from ..read.records import Reject

READ_PROBLEM_EXAMPLES = 50


@dataclass
class StepStats:
    name: str
    kind: str
    seen: int = 0
    dropped: int = 0
    flagged: int = 0
    modified: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)

    def tally(self, key: str, n: int = 1) -> None:
        """Count ``n`` outcomes ``key`` (``action:reason``)."""
        action = key.split(":", 1)[0]
        if action == "drop":
            self.dropped += n
        elif action == "flag":
            self.flagged += n
        elif action == "modify":
            self.modified += n
        self.reasons[key] += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "kind": self.kind,
            "seen": self.seen,
            "dropped": self.dropped,
            "flagged": self.flagged,
            "modified": self.modified,
            "seconds": round(self.seconds, 4),
            "reasons": dict(self.reasons.most_common()),
        }


@dataclass
class SegmentCounts:
    """Per step of a segment: seconds spent, records seen, and ``action:reason`` counts; and the
    seconds each global step of the pass took to ``prepare`` the batch."""

    seconds: list[float]
    seen: list[int]
    outcomes: list[Counter[str]]
    prepare_seconds: list[float] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)


def account(stats: Sequence[StepStats], c: SegmentCounts) -> None:
    """Add one batch's counts to the stats of the segment's steps (``stats`` in the segment's order)."""
    for st, seconds, seen, outcomes in zip(stats, c.seconds, c.seen, c.outcomes):
        st.seconds += seconds
        st.seen += seen
        for key, n in outcomes.items():
            st.tally(key, n)


@dataclass
class PipelineResult:
    input: int
    kept: int
    dropped: int
    seconds: float
    steps: list[StepStats]
    read_problems: Counter[str]
    read_problem_examples: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "kept": self.kept,
            "dropped": self.dropped,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.input / self.seconds, 1) if self.seconds else None,
            "read_problems": dict(self.read_problems.most_common()),
            "read_problem_examples": self.read_problem_examples,
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass
class RunTotals:
    """Records in and out of one run, and the lines that could not be read."""

    input: int = 0
    kept: int = 0
    dropped: int = 0
    read_problems: Counter[str] = field(default_factory=Counter)
    read_problem_examples: list[dict[str, Any]] = field(default_factory=list)

    def read_problem(self, item: Reject) -> None:
        """Count a line that could not be read (it counts as input, and is dropped by the caller)."""
        self.read_problems[item.reason] += 1
        if len(self.read_problem_examples) < READ_PROBLEM_EXAMPLES:
            self.read_problem_examples.append({"source": item.source, "line": item.line, "reason": item.reason, "detail": item.detail})

    def result(self, seconds: float, steps: list[StepStats]) -> PipelineResult:
        """The run's result; a ``ConsistencyError`` when a record went in and neither came out kept nor dropped."""
        result = PipelineResult(
            input=self.input,
            kept=self.kept,
            dropped=self.dropped,
            seconds=seconds,
            steps=steps,
            read_problems=self.read_problems,
            read_problem_examples=self.read_problem_examples,
        )
        if result.input != result.kept + result.dropped:
            raise ConsistencyError(
                f"The run lost track of records: {result.input} went in, {result.kept} kept + {result.dropped} dropped. "
                "This is a bug in curatune; please report it with the recipe."
            )
        return result
