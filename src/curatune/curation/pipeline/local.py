"""The local executor: a pass's batches in this process, or in a pool of worker processes on this machine.

Workers are spawned only once the input proves big enough to pay for them, and get the steps pickled
before anything was set up. Batches cross the process boundary as orjson rows, and only the records a
step changed come back. During a run the garbage collector, here and in the workers, leaves what
setup loaded alone and collects young objects less often; the caller's settings come back at the end.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing as mp
import os
import pickle
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ..jsoncodec import pack, unpack
from ..ledger import Event
from ..record import Record
from ..step import GlobalStep, Step
from .executor import BatchResult
from .plan import Pass, PipelineStep, Plan
from .rows import row
from .segment import run_segment
from .stats import SegmentCounts

# ---- in a worker process ------------------------------------------------------------------------

# Per pass: its streaming steps and the global steps whose prepare_batch runs on its survivors.
_WORKER_PASSES: list[tuple[tuple[PipelineStep, ...], list[GlobalStep]]] = []


def _worker_init(blob: bytes) -> None:
    global _WORKER_PASSES
    # Ctrl-C reaches every process of the terminal's group: the main process alone handles it (and
    # terminates the pool). A worker that died of it would lose its batch, and the pool waited for it forever.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # two torch threads on two busy cores crawl
    _WORKER_PASSES = pickle.loads(blob)
    for segment, _ in _WORKER_PASSES:
        for ps in segment:
            ps.step.setup()
    for _, prepare in _WORKER_PASSES:
        for g in prepare:
            g.setup()
    _fewer_collections()


# What a worker sends back for a batch: the changed records' rows (None for the others), per record its
# events, drop flag and prepared state, and the counts.
_WorkerResult = tuple[bytes, list[tuple[list[Event], bool, Any]], SegmentCounts]


def _worker_run(pass_index: int, payload: bytes) -> _WorkerResult:
    segment, prepare = _WORKER_PASSES[pass_index]
    results, counts = run_segment(segment, _decode_batch(payload), prepare)
    # Only changed records travel back (most records pass every step untouched): the main process still
    # holds the batch it sent, and uses its own copy of the others.
    records = pack([row(rec) if changed else None for (rec, *_), changed in zip(results, counts.changed)])
    counts.changed = []
    return records, [(events, dropped, prepared) for _, events, dropped, prepared in results], counts


# ---- the garbage collector during a run ----------------------------------------------------------

# Steps allocate many short-lived lists, sets and tuples per record, and the cyclic collector's default
# (a young-generation pass every 700 allocations, full passes over every long-lived object: loaded models,
# word lists, memos) cost workers 3 to 6% of their time. What setup loaded is moved out of the collector's
# sight (gc.freeze), and the young generation is collected every 20,000 allocations: reference counting
# frees everything else at once, and the few cycles still go.
_GC_THRESHOLD = (20_000, 20, 20)


def _fewer_collections() -> None:
    gc.freeze()  # (gc.unfreeze() gives the objects back to the oldest generation)
    gc.set_threshold(*_GC_THRESHOLD)


# ---- batch transport ------------------------------------------------------------------------------

# Records cross the process boundary as orjson-encoded batches of rows (see .rows): half the cost of
# pickling Record objects, and that cost is paid twice per record in the main process.


def _encode_batch(batch: list[Record]) -> bytes:
    return pack([row(r) for r in batch])  # (an integer beyond 64 bits, rare, makes the batch exact JSON: see jsoncodec)


def _decode_batch(payload: bytes) -> list[Record]:
    return [Record(*r) for r in unpack(payload)]


def _worker_result(raw: _WorkerResult, sent: list[Record]) -> BatchResult:
    payload, rest, counts = raw
    back = unpack(payload)
    return [(rec if r is None else Record(*r), *res) for rec, r, res in zip(sent, back, rest)], counts


# ---- the executor ---------------------------------------------------------------------------------


class LocalExecutor:
    """Runs batches in this process, or in ``workers`` processes once a pass has ``min_batches_for_workers`` batches.

    Implements :class:`~.executor.Executor`.
    """

    def __init__(self, workers: int = 1, min_batches_for_workers: int = 8):
        self.workers = max(1, workers)
        self.min_batches_for_workers = min_batches_for_workers
        self.pool: Any = None
        self._blob = b""
        self._set_up: set[int] = set()
        self._caller_gc: tuple[int, ...] | None = None
        self._pending: deque[tuple[Any, list[Record]]] = deque()  # batches sent to the pool, results not taken yet

    def start(self, plan: Plan) -> None:
        # This process allocates as the workers do (records, events, ledger columns): the same collector
        # settings for the run, and the caller's back at close().
        self._caller_gc = gc.get_threshold()
        _fewer_collections()
        if self.workers > 1:
            # Pickled before setup(): workers run their own setup, and what setup loads (a model, a
            # tokenizer) need not be picklable.
            self._blob = pickle.dumps([(p.segment, p.prepare) for p in plan.passes])
            return  # the streaming steps run in the workers (here only if the input is too small: see map_pass)
        for p in plan.passes:
            for ps in p.segment:
                self._setup(ps.step)

    def finishes_chain(self, p: Pass) -> bool:
        return False  # the runner observes and finishes the global steps in this process

    def finish_chain_step(self, p: Pass, j: int) -> None:
        raise NotImplementedError("the local executor leaves every global step to the pass runner")

    def map_pass(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]:
        """Results of pass ``p``'s segment on each batch, in order, with a bounded number in flight."""
        batches = iter(batches)
        # Starting worker processes costs seconds (each imports and sets up every step), so a small input is
        # processed here; the pool starts once the input proves big enough. A pass with no per-record work
        # (e.g. between two global steps) is not worth shipping to workers.
        head = list(itertools.islice(batches, self.min_batches_for_workers)) if self.workers > 1 and self.pool is None else []
        rest = itertools.chain(head, batches)
        if self.workers == 1 or not p.has_record_work() or (self.pool is None and len(head) < self.min_batches_for_workers):
            return self._here(p, rest)
        return self._in_workers(p, rest)

    def close(self) -> None:
        try:
            if self.pool is not None:
                if self._pending:
                    # The run stopped part way (Ctrl-C, an error): batches still in the workers are not wanted,
                    # and close() + join() would wait for every one of them.
                    self.pool.terminate()
                else:
                    self.pool.close()
                self.pool.join()
                self.pool = None
                self._pending.clear()
        finally:
            if self._caller_gc is not None:
                gc.unfreeze()
                gc.set_threshold(*self._caller_gc)
                self._caller_gc = None

    def _here(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]:
        for ps in p.segment:
            self._setup(ps.step)
        segment, prepare = p.segment, p.prepare
        for batch in batches:
            yield run_segment(segment, batch, prepare)

    def _in_workers(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]:
        pending = self._pending
        for batch in batches:
            self._start_pool()
            pending.append((self.pool.apply_async(_worker_run, (p.index, _encode_batch(batch))), batch))
            if len(pending) >= 2 * self.workers:
                job, sent = pending.popleft()
                yield _worker_result(job.get(), sent)
        while pending:
            job, sent = pending.popleft()
            yield _worker_result(job.get(), sent)

    def _start_pool(self) -> None:
        if self.pool is None:
            ctx = mp.get_context("spawn")
            self.pool = ctx.Pool(self.workers, initializer=_worker_init, initargs=(self._blob,))

    def _setup(self, step: Step) -> None:
        """Set a step up in this process, once."""
        if id(step) not in self._set_up:
            step.setup()
            self._set_up.add(id(step))


def worker_count(setting: int | str) -> int:
    """The number of worker processes a recipe's ``workers`` setting means (``auto``: the usable cores, at most 8)."""
    if setting == "auto":
        return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
    return max(1, int(setting))
