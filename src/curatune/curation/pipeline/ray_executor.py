"""The Ray executor: a pass's batches as Ray Data ``map_batches`` work on a Ray cluster (issue 19).

Implements :class:`~.executor.Executor`, beside the local executor it must equal: the same
:func:`~.segment.run_segment` runs on the same batches, and the results come back in input order, so
the pass runner writes the same ledger, kept and dropped records as with the local executor.

How a pass runs:

- The driver (this process) reads the input and cuts it into the runner's batches, as the local
  executor does. Each batch becomes one row of a Ray Dataset (its records as orjson rows, as the local
  executor's worker processes get them); a *window* of batches is one Dataset, so that reading here
  and the work on the cluster overlap and the object store holds a bounded number of records.
- One ``map_batches`` runs the whole segment (every streaming step of the pass fused into one
  function) on each row and adds the result columns: the rows of the records a step changed, each
  record's events, drop flag and prepared state for the global steps, and the counts. Nothing is
  dropped on the cluster: every record comes back with its verdicts, and the runner writes the ledger.
- A segment whose steps have a costly ``setup`` (a model, a tokenizer, fastText) runs in an actor
  pool (``map_batches`` with a callable class, ``concurrency=workers``, one GPU each with ``gpus``);
  the others as tasks, each Ray worker process setting the steps up once and keeping them for every
  later task of the run.
- Global steps that can finish on the cluster (``finishes_on_cluster``: exact and MinHash dedup) when every
  step of the pass's chain can: their ``prepare_batch`` state stays on the cluster, one value per runner
  batch (:func:`~..cluster.batch_state`: each survivor's position in the pass, its id, the steps' columns)
  in the blocks of a materialised Dataset per window, and never crosses to the driver. After the pass,
  each step's ``finish_on`` runs over a :class:`RayCluster`: a hash shuffle as Ray tasks next to the blocks
  (exact dedup's groups; MinHash's band buckets, which give candidate pairs), and the rows it asks for
  read back (the signatures of candidate pairs; ids and ranks of cluster members). MinHash's verification
  and connected components run on the driver, in the same code as the local step. Every other global step
  (selection, semantic dedup) observes, finishes and decides on the driver, fed the compact state made on
  the cluster, as before.

``ray`` is an optional dependency (``pip install curatune[ray]``); it is imported when a run starts.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ...errors import RecipeError
from ..cluster import BlockCluster, batch_state, gather, map_columns, pos_range, rows_of, step_columns
from ..jsoncodec import pack, unpack
from ..record import Record
from ..step import GlobalStep, Step
from .executor import BatchResult
from .plan import Pass, Plan, as_global
from .rows import row
from .segment import run_segment

# ---- on the cluster -------------------------------------------------------------------------------

# Per Ray worker process: the passes of the runs it served, by the key of their pickled steps, set up once.
_SET_UP: dict[str, list[tuple[Any, list[GlobalStep]]]] = {}


def _passes(key: str, blob: bytes) -> list[tuple[Any, list[GlobalStep]]]:
    passes = _SET_UP.get(key)
    if passes is None:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        passes = pickle.loads(blob)
        for segment, prepare in passes:
            for ps in segment:
                ps.step.setup()
            for g in prepare:
                g.setup()
        _SET_UP.clear()  # one run's steps at a time in a worker
        _SET_UP[key] = passes
    return passes


def _run_rows(passes: list[tuple[Any, list[GlobalStep]]], pass_index: int, keep_state: bool, batch: dict[str, Any]) -> dict[str, Any]:
    """The segment on each row (one runner batch) of a Ray batch: the result columns. ``keep_state``: the global steps'
    prepared state goes to the ``state`` column (it stays on the cluster), not back with the verdicts."""
    segment, prepare = passes[pass_index]
    changed_rows, verdicts, counts, states = [], [], [], []
    for payload, base in zip(batch["records"], batch["base"]):
        results, c = run_segment(segment, [Record(*r) for r in unpack(payload)], prepare)
        # Only changed records travel back (most pass every step untouched): the driver still holds the batch.
        changed_rows.append(pack([row(rec) if ch else None for (rec, *_), ch in zip(results, c.changed)]))
        c.changed = []
        if keep_state:
            alive = [(int(base) + k, rec, prepared) for k, (rec, _, dropped, prepared) in enumerate(results) if not dropped]
            recs = [r for _, r, _ in alive]
            states.append(batch_state(recs, [k for k, _, _ in alive], prepare, [p for _, _, p in alive]) if alive else b"")
            verdicts.append(pickle.dumps([(events, dropped, None) for _, events, dropped, _ in results], protocol=5))
        else:
            states.append(b"")
            verdicts.append(pickle.dumps([(events, dropped, prepared) for _, events, dropped, prepared in results], protocol=5))
        counts.append(pickle.dumps(c, protocol=5))
    return {"index": batch["index"], "changed": changed_rows, "verdicts": verdicts, "counts": counts, "state": states}


class _SegmentFn:
    """A segment as a ``map_batches`` task function (steps set up once per Ray worker process)."""

    def __init__(self, key: str, blob_ref: Any, pass_index: int, keep_state: bool):
        self.key, self.blob_ref, self.pass_index, self.keep_state = key, blob_ref, pass_index, keep_state

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        passes = _SET_UP.get(self.key)
        if passes is None:
            import ray

            passes = _passes(self.key, ray.get(self.blob_ref))
        return _run_rows(passes, self.pass_index, self.keep_state, batch)


class _SegmentActor:
    """A segment as a ``map_batches`` actor: steps with a costly setup load once per actor of the pool."""

    def __init__(self, key: str, blob_ref: Any, pass_index: int, keep_state: bool):
        import ray

        self.passes = _passes(key, ray.get(blob_ref[0]))
        self.pass_index, self.keep_state = pass_index, keep_state

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return _run_rows(self.passes, self.pass_index, self.keep_state, batch)


# ---- global steps on the cluster --------------------------------------------------------------------


def _block_columns(table: Any, step: int, excluded: np.ndarray) -> dict[str, Any]:
    return step_columns(table.column("state").to_pylist(), step, excluded)


def _map_block(table: Any, step: int, excluded: np.ndarray, parts: int, map_fn: Any, *args: Any) -> Any:
    out = map_columns(_block_columns(table, step, excluded), parts, map_fn, *args)
    return out if parts > 1 else out[0]  # (one return: Ray stores the value itself, not a list of one)


def _reduce_part(reduce_fn: Any, args: tuple[Any, ...], *pieces: Any) -> Any:
    return reduce_fn(list(pieces), *args)


def _verdict_columns(table: Any) -> list[dict[str, Any]]:
    """A block's rows without their state: what the driver reads of a pass whose state stays on the cluster."""
    rows: list[dict[str, Any]] = table.select(["index", "changed", "verdicts", "counts"]).to_pylist()
    return rows


