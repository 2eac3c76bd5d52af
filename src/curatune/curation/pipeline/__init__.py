"""The pipeline: runs steps over a stream of records, counts, times, and records every decision.

- :mod:`.plan`: which steps run in which pass (segments of streaming steps, chains of global steps
  that share a pass), as plain data.
- :mod:`.passes`: the pass runner: batches in, the global steps' observe and decide, the spool
  between passes, results out to the :class:`Sink` (:mod:`.sink`).
- :mod:`.executor`: the :class:`Executor` interface the pass runner hands each pass's batches to;
  :mod:`.local`: the local executor (this process or a pool of worker processes); :mod:`.ray_executor`: Ray Data
  on a Ray cluster (``curate.executor: ray``; imported only where it is used, Ray being optional).
- :mod:`.segment`: one segment's streaming steps on one batch, as every executor runs it.
- :mod:`.stats`: per-step stats, per-batch counts, the run's totals and result.
"""

from .executor import BatchResult, Executor
from .local import LocalExecutor, worker_count
from .pipeline import Pipeline
from .plan import Pass, PipelineStep, Plan, plan_passes
from .segment import RecordResult, run_segment
from .sink import Sink
from .stats import PipelineResult, SegmentCounts, StepStats

__all__ = [
    "BatchResult",
    "Executor",
    "LocalExecutor",
    "Pass",
    "Pipeline",
    "PipelineResult",
    "PipelineStep",
    "Plan",
    "RecordResult",
    "SegmentCounts",
    "Sink",
    "StepStats",
    "plan_passes",
    "run_segment",
    "worker_count",
]
