"""The pass runner: a plan's passes over the records, the global steps' observe and decide, the spool.

Each pass (see :mod:`.plan`) cuts its records into batches and hands them to an executor, which runs
the segment's streaming steps. The runner takes each batch's results in order: events and dropped
records go to the sink; each survivor is observed by the pass's chain of global steps (from the
compact state their ``prepare_batch`` made where the batch ran; all but the last decide at once)
and spooled to disk, or, in the last pass, kept. When every record was observed, the chain's steps
``finish``, and the next pass reads the spool back, asking the last of them for each record's
verdict. Memory is bounded by the batch size, the batches in flight, and what global steps keep.

When the next pass only asks a global step that decides by id (``decides_by_id``), and the sink
can encode kept records ahead (:meth:`~.sink.Sink.kept_encoder`), the spool holds each record
already encoded as the sink writes it, and the last pass writes a kept record without decoding it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson

from .. import jsoncodec
from ..jsoncodec import pack, unpack
from ..ledger import Event
from ..read.records import Reject
from ..record import Record
from ..step import Verdict
from .executor import Executor
from .plan import Pass, PipelineStep, Plan, as_global
from .rows import row
from .segment import RecordResult, add_flag, as_failure
from .sink import Sink
from .stats import RunTotals, StepStats, account

# ---- the spool ------------------------------------------------------------------------------------


class Spool:
    """One pass's survivors on disk, read back by the next pass.

    A line is a record's row (see :mod:`.rows`), or, with ``encode_kept``, a small ``[id, source, line]``
    header, a tab, and the record as ``encode_kept`` makes it (orjson escapes every tab and newline inside
    its strings, so the first tab ends the header and each line is one record).
    """

    def __init__(self, path: Path, encode_kept: Callable[[Record], bytes] | None = None):
        self.path = path
        self.encode_kept = encode_kept
        self._file = open(path, "wb")

    @property
    def encoded(self) -> bool:
        return self.encode_kept is not None

    def write(self, records: list[Record]) -> None:
        """Add a batch's survivors (in one write: a batch is far over the file's buffer)."""
        encode = self.encode_kept
        if encode is None:
            lines = [pack(row(r)) + b"\n" for r in records]
        else:
            lines = [orjson.dumps([r.id, (m := r.meta).get("source"), m.get("line")]) + b"\t" + encode(r) for r in records]
        self._file.write(b"".join(lines))

    def close(self) -> None:
        self._file.close()

    def records(self) -> Iterator[Record]:
        return read_spool(self.path)

    def encoded_records(self) -> Iterator[tuple[str, str | None, int | None, bytes]]:
        return read_encoded_spool(self.path)


def read_spool(path: Path) -> Iterator[Record]:
    with open(path, "rb") as f:
        for line in f:
            yield Record(*unpack(line))


def read_encoded_spool(path: Path) -> Iterator[tuple[str, str | None, int | None, bytes]]:
    """``(id, source, line, encoded record)`` of each line of an encoded spool."""
    with open(path, "rb") as f:
        for raw in f:
            head, encoded = raw.split(b"\t", 1)
            rec_id, src, line = orjson.loads(head)
            yield rec_id, src, line, encoded


# ---- a global step's verdicts ---------------------------------------------------------------------


class Decider:
    """One global step's verdicts carried out: asked for, timed and counted; a drop or a flag written."""

    __slots__ = ("step", "on_fail", "stats", "sink", "totals")

    def __init__(self, ps: PipelineStep, stats: StepStats, sink: Sink, totals: RunTotals):
        self.step = as_global(ps)
        self.on_fail = ps.on_fail
        self.stats = stats
        self.sink = sink
        self.totals = totals

    def keeps(self, rec: Record) -> bool:
        """Ask the step's verdict on a record and carry it out; True when the record goes on."""
        st = self.stats
        t0 = perf_counter()
        v = self.step.decide(rec)
        st.seconds += perf_counter() - t0
        st.seen += 1
        return v.action == "keep" or self.act(v, rec)

    def act(self, v: Verdict, rec: Record) -> bool:
        """Carry out a verdict other than keep (a drop, or a flag under ``on_fail: flag``): the event, the
        dropped record or the flag. True when the record goes on."""
        v = as_failure(v, self.on_fail)
        ev = Event.of(rec.id, rec.meta.get("source"), rec.meta.get("line"), self.step.name, v)
        self.stats.tally(f"{ev.action}:{ev.reason}")
        self.sink.event(ev)
        if v.action == "drop":
            self.sink.drop(rec, ev)
            self.totals.dropped += 1
            return False
        add_flag(rec, self.step.name, v.reason)
        return True


# ---- the passes -----------------------------------------------------------------------------------

# A chain member as the survivors meet it: its position, observe, stats, and its verdict asked at once
# (None for the chain's last step, asked in the next pass).
_Observer = tuple[int, Callable[[Record, Any], None], StepStats, Callable[[Record], bool] | None]