def _range_block(table: Any) -> tuple[int, int]:
    return pos_range(_block_columns(table, 0, np.empty(0, np.int64)))


def _rows_block(table: Any, step: int, excluded: np.ndarray, columns: tuple[str, ...], positions: np.ndarray) -> Any:
    return rows_of(_block_columns(table, step, excluded), columns, positions)


class RayCluster(BlockCluster):
    """:class:`~..step.Cluster` over blocks in Ray's object store (Arrow tables with a ``state`` column): the shuffle's
    maps and reduces, and the row reads, run as Ray tasks where Ray places them (next to the blocks when it can)."""

    def __init__(self, blocks: list[Any], step: int, excluded: np.ndarray, parts: int):
        import ray

        super().__init__(blocks, step, excluded, parts)
        self._excluded_ref = ray.put(self.excluded)
        self._ranges: np.ndarray | None = None  # each block's lowest and highest position, asked on the first read

    def _run_shuffle(self, map_fn: Any, reduce_fn: Any, args: tuple[Any, ...]) -> Iterator[Any]:
        import ray

        mapper = ray.remote(_map_block).options(num_returns=self.parts)
        mapped = [mapper.remote(b, self.step, self._excluded_ref, self.parts, map_fn, *args) for b in self.blocks]
        if self.parts == 1:
            mapped = [[m] for m in mapped]
        reducer = ray.remote(_reduce_part)
        reduced = [reducer.remote(reduce_fn, args, *[m[p] for m in mapped]) for p in range(self.parts)]
        for ref in reduced:  # one part's result here at a time
            yield ray.get(ref)

    def _fetch_many(self, columns: tuple[str, ...], positions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        import ray

        if self._ranges is None:
            self._ranges = np.array(ray.get([ray.remote(_range_block).remote(b) for b in self.blocks]), dtype=np.int64).reshape(-1, 2)
        # Only the blocks whose range holds a wanted position are read.
        lo, hi = self._ranges[:, 0], self._ranges[:, 1]
        holds = np.searchsorted(positions, lo, side="left") < np.searchsorted(positions, hi, side="right")
        reader, want = ray.remote(_rows_block), ray.put(positions)
        found = ray.get([reader.remote(b, self.step, self._excluded_ref, columns, want) for b, h in zip(self.blocks, holds.tolist()) if h])
        return gather(found, len(columns))


def heavy_setup(step: Step) -> bool:
    """True when a step loads something in ``setup`` (its class overrides it): it then runs in an actor pool."""
    return type(step).setup is not Step.setup


# ---- the executor ---------------------------------------------------------------------------------


class RayExecutor:
    """Runs a plan's batches with Ray Data on a Ray cluster: a local one of ``workers`` CPUs, or the one at ``address``.

    ``window``: runner batches per Ray Dataset (records in the object store at once: about
    ``window x batch_size``). ``gpus``: GPUs per actor for segments with a costly setup (0: CPU).
    ``global_on_cluster``: finish the global steps that can (exact and MinHash dedup) on the cluster (False, the
    default: every global step on the driver, fed the compact state; the recipe's ``curate.global_steps``). The
    cluster path keeps the driver's memory flat but reads the state once per verification chunk of MinHash
    candidate pairs: slower where near duplicates are many (see bench/RESULTS.md, issue 19 round 6).
    Implements :class:`~.executor.Executor`.
    """

    def __init__(self, workers: int = 2, address: str | None = None, window: int = 64, gpus: float = 0.0, global_on_cluster: bool = False):
        self.workers = max(1, workers)
        self.address = address
        self.window = max(1, window)
        self.gpus = gpus
        self.global_on_cluster = global_on_cluster
        # The pass being run on the cluster with its state kept there: its next position, the state blocks, the
        # positions dropped by the chain steps finished so far.
        self._pos = 0
        self._state_blocks: list[Any] = []
        self._excluded = np.empty(0, np.int64)
        self.finished_on_cluster: list[str] = []  # the global steps finished on the cluster, in order (for tests and bench_ray)
        self._started_ray = False
        self._blob = b""
        self._blob_ref: Any = None
        self._key = ""
        self._set_up: set[int] = set()
        # What crossed between the driver and the cluster: bytes of records sent, of results back (for bench_ray).
        self.records = self.bytes_out = self.bytes_back = 0

    def start(self, plan: Plan) -> None:
        try:
            import ray
            import ray.data
        except ImportError as e:
            raise RecipeError(
                [
                    "curate.executor is 'ray', but Ray is not installed. Install it with: pip install 'curatune[ray]' "
                    "(or pip install 'ray[data]')."
                ]
            ) from e
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            self._started_ray = True
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results in input order: exact dedup keeps the first copy
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # Pickled before any setup here, as the local executor does: the cluster's workers run their own setup.
        self._blob = pickle.dumps([(p.segment, p.prepare) for p in plan.passes])
        self._key = hashlib.blake2b(self._blob, digest_size=16).hexdigest()
        self._blob_ref = ray.put(self._blob)

    def map_pass(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]:
        if not p.has_record_work():
            return self._here(p, batches)  # nothing per record to ship (a pass between two global steps)
        self._pos, self._state_blocks, self._excluded = 0, [], np.empty(0, np.int64)
        return self._on_cluster(p, batches, self.finishes_chain(p))

    def finishes_chain(self, p: Pass) -> bool:
        return (
            self.global_on_cluster
            and bool(p.chain)
            and p.has_record_work()
            and all(type(as_global(ps)).finishes_on_cluster for ps in p.chain)
        )

    def finish_chain_step(self, p: Pass, j: int) -> None:
        ps = p.chain[j]
        cluster = RayCluster(self._state_blocks, j, self._excluded, parts=2 * self.workers)
        dropped = as_global(ps).finish_on(cluster)
        self.finished_on_cluster.append(ps.step.name)
        if ps.on_fail == "drop":  # the next step of the chain would not have observed them (a flagged one it would)
            self._excluded = np.union1d(self._excluded, dropped)
        if j == len(p.chain) - 1:
            self._state_blocks, self._excluded = [], np.empty(0, np.int64)  # the pass's state is freed on the cluster

    def close(self) -> None:
        self._blob_ref = None
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    def _here(self, p: Pass, batches: Iterable[list[Record]]) -> Iterator[BatchResult]:
        for ps in p.segment:
            if id(ps.step) not in self._set_up:
                ps.step.setup()
                self._set_up.add(id(ps.step))
        for batch in batches:
            yield run_segment(p.segment, batch, p.prepare)

    def _on_cluster(self, p: Pass, batches: Iterable[list[Record]], keep_state: bool) -> Iterator[BatchResult]:
        window: list[list[Record]] = []
        for batch in batches:
            window.append(batch)
            if len(window) >= self.window:
                yield from self._run_window(p, window, keep_state)
                window = []
        if window:
            yield from self._run_window(p, window, keep_state)

    def _run_window(self, p: Pass, window: list[list[Record]], keep_state: bool) -> Iterator[BatchResult]:
        import ray.data

        payloads = [pack([row(r) for r in batch]) for batch in window]
        items = []
        for i, (payload, batch) in enumerate(zip(payloads, window)):
            items.append({"index": i, "records": payload, "base": self._pos})  # base: the batch's first position in the pass
            self._pos += len(batch)
        self.records += sum(len(b) for b in window)
        self.bytes_out += sum(len(payload) for payload in payloads)
        ds: Any = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * self.workers))
        heavy = any(heavy_setup(ps.step) for ps in p.segment) or any(heavy_setup(g) for g in p.prepare)
        if heavy:
            ds = ds.map_batches(
                _SegmentActor,
                fn_constructor_args=(self._key, [self._blob_ref], p.index, keep_state),  # (in a list: Ray would resolve a bare ref)
                batch_size=1,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.workers),
                num_gpus=self.gpus or None,
            )
        else:
            ds = ds.map_batches(_SegmentFn(self._key, self._blob_ref, p.index, keep_state), batch_size=1, batch_format="numpy")
        if keep_state:
            # Materialised: the blocks stay in the object store for the chain's finish_on (their state column), and a
            # task per block sends the other columns here (a Ray Data select would cost an execution per window).
            blocks = ds.materialize().to_arrow_refs()
            self._state_blocks.extend(blocks)
            select = ray.remote(_verdict_columns)
            out_rows: Any = (row for part in [select.remote(b) for b in blocks] for row in ray.get(part))
        else:
            out_rows = ds.iter_rows()
        for out in out_rows:
            i = int(out["index"])
            self.bytes_back += len(out["changed"]) + len(out["verdicts"]) + len(out["counts"])
            sent = window[i]
            back = unpack(out["changed"])
            rest = pickle.loads(out["verdicts"])
            counts = pickle.loads(out["counts"])
            window[i] = []  # the driver's copy is not needed once its results are in
            yield [(rec if r is None else Record(*r), *res) for rec, r, res in zip(sent, back, rest)], counts
