"""The plan of a run: which steps run in which pass, as plain data.

Streaming steps (filters, mappers, scorers) decide on one record at a time; a global step (dedup,
selection) must see every record before it can decide on any. So a run is a sequence of *passes*
over the records. Each pass runs its *segment* (the streaming steps up to the next global step) on
batches, and the global steps after the segment (its *chain*) observe the survivors. The next pass
reads the survivors back, asks the chain's last step for each one's verdict, and runs the next
segment. The last pass has no chain.

A global step whose verdict is final as soon as it has observed a record (``decides_on_observe``:
exact dedup keeping the first copy) is asked right there, so when no streaming step follows it the
next global step joins its chain and observes the survivors in the same pass: the default recipe's
exact and MinHash dedup share one pass instead of taking one each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from ..step import GlobalStep, Step


@dataclass
class PipelineStep:
    """A step where the recipe puts it, and what a failed check does: ``drop`` the record, or ``flag`` it and keep it."""

    step: Step
    on_fail: str = "drop"  # drop | flag


def as_global(ps: PipelineStep) -> GlobalStep:
    """The step of a chain's member (the plan puts only global steps in a chain)."""
    return cast(GlobalStep, ps.step)


@dataclass(frozen=True)
class Pass:
    """One pass over the records."""

    index: int
    # The streaming steps run on this pass's batches, in recipe order.
    segment: tuple[PipelineStep, ...]
    # The global steps that observe this pass's survivors, in order; all but the last decide on observing.
    chain: tuple[PipelineStep, ...]
    # The global step whose verdict each record read back at the start of this pass needs: the previous
    # pass's last global step (None in the first pass).
    decided_by: PipelineStep | None
    # True when the next pass, the last, only asks this pass's last global step for verdicts, and that step
    # decides by id (``decides_by_id``): the survivors may then be spooled as the sink will write them.
    next_decides_by_id: bool = False

    @property
    def prepare(self) -> list[GlobalStep]:
        """The chain's steps, whose ``prepare_batch`` runs on each batch's survivors where the batch runs."""
        return [as_global(ps) for ps in self.chain]

    def has_record_work(self) -> bool:
        """True when a batch of this pass has per-record work: a streaming step, or a global step's ``prepare``."""
        return bool(self.segment) or any(
            type(g).prepare is not GlobalStep.prepare or type(g).prepare_batch is not GlobalStep.prepare_batch for g in self.prepare
        )


@dataclass(frozen=True)
class Plan:
    """The passes of a run over ``steps``."""

    steps: tuple[PipelineStep, ...]
    passes: tuple[Pass, ...]

    @property
    def segments(self) -> list[list[PipelineStep]]:
        """The streaming steps of each pass."""
        return [list(p.segment) for p in self.passes]

    @property
    def globals(self) -> list[list[PipelineStep]]:
        """The chain of global steps of each pass that has one (every pass but the last)."""
        return [list(p.chain) for p in self.passes if p.chain]

    @property
    def global_steps(self) -> list[PipelineStep]:
        return [g for p in self.passes for g in p.chain]


def plan_passes(steps: list[PipelineStep]) -> Plan:
    """Cut ``steps`` into passes: a global step ends a pass, unless it can join the previous global step's chain."""
    segments: list[list[PipelineStep]] = [[]]
    chains: list[list[PipelineStep]] = []
    for ps in steps:
        if not isinstance(ps.step, GlobalStep):
            segments[-1].append(ps)
        elif chains and not segments[-1] and as_global(chains[-1][-1]).decides_on_observe():
            chains[-1].append(ps)  # nothing between, and the previous one needs no second pass
        else:
            chains.append([ps])
            segments.append([])
    passes = []
    for k, segment in enumerate(segments):
        chain = chains[k] if k < len(chains) else []
        by_id = k == len(segments) - 2 and not segments[k + 1] and as_global(chain[-1]).decides_by_id
        passes.append(Pass(k, tuple(segment), tuple(chain), chains[k - 1][-1] if k > 0 else None, bool(by_id)))
    return Plan(tuple(steps), tuple(passes))