class PassRunner:
    """Runs a plan's passes over one run's records, handing the batches to ``executor``.

    ``stats`` are the plan's steps' stats in its order; ``set_up`` the ids of the steps already set up in
    this process (kept across runs of one pipeline); spool files go in ``spool_dir``.
    """

    def __init__(
        self,
        plan: Plan,
        executor: Executor,
        sink: Sink,
        stats: list[StepStats],
        totals: RunTotals,
        set_up: set[int],
        batch_size: int,
        spool_dir: Path,
        progress: Callable[[int], None] | None = None,
    ):
        self.plan = plan
        self.executor = executor
        self.sink = sink
        self.totals = totals
        self.set_up = set_up
        self.batch_size = batch_size
        self.spool_dir = spool_dir
        self.progress = progress
        self.stats_of = {id(ps): st for ps, st in zip(plan.steps, stats)}
        self.deciders = {id(ps): Decider(ps, self.stats_of[id(ps)], sink, totals) for ps in plan.global_steps}

    def run(self, items: Iterable[Record | Reject]) -> None:
        try:
            self.executor.start(self.plan)  # first: the executor may pickle the steps as the recipe built them
            self._set_up_global_steps()
            encode_kept = self.sink.kept_encoder()
            spool: Spool | None = None
            deciders: list[Decider] = []  # whose verdicts the records read back need, in order
            for p in self.plan.passes:
                if spool is None:
                    spool, deciders = self._run_pass(p, self._input_batches(items), encode_kept)
                elif spool.encoded:
                    self._decide_encoded(deciders, spool)  # the last pass, with nothing to run but this
                else:
                    spool, deciders = self._run_pass(p, self._decided_batches(deciders, spool.records()), encode_kept)
            if self.progress:
                self.progress(self.totals.input % 1000)
        finally:
            self.executor.close()

    def _set_up_global_steps(self) -> None:
        """Observe, finish and decide run in this process: set every global step up here, once."""
        for ps in self.plan.global_steps:
            if id(ps.step) not in self.set_up:
                ps.step.setup()
                self.set_up.add(id(ps.step))

    def _run_pass(
        self, p: Pass, batches: Iterator[list[Record]], encode_kept: Callable[[Record], bytes] | None
    ) -> tuple[Spool | None, list[Decider]]:
        """Run pass ``p`` over ``batches``: the spool of its survivors (None in the last pass: they were kept), and the
        global steps whose verdicts the next pass asks, in order."""
        # The executor may finish the chain where the batches ran: then nothing is observed here, and the next pass
        # asks every step of the chain (all but the last would have been asked on observing).
        on_cluster = bool(p.chain) and self.executor.finishes_chain(p)
        by_id = p.next_decides_by_id and (not on_cluster or all(as_global(ps).decides_by_id for ps in p.chain))
        spool = Spool(self.spool_dir / f"pass{p.index}.jsonl", encode_kept if by_id else None) if p.chain else None
        segment_stats = [self.stats_of[id(ps)] for ps in p.segment]
        chain_stats = [self.stats_of[id(ps)] for ps in p.chain]
        observers = self._observers(p)
        for results, counts in self.executor.map_pass(p, batches):
            account(segment_stats, counts)
            for st, seconds in zip(chain_stats, counts.prepare_seconds):
                st.seconds += seconds
            if spool is None:
                self._keep(results)
            elif on_cluster:
                self._observe(results, [], spool)
            else:
                self._observe(results, observers, spool)
        if spool is None:
            return None, []
        spool.close()
        if on_cluster:
            for j, st in enumerate(chain_stats):
                t0 = perf_counter()
                self.executor.finish_chain_step(p, j)
                st.seconds += perf_counter() - t0
            return spool, [self.deciders[id(ps)] for ps in p.chain]
        self._finish(p)
        return spool, [self.deciders[id(p.chain[-1])]]

    # -- a pass's records in -----------------------------------------------------------------------

    def _input_batches(self, items: Iterable[Record | Reject]) -> Iterator[list[Record]]:
        """The first pass's batches. Every item counts as input; a ``Reject`` (a line that could not be read)
        is dropped here with its reason."""
        progress, size = self.progress, self.batch_size
        n_input = self.totals.input
        batch: list[Record] = []
        try:
            for item in items:
                n_input += 1
                if isinstance(item, Reject):
                    self._reject(item)
                    continue
                if progress and n_input % 1000 == 0:
                    progress(1000)
                batch.append(item)
                if len(batch) >= size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            self.totals.input = n_input

    def _reject(self, item: Reject) -> None:
        self.totals.read_problem(item)
        ev = Event(item.id, item.source, item.line, "read", "drop", item.reason, detail=item.detail)
        self.sink.event(ev)
        self.sink.drop(item, ev)
        self.totals.dropped += 1

    def _decided_batches(self, deciders: list[Decider], records: Iterable[Record]) -> Iterator[list[Record]]:
        """A later pass's batches: the spooled records that the previous pass's global steps keep (asked in order)."""
        if len(deciders) == 1:
            keeps = deciders[0].keeps
        else:
            asks = [d.keeps for d in deciders]

            def keeps(rec: Record) -> bool:
                return all(k(rec) for k in asks)  # the first step that drops it ends its way

        size = self.batch_size
        batch: list[Record] = []
        for rec in records:
            if not keeps(rec):
                continue
            batch.append(rec)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    # -- a batch's results out ---------------------------------------------------------------------

    def _keep(self, results: list[RecordResult]) -> None:
        """The last pass's results: every event written, each record dropped or kept."""
        event, drop, keep = self.sink.event, self.sink.drop, self.sink.keep
        kept = dropped = 0
        for rec, events, was_dropped, _ in results:
            for ev in events:
                event(ev)
            if was_dropped:
                drop(rec, events[-1])
                dropped += 1
            else:
                keep(rec)
                kept += 1
        self.totals.kept += kept
        self.totals.dropped += dropped

    def _observers(self, p: Pass) -> list[_Observer]:
        last = len(p.chain) - 1
        return [
            (j, as_global(ps).observe, self.stats_of[id(ps)], self.deciders[id(ps)].keeps if j < last else None)
            for j, ps in enumerate(p.chain)
        ]

    def _observe(self, results: list[RecordResult], observers: list[_Observer], spool: Spool) -> None:
        """A pass's results before a chain of global steps: every event written, a dropped record dropped,
        a survivor observed by each global step in turn and spooled."""
        event, drop = self.sink.event, self.sink.drop
        clock = perf_counter
        survivors = []
        dropped = 0
        for rec, events, was_dropped, prepared in results:
            for ev in events:
                event(ev)
            if was_dropped:
                drop(rec, events[-1])
                dropped += 1
                continue
            for j, observe, st, keeps in observers:
                t0 = clock()
                observe(rec, prepared[j] if prepared is not None else None)
                st.seconds += clock() - t0
                # Not the last: its verdict is final already (decides_on_observe), asked now.
                if keeps is not None and not keeps(rec):
                    break
            else:
                survivors.append(rec)
        self.totals.dropped += dropped
        spool.write(survivors)

    def _finish(self, p: Pass) -> None:
        for ps in p.chain:
            st = self.stats_of[id(ps)]
            t0 = perf_counter()
            as_global(ps).finish()
            st.seconds += perf_counter() - t0

    def _decide_encoded(self, deciders: list[Decider], spool: Spool) -> None:
        """The last pass over an encoded spool: the global step decides each record by id; a kept one is written
        as it was encoded, a dropped or flagged one is decoded (it is the native record) and goes the usual way."""
        if len(deciders) > 1:
            return self._decide_encoded_chain(deciders, spool)
        decider = deciders[0]
        decide, act, st = decider.step.decide, decider.act, decider.stats
        keep, keep_encoded = self.sink.keep, self.sink.keep_encoded
        clock = perf_counter
        seconds = 0.0
        seen = kept = 0
        for rec_id, src, line, encoded in spool.encoded_records():
            t0 = clock()
            v = decide(Record(rec_id, meta={"source": src, "line": line}))  # decides_by_id: the id is all it reads
            seconds += clock() - t0
            seen += 1
            if v.action == "keep":
                keep_encoded(encoded, rec_id, src, line)
                kept += 1
                continue
            rec = Record.from_dict(jsoncodec.loads(encoded))
            if act(v, rec):
                keep(rec)
                kept += 1
        st.seconds += seconds
        st.seen += seen
        self.totals.kept += kept

    def _decide_encoded_chain(self, deciders: list[Decider], spool: Spool) -> None:
        """``_decide_encoded`` with several global steps asked in order (a chain finished by the executor)."""
        keep, keep_encoded = self.sink.keep, self.sink.keep_encoded
        clock = perf_counter
        kept = 0
        for rec_id, src, line, encoded in spool.encoded_records():
            by_id = Record(rec_id, meta={"source": src, "line": line})  # decides_by_id: the id is all they read
            rec: Record | None = None
            for d in deciders:
                t0 = clock()
                v = d.step.decide(by_id)
                d.stats.seconds += clock() - t0
                d.stats.seen += 1
                if v.action == "keep":
                    continue
                if rec is None:
                    rec = Record.from_dict(jsoncodec.loads(encoded))
                if not d.act(v, rec):
                    break
            else:
                if rec is None:
                    keep_encoded(encoded, rec_id, src, line)
                else:
                    keep(rec)
                kept += 1
        self.totals.kept += kept
