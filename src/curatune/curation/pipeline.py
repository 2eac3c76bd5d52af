"""The pipeline: runs steps over a stream of records, counts, times, and records every decision.

Steps between two global steps form a *segment* that runs on batches,
in worker processes when ``workers > 1``. A global step splits the run into
passes: on the first pass it ``observe``s every surviving record (compact
state prepared in the workers) while the records are spooled to disk; after
``finish`` a second pass reads the spool, asks ``decide`` for each record and
goes on with the next segment. Memory is bounded by the batch size, the
number of batches in flight, and what global steps keep.

A global step whose verdict is final as soon as it has observed a record
(``decides_on_observe``, e.g. exact dedup keeping the first copy) is decided
right there, and when no streaming step follows it the next global step
observes the survivors in the same pass: the default recipe's exact and MinHash
dedup share one pass instead of taking one each.

The pipeline writes through a :class:`Sink` (kept, dropped, ledger) and
checks ``input == kept + dropped`` at the end.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing as mp
import os
import pickle
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from ..errors import ConsistencyError
from .ledger import Event
from .read.records import Reject
from .record import Record
from .step import Edit, Filter, Flag, GlobalStep, Mapper, Scorer, Step, Verdict
from .write.writers import dumps


@dataclass
class PipelineStep:
    step: Step
    on_fail: str = "drop"  # drop | flag: what a failed check does


@dataclass
class StepStats:
    name: str
    kind: str
    seen: int = 0
    dropped: int = 0
    flagged: int = 0
    modified: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

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


class Sink(Protocol):
    def keep(self, rec: Record) -> None: ...
    def drop(self, item: Record | Reject, event: Event) -> None: ...
    def event(self, event: Event) -> None: ...


@dataclass
class PipelineResult:
    input: int
    kept: int
    dropped: int
    seconds: float
    steps: list[StepStats]
    read_problems: Counter
    read_problem_examples: list[dict]

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


# ---- running one segment on one batch (in the main process or a worker) ---------------------


def _change_detail(old: Record, new: Record) -> str:
    before = dict(old.text_fields())
    changed = [f"{path}: {len(before.get(path, ''))}->{len(text)} chars" for path, text in new.text_fields() if before.get(path) != text]
    return "; ".join(changed) if changed else "no text change"


def _as_failure(v: Verdict, on_fail: str) -> Verdict:
    if v.action == "drop" and on_fail == "flag":
        return Flag(v.reason or "flagged", v.value, v.threshold, duplicate_of=v.duplicate_of, detail=v.detail)
    return v


def _add_flag(rec: Record, step: str, reason: str | None) -> None:
    rec.meta.setdefault("flags", []).append(f"{step}:{reason}")


@dataclass
class SegmentCounts:
    """Per step of a segment: seconds spent, records seen, and ``action:reason`` counts; and the
    seconds each global step of the pass took to ``prepare`` the batch."""

    seconds: list[float]
    seen: list[int]
    outcomes: list[Counter]
    prepare_seconds: list[float] = field(default_factory=list)
    changed: list[bool] = field(default_factory=list)


_FILTER, _MAPPER, _SCORER = 0, 1, 2


def _kind_code(step: Step) -> int:
    if isinstance(step, Filter):
        return _FILTER
    if isinstance(step, Mapper):
        return _MAPPER
    if isinstance(step, Scorer):
        return _SCORER
    raise TypeError(f"{type(step).__name__} is not a Filter, Mapper or Scorer and cannot run on batches")


def run_segment(
    steps: list[PipelineStep], batch: list[Record], prepare: list[GlobalStep]
) -> tuple[list[tuple[Record, list[Event], bool, Any]], SegmentCounts]:
    """Apply streaming steps to a batch; return per record ``(record, events, dropped, prepared)`` and the counts.

    ``prepared`` is a tuple with each ``prepare`` step's state of the record (None for a dropped record).
    ``SegmentCounts.changed`` says, per record, whether the steps changed it (a mapper's edit, a flag or a
    score): an unchanged record is the very object that came in.
    """
    seconds = [0.0] * len(steps)
    seen = [0] * len(steps)
    outcomes = [Counter() for _ in steps]
    # The kind of each step once per batch, not once per record and step.
    plan = [(i, ps.step, _kind_code(ps.step), ps.on_fail) for i, ps in enumerate(steps)]
    out = []
    changed_list = []
    clock = time.perf_counter
    for rec in batch:
        events: list[Event] = []
        dropped = False
        changed = False
        src, line = rec.meta.get("source"), rec.meta.get("line")
        for i, step, kind, on_fail in plan:
            seen[i] += 1
            t0 = clock()
            if kind == _FILTER:
                v = step.keep(rec)
                if v.action != "keep":
                    v = _as_failure(v, on_fail)
                    events.append(Event.of(rec.id, src, line, step.name, v))
                    outcomes[i][f"{v.action}:{v.reason}"] += 1
                    if v.action == "drop":
                        seconds[i] += clock() - t0
                        dropped = True
                        break
                    _add_flag(rec, step.name, v.reason)
                    changed = True
            elif kind == _MAPPER:
                edit: Edit | None = step.apply(rec)
                if edit is not None and not edit.record.content_equal(rec):
                    detail = edit.detail if edit.detail is not None else _change_detail(rec, edit.record)
                    events.append(Event(rec.id, src, line, step.name, "modify", edit.reason, detail=detail))
                    outcomes[i][f"modify:{edit.reason}"] += 1
                    rec = edit.record
                    changed = True
            else:
                score = step.score(rec)
                scores = rec.meta.setdefault("scores", {})
                if isinstance(score, dict):
                    scores.update(score)
                else:
                    scores[step.name] = score
                changed = True
            seconds[i] += clock() - t0
        out.append((rec, events, dropped, None))
        changed_list.append(changed)
    prepare_seconds = [0.0] * len(prepare)
    kept = [i for i, r in enumerate(out) if not r[2]] if prepare else []
    if kept:
        # The pass's global steps' per-record state, for the batch at once (MinHash vectorises over records).
        recs = [out[i][0] for i in kept]
        states = []
        for j, g in enumerate(prepare):
            t0 = clock()
            states.append(g.prepare_batch(recs))
            prepare_seconds[j] = clock() - t0
        for i, prepared in zip(kept, zip(*states)):
            out[i] = (*out[i][:3], prepared)
    return out, SegmentCounts(seconds, seen, outcomes, prepare_seconds, changed_list)


_WORKER_SEGMENTS: list[list[PipelineStep]] = []
_WORKER_GLOBALS: list[list[GlobalStep]] = []


def _worker_init(blob: bytes) -> None:
    global _WORKER_SEGMENTS, _WORKER_GLOBALS
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # two torch threads on two busy cores crawl
    _WORKER_SEGMENTS, _WORKER_GLOBALS = pickle.loads(blob)
    for seg in _WORKER_SEGMENTS:
        for ps in seg:
            ps.step.setup()
    for chain in _WORKER_GLOBALS:
        for g in chain:
            g.setup()
    _fewer_collections()


# Steps allocate many short-lived lists, sets and tuples per record, and the cyclic collector's default
# (a young-generation pass every 700 allocations, full passes over every long-lived object: loaded models,
# word lists, memos) cost workers 3 to 6% of their time. What setup loaded is moved out of the collector's
# sight (gc.freeze), and the young generation is collected every 20,000 allocations: reference counting
# frees everything else at once, and the few cycles still go.
_GC_THRESHOLD = (20_000, 20, 20)


def _fewer_collections() -> None:
    gc.freeze()  # (gc.unfreeze() gives the objects back to the oldest generation)
    gc.set_threshold(*_GC_THRESHOLD)


# Records cross the process boundary as orjson-encoded batches: half the cost of pickling
# Record objects, and that cost is paid twice per record in the main process. Each record is a
# list of its fields in Record's order (cheaper to build and read back than a dict), and only
# within one run: the spool between passes uses the same rows.
_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY


def _row(r: Record) -> list:
    return [r.id, r.messages, r.text, r.label, r.chosen, r.rejected, r.meta]


def _encode_batch(batch: list[Record]) -> bytes:
    return orjson.dumps([_row(r) for r in batch], option=_JSON_OPTS)


def _decode_batch(payload: bytes) -> list[Record]:
    return [Record(*row) for row in orjson.loads(payload)]


def _worker_run(seg_index: int, payload: bytes):
    prepare = _WORKER_GLOBALS[seg_index] if seg_index < len(_WORKER_GLOBALS) else []
    results, counts = run_segment(_WORKER_SEGMENTS[seg_index], _decode_batch(payload), prepare)
    # Only changed records travel back (most records pass every step untouched): the main process still
    # holds the batch it sent, and uses its own copy of the others.
    records = orjson.dumps([_row(rec) if changed else None for (rec, *_), changed in zip(results, counts.changed)], option=_JSON_OPTS)
    counts.changed = []
    return records, [(events, dropped, prepared) for _, events, dropped, prepared in results], counts


def _worker_result(raw, sent: list[Record]) -> tuple[list, SegmentCounts]:
    payload, rest, counts = raw
    back = orjson.loads(payload)
    return [(rec if row is None else Record(*row), *r) for rec, row, r in zip(sent, back, rest)], counts


# ---- the pipeline ---------------------------------------------------------------------------


class Pipeline:
    def __init__(
        self,
        steps: list[PipelineStep],
        workers: int = 1,
        batch_size: int = 256,
        spool_dir: Path | None = None,
        min_batches_for_workers: int = 8,
    ):
        self.steps = steps
        self.workers = max(1, workers)
        self.min_batches_for_workers = min_batches_for_workers
        self._set_up: set[int] = set()
        self.batch_size = batch_size
        self.spool_dir = spool_dir
        # Segments of streaming steps, separated by chains of global steps: a pass runs segment k, then
        # the chain's steps observe each survivor in turn; all but the last decide on observing.
        self.segments: list[list[PipelineStep]] = [[]]
        self.globals: list[list[PipelineStep]] = []
        for ps in steps:
            if not isinstance(ps.step, GlobalStep):
                self.segments[-1].append(ps)
            elif self.globals and not self.segments[-1] and self.globals[-1][-1].step.decides_on_observe():
                self.globals[-1].append(ps)  # nothing between, and the previous one needs no second pass
            else:
                self.globals.append([ps])
                self.segments.append([])
        self.stats = {ps.step.name + f"#{i}": StepStats(ps.step.name, ps.step.kind) for i, ps in enumerate(steps)}
        self._stat_list = list(self.stats.values())
        self._stats_of = {id(ps): st for ps, st in zip(steps, self._stat_list)}
        self._pool: Any = None
        self._blob = b""

    def _setup(self, step: Step) -> None:
        """Set a step up in this process, once."""
        if id(step) not in self._set_up:
            step.setup()
            self._set_up.add(id(step))

    def _segment_stats(self, k: int) -> list[StepStats]:
        """Stats of the steps of segment k, in order."""
        return [self._stats_of[id(ps)] for ps in self.segments[k]]

    def _start_pool(self) -> None:
        if self._pool is None and self.workers > 1:
            ctx = mp.get_context("spawn")
            self._pool = ctx.Pool(self.workers, initializer=_worker_init, initargs=(self._blob,))

    def _process(self, k: int, batches: Iterable[list[Record]]) -> Iterator[tuple[list, SegmentCounts]]:
        """Results of segment k on each batch, in order, with a bounded number in flight."""
        prepare = [ps.step for ps in self.globals[k]] if k < len(self.globals) else []
        batches = iter(batches)
        # Starting worker processes costs seconds (each imports and sets up every step), so a
        # small input is processed here; the pool starts once the input proves big enough.
        # A pass with no per-record work (e.g. between two global steps) is not worth shipping to workers.
        nothing_to_do = not self.segments[k] and all(
            type(g).prepare is GlobalStep.prepare and type(g).prepare_batch is GlobalStep.prepare_batch for g in prepare
        )
        head = list(itertools.islice(batches, self.min_batches_for_workers)) if self.workers > 1 and self._pool is None else []
        if self.workers == 1 or nothing_to_do or (self._pool is None and len(head) < self.min_batches_for_workers):
            for ps in self.segments[k]:
                self._setup(ps.step)
            for batch in itertools.chain(head, batches):
                yield run_segment(self.segments[k], batch, prepare)
            return
        pending: deque = deque()
        for batch in itertools.chain(head, batches):
            self._start_pool()
            pending.append((self._pool.apply_async(_worker_run, (k, _encode_batch(batch))), batch))
            if len(pending) >= 2 * self.workers:
                job, sent = pending.popleft()
                yield _worker_result(job.get(), sent)
        while pending:
            job, sent = pending.popleft()
            yield _worker_result(job.get(), sent)

    def run(self, items: Iterable[Record | Reject], sink: Sink, progress: Callable[[int], None] | None = None) -> PipelineResult:
        # The main process allocates as the workers do (records, events, ledger columns): the same collector
        # settings for the run, and the caller's back afterwards.
        threshold = gc.get_threshold()
        _fewer_collections()
        try:
            return self._run(items, sink, progress)
        finally:
            gc.unfreeze()
            gc.set_threshold(*threshold)

    def _run(self, items: Iterable[Record | Reject], sink: Sink, progress: Callable[[int], None] | None) -> PipelineResult:
        t_start = time.perf_counter()
        if self.workers > 1:
            # Pickled before setup(): workers run their own setup, and what setup loads (a model, a
            # tokenizer) need not be picklable.
            self._blob = pickle.dumps((self.segments, [[g.step for g in chain] for chain in self.globals]))
        for ps in self.steps:
            # With workers, per-record steps run there; the main process needs only the global steps
            # (and the others only if the input turns out too small for a pool: see _process).
            if self.workers == 1 or isinstance(ps.step, GlobalStep):
                self._setup(ps.step)
        counts = Counter()
        read_problems: Counter = Counter()
        examples: list[dict] = []
        spool_root = Path(tempfile.mkdtemp(prefix="spool-", dir=self.spool_dir))
        encode_kept = sink.kept_encoder() if hasattr(sink, "kept_encoder") else None
        try:
            source: Iterable[Record | Reject] = items
            for k in range(len(self.segments)):
                # The global step deciding the records read back at the start of this pass, and the chain
                # of global steps that observes this pass's survivors.
                g_prev = self.globals[k - 1][-1] if k > 0 else None
                if k > 0 and encoded_spool:
                    self._decide_encoded(g_prev, _read_encoded_spool(spool_path), sink, counts)
                    break
                chain = self.globals[k] if k < len(self.globals) else []
                spool_path = spool_root / f"pass{k}.jsonl"
                spool = open(spool_path, "wb") if chain else None
                # The last pass only asks the last global step by id and writes what it keeps: its records are
                # spooled already encoded as the sink writes them (ahead of a small [id, source, line] header),
                # and only a dropped or flagged one is decoded again.
                encoded_spool = (
                    encode_kept is not None and k == len(self.segments) - 2 and not self.segments[k + 1] and chain[-1].step.decides_by_id
                )

                def batches(src: Iterable[Record | Reject], k=k, g_prev=g_prev) -> Iterator[list[Record]]:
                    batch: list[Record] = []
                    for item in src:
                        if isinstance(item, Reject):
                            counts["input"] += 1
                            read_problems[item.reason] += 1
                            if len(examples) < 50:
                                examples.append({"source": item.source, "line": item.line, "reason": item.reason, "detail": item.detail})
                            ev = Event(item.id, item.source, item.line, "read", "drop", item.reason, detail=item.detail)
                            sink.event(ev)
                            sink.drop(item, ev)
                            counts["dropped"] += 1
                            continue
                        if k == 0:
                            counts["input"] += 1
                            if progress and counts["input"] % 1000 == 0:
                                progress(1000)
                        if g_prev is not None and not self._decide(g_prev, item, sink, counts):
                            continue
                        batch.append(item)
                        if len(batch) >= self.batch_size:
                            yield batch
                            batch = []
                    if batch:
                        yield batch

                seg_stats = self._segment_stats(k)
                chain_stats = [self._stats_of[id(g)] for g in chain]
                last = len(chain) - 1
                for results, seg_counts in self._process(k, batches(source)):
                    self._account(seg_stats, seg_counts)
                    for st, seconds in zip(chain_stats, seg_counts.prepare_seconds):
                        st.seconds += seconds
                    for rec, events, dropped, prepared in results:
                        for ev in events:
                            sink.event(ev)
                        if dropped:
                            sink.drop(rec, events[-1])
                            counts["dropped"] += 1
                        elif chain:
                            for j, g in enumerate(chain):
                                t0 = time.perf_counter()
                                g.step.observe(rec, prepared[j] if prepared is not None else None)
                                chain_stats[j].seconds += time.perf_counter() - t0
                                # Not the last: its verdict is final already (decides_on_observe), asked now.
                                if j < last and not self._decide(g, rec, sink, counts):
                                    break
                            else:
                                if encoded_spool:
                                    meta = rec.meta
                                    spool.write(orjson.dumps([rec.id, meta.get("source"), meta.get("line")]) + b"\t" + encode_kept(rec))
                                else:
                                    spool.write(dumps(_row(rec)))
                        else:
                            sink.keep(rec)
                            counts["kept"] += 1
                if chain:
                    spool.close()
                    for g, st in zip(chain, chain_stats):
                        t0 = time.perf_counter()
                        g.step.finish()
                        st.seconds += time.perf_counter() - t0
                    source = _read_spool(spool_path)
            if progress:
                progress(counts["input"] % 1000)
        finally:
            if self._pool is not None:
                self._pool.close()
                self._pool.join()
                self._pool = None
            shutil.rmtree(spool_root, ignore_errors=True)

        result = PipelineResult(
            input=counts["input"],
            kept=counts["kept"],
            dropped=counts["dropped"],
            seconds=time.perf_counter() - t_start,
            steps=self._stat_list,
            read_problems=read_problems,
            read_problem_examples=examples,
        )
        if result.input != result.kept + result.dropped:
            raise ConsistencyError(
                f"The run lost track of records: {result.input} went in, {result.kept} kept + {result.dropped} dropped. "
                "This is a bug in curatune; please report it with the recipe."
            )
        return result

    def _decide_encoded(
        self, g: PipelineStep, spooled: Iterator[tuple[str, str | None, int | None, bytes]], sink: Sink, counts: Counter
    ) -> None:
        """The last pass over an encoded spool: ``g`` decides each record by id; a kept one is written as it was
        encoded, a dropped or flagged one is decoded (it is the native record) and goes the usual way."""
        st = self._stats_of[id(g)]
        clock = time.perf_counter
        seconds = 0.0
        for rec_id, src, line, encoded in spooled:
            t0 = clock()
            v = g.step.decide(Record(rec_id, meta={"source": src, "line": line}))  # decides_by_id: the id is all it reads
            seconds += clock() - t0
            st.seen += 1
            if v.action == "keep":
                sink.keep_encoded(encoded, rec_id, src, line)
                counts["kept"] += 1
                continue
            rec = Record.from_dict(orjson.loads(encoded))
            if self._act(g, v, rec, sink, counts):
                sink.keep(rec)
                counts["kept"] += 1
        st.seconds += seconds

    def _decide(self, g: PipelineStep, rec: Record, sink: Sink, counts: Counter) -> bool:
        """Ask a global step's verdict on a record, write the event; True when the record goes on."""
        st = self._stats_of[id(g)]
        t0 = time.perf_counter()
        v = g.step.decide(rec)
        st.seconds += time.perf_counter() - t0
        st.seen += 1
        return v.action == "keep" or self._act(g, v, rec, sink, counts)

    def _act(self, g: PipelineStep, v: Verdict, rec: Record, sink: Sink, counts: Counter) -> bool:
        """Carry out a global step's verdict other than keep (a drop, or a flag under ``on_fail: flag``): the
        event, the dropped record or the flag. True when the record goes on."""
        v = _as_failure(v, g.on_fail)
        ev = Event.of(rec.id, rec.meta.get("source"), rec.meta.get("line"), g.step.name, v)
        self._count(self._stats_of[id(g)], ev)
        sink.event(ev)
        if v.action == "drop":
            sink.drop(rec, ev)
            counts["dropped"] += 1
            return False
        _add_flag(rec, g.step.name, v.reason)
        return True

    @staticmethod
    def _account(seg_stats: list[StepStats], c: SegmentCounts) -> None:
        for st, seconds, seen, outcomes in zip(seg_stats, c.seconds, c.seen, c.outcomes):
            st.seconds += seconds
            st.seen += seen
            for key, n in outcomes.items():
                Pipeline._tally(st, key, n)

    @staticmethod
    def _tally(st: StepStats, key: str, n: int = 1) -> None:
        action = key.split(":", 1)[0]
        if action == "drop":
            st.dropped += n
        elif action == "flag":
            st.flagged += n
        elif action == "modify":
            st.modified += n
        st.reasons[key] += n

    def _count(self, st: StepStats, ev: Event) -> None:
        self._tally(st, f"{ev.action}:{ev.reason}")


def _read_encoded_spool(path: Path) -> Iterator[tuple[str, str | None, int | None, bytes]]:
    """``(id, source, line, encoded record)`` of each line of an encoded spool (orjson escapes every tab and
    newline inside its strings, so the first tab ends the header and each line is one record)."""
    with open(path, "rb") as f:
        for raw in f:
            head, encoded = raw.split(b"\t", 1)
            rec_id, src, line = orjson.loads(head)
            yield rec_id, src, line, encoded


def _read_spool(path: Path) -> Iterator[Record]:
    with open(path, "rb") as f:
        for line in f:
            yield Record(*orjson.loads(line))


def worker_count(setting: int | str) -> int:
    if setting == "auto":
        return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
    return max(1, int(setting))
