"""The :class:`Pipeline`: a recipe's steps run over a stream of records into a :class:`~.sink.Sink`."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..read.records import Reject
from ..record import Record
from .executor import Executor
from .local import LocalExecutor
from .passes import PassRunner
from .plan import PipelineStep, Plan, plan_passes
from .sink import Sink
from .stats import PipelineResult, RunTotals, StepStats


class Pipeline:
    """Runs ``steps`` over records: counts, times and records every decision, and checks ``input == kept + dropped``.

    The steps are cut into passes once (:mod:`.plan`); each run goes through the passes (:mod:`.passes`)
    and hands the batches to ``executor``, by default a :class:`~.local.LocalExecutor` with ``workers``
    processes. Spool files go in a temporary folder under ``spool_dir``, removed at the end.
    """

    def __init__(
        self,
        steps: list[PipelineStep],
        workers: int = 1,
        batch_size: int = 256,
        spool_dir: Path | None = None,
        min_batches_for_workers: int = 8,
        executor: Executor | None = None,
    ):
        self.steps = steps
        self.plan: Plan = plan_passes(steps)
        self.batch_size = batch_size
        self.spool_dir = spool_dir
        self.executor: Executor = executor if executor is not None else LocalExecutor(workers, min_batches_for_workers)
        self.stats = {ps.step.name + f"#{i}": StepStats(ps.step.name, ps.step.kind) for i, ps in enumerate(steps)}
        self._set_up: set[int] = set()  # the global steps set up in this process, once for every run

    @property
    def segments(self) -> list[list[PipelineStep]]:
        return self.plan.segments

    @property
    def globals(self) -> list[list[PipelineStep]]:
        return self.plan.globals

    @property
    def _pool(self) -> Any:
        """The local executor's worker pool while a run holds one (None before and after a run)."""
        return self.executor.pool if isinstance(self.executor, LocalExecutor) else None

    def run(self, items: Iterable[Record | Reject], sink: Sink, progress: Callable[[int], None] | None = None) -> PipelineResult:
        t_start = time.perf_counter()
        totals = RunTotals()
        stats = list(self.stats.values())
        spool_dir = Path(tempfile.mkdtemp(prefix="spool-", dir=self.spool_dir))
        try:
            PassRunner(self.plan, self.executor, sink, stats, totals, self._set_up, self.batch_size, spool_dir, progress).run(items)
        finally:
            shutil.rmtree(spool_dir, ignore_errors=True)
        return totals.result(time.perf_counter() - t_start, stats)
