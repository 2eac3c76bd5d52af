"""The :class:`Executor` interface: where a pass's batches run.

The pass runner (:mod:`.passes`) drives a run and hands each pass's batches to an executor; the
executor runs each batch through :func:`~.segment.run_segment` wherever it likes and gives the
results back in order. :class:`~.local.LocalExecutor` runs them in this process or in a pool of
worker processes. Another executor is a new module implementing these three methods; the plan and
the pass runner do not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ..record import Record
from .plan import Pass, Plan
from .segment import RecordResult
from .stats import SegmentCounts

# One batch's results: per record (record, events, dropped, prepared), and the segment's counts.
BatchResult = tuple[list[RecordResult], SegmentCounts]


class Executor(Protocol):
    """Runs the per-record work of a plan's passes: every batch through ``run_segment``.

    What an executor implements:

    - ``start(plan)``: get ready to run the plan's segments (start nothing costly yet if it can wait:
      the local executor starts its pool only once an input proves big enough).
    - ``map_pass(p, batches)``: for each batch of ``batches``, in order, yield exactly what
      ``run_segment(p.segment, batch, p.prepare)`` returns where the batch ran: the same records,
      events, drop flags, prepared state (each chain step's ``prepare_batch`` over the survivors) and
      counts. The order is part of the verdicts: the runner's global steps observe the survivors in
      the order the results come, and exact dedup keeps the first copy it observes. A record no step
      changed may come back as the very object that was sent (its ``changed`` flag in the counts is
      False); a changed one must come back changed. Read ``batches`` to the end (the first pass counts
      its input as it is read), in this thread, and keep a bounded number of batches in flight.
      Set every step up (``setup()``) once in each process where it runs, the chain's global steps
      included wherever their ``prepare_batch`` runs; in this process, only the streaming steps the
      executor runs here (the runner sets the global steps up). Where a batch runs is the
      executor's choice: a pass with no per-record work (``not p.has_record_work()``) or a small input
      is cheaper in this process.
    - ``close()``: release what ``start`` and ``map_pass`` took (processes, actors, settings changed in
      this process); safe to call after a ``start`` that failed part way.

    What the pass runner guarantees:

    - ``start`` is called once per run, first, before any step is set up in this process: the steps
      pickle as the recipe built them (what ``setup`` loads, a model or a tokenizer, need not pickle).
    - Then the runner sets the global steps up here and calls ``map_pass`` once per pass, in order,
      never two at a time; a pass starts after every result of the one before was taken and its
      global steps' ``finish`` ran.
    - ``batches`` yields lists of at most ``batch_size`` records, never a ``Reject`` (lines that could
      not be read are dropped before). The first pass's come from the input; a later pass's from the
      spool, after the previous global step's verdicts.
    - The runner takes each batch's results as they come: it writes the events and the dropped
      records to the sink, has the global steps observe and decide the survivors, spools or keeps
      them, counts every step, and checks ``input == kept + dropped`` at the end. The executor writes
      nothing.
    - ``close`` is called once at the end of the run, after an error too.

    Finishing a pass's global steps where their state is (issue 19): an executor may keep the chain's
    prepared state where the batches ran and finish the steps there.

    - ``finishes_chain(p)``: asked once before ``map_pass(p, ...)`` for a pass with a chain. True: every
      result's prepared state is None (the runner observes nothing), and after the last result the
      runner calls ``finish_chain_step(p, j)`` for each chain step in order instead of ``finish``. The
      executor then carries the pass's order: each survivor's position in the pass's input stands for
      the order in which the runner would have observed it, and a step is finished without the records
      an earlier chain step dropped (those it would not have observed). The local executor says False.
    - ``finish_chain_step(p, j)``: leaves chain step ``j`` answering ``decide`` as its ``finish`` would
      have (its ``finish_on``, :class:`~..step.Cluster`).
    - The runner then asks every chain step's verdict, in chain order, as it reads the spool back (the
      first that drops a record ends its way), where it would have asked all but the last on observing:
      the same events, kept and dropped records, order aside.

    Reading the input on the workers or writing from them is more than this interface carries: extend
    it and the pass runner together, keeping the guarantees above.
    """

    def start(self, plan: Plan) -> None: ...

    def map_pass(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]: ...

    def finishes_chain(self, p: Pass) -> bool: ...

    def finish_chain_step(self, p: Pass, j: int) -> None: ...

    def close(self) -> None: ...
