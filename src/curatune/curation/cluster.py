"""Global steps finished where their state is: blocks of per-record state, a hash shuffle over them, rows read back.

The Ray executor (issue 19) keeps what a pass's global steps prepared on the cluster instead of sending it to the
driver: each runner batch leaves one *state* value (:func:`batch_state`: the survivors' positions in the pass, their
ids, and each chain step's ``state_columns``), and the values of a window stay in a block of Ray's object store. A
step that ``finishes_on_cluster`` then finishes through a :class:`~.step.Cluster`: a shuffle (each block split into
parts by a key, each part reduced) and row reads by position. :class:`BlockCluster` is that interface over blocks
held in this process (what the tests and the Ray version share); :class:`~.pipeline.ray_executor.RayCluster` runs the same
functions as Ray tasks next to the blocks.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .record import Record
from .step import GlobalStep

Columns = dict[str, Any]


def batch_state(recs: list[Record], positions: Sequence[int], prepare: Sequence[GlobalStep], prepared: list[Any]) -> bytes:
    """One runner batch's state: the survivors' ``pos`` and ``id``, and each chain step ``j``'s columns as ``j.name``."""
    state: Columns = {"pos": np.asarray(positions, dtype=np.int64), "id": np.array([r.id for r in recs], dtype=object)}
    for j, g in enumerate(prepare):
        for name, col in g.state_columns(recs, [p[j] for p in prepared]).items():
            state[f"{j}.{name}"] = col
    return pickle.dumps(state, protocol=5)


def step_columns(values: Sequence[bytes], step: int, excluded: np.ndarray) -> Columns:
    """A block's state values as one set of columns for chain step ``step``: ``pos``, ``id`` and the step's own, the
    rows of ``excluded`` positions (dropped by an earlier step of the chain) left out; ``{}`` for a block without state
    (every record of its batches dropped before the chain)."""
    states = [pickle.loads(v) for v in values if v]
    if not states:
        return {}
    prefix = f"{step}."
    names = ["pos", "id"] + [k[len(prefix) :] for k in states[0] if k.startswith(prefix)]
    out: Columns = {}
    for name in names:
        key = name if name in ("pos", "id") else prefix + name
        out[name] = np.concatenate([s[key] for s in states])
    if excluded.size and out["pos"].size:
        keep = ~np.isin(out["pos"], excluded)
        out = {k: v[keep] for k, v in out.items()}
    return out


def split_rows(cols: Columns, part: np.ndarray, parts: int) -> list[Columns]:
    """``cols`` cut into ``parts`` sets of columns: row ``i`` goes to part ``part[i]``."""
    order = np.argsort(part, kind="stable")
    cuts = np.searchsorted(part[order], np.arange(1, parts))
    pieces = np.split(order, cuts)
    return [{k: v[idx] for k, v in cols.items()} for idx in pieces]


def concat_rows(pieces: Sequence[Columns]) -> Columns:
    """Parts of columns back into one (the rows of every piece, in piece order)."""
    pieces = [p for p in pieces if p]
    if not pieces:
        return {}
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}


def map_columns(cols: Columns, parts: int, map_fn: Any, *args: Any) -> list[Columns]:
    """``map_fn`` on a block's columns; a block without state gives every part nothing."""
    return map_fn(cols, parts, *args) if cols else [{} for _ in range(parts)]


def pos_range(cols: Columns) -> tuple[int, int]:
    """The lowest and highest position in a block (``(0, -1)`` for a block without state)."""
    return (int(cols["pos"].min()), int(cols["pos"].max())) if cols and cols["pos"].size else (0, -1)


def rows_of(cols: Columns, columns: tuple[str, ...], positions: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(positions found, their rows of each column)`` among sorted ``positions``."""
    if not cols:
        return np.empty(0, np.int64), []
    pos = cols["pos"]
    hit = np.isin(pos, positions)
    return pos[hit], [cols[c][hit] for c in columns]


def gather(found: list[tuple[np.ndarray, list[np.ndarray]]], n_columns: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The blocks' ``rows_of`` results joined: per column, ``(positions, rows)``."""
    found = [f for f in found if f[0].size]
    if not found:
        return [(np.empty(0, np.int64), np.empty(0)) for _ in range(n_columns)]
    pos = np.concatenate([f[0] for f in found])
    return [(pos, np.concatenate([f[1][k] for f in found])) for k in range(n_columns)]


def sorted_rows(pos: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(pos, kind="stable")
    return pos[order], values[order]


class Rows:
    """A column of a cluster's state indexed by arrays of positions (``m[pos]``): from the rows the cluster loaded
    (``loaded(column)``: sorted positions and their rows, or None), else read through ``fetch``."""

    def __init__(
        self,
        fetch: Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]],
        loaded: Callable[[str], tuple[np.ndarray, np.ndarray] | None],
        column: str,
    ):
        self.fetch, self.loaded, self.column = fetch, loaded, column

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        have = self.loaded(self.column)
        if have is not None and have[0].size and np.isin(idx, have[0]).all():
            pos, values = have
        else:
            pos, values = sorted_rows(*self.fetch(self.column, np.unique(idx)))
        at = np.searchsorted(pos, idx)
        if pos.size == 0 or (at >= pos.size).any() or (pos[np.minimum(at, pos.size - 1)] != idx).any():
            raise KeyError(f"positions not in the cluster's state: {sorted(set(idx.tolist()) - set(pos.tolist()))[:5]}")
        return values[at]


class BlockCluster:
    """:class:`~.step.Cluster` over blocks held in this process: each block a list of :func:`batch_state` values.

    ``step``: which chain step's columns the functions get; ``excluded``: positions an earlier step dropped; ``parts``:
    the shuffle's number of parts. The Ray version overrides the three ``_run_*`` methods only.
    """

    def __init__(self, blocks: Sequence[Any], step: int, excluded: np.ndarray, parts: int):
        self.blocks = list(blocks)
        self.step = step
        self.excluded = np.asarray(excluded, dtype=np.int64)
        self.parts = max(1, parts)
        self._loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def shuffle(self, map_fn: Any, reduce_fn: Any, *args: Any) -> Iterator[Any]:
        return self._run_shuffle(map_fn, reduce_fn, args)

    def rows(self, column: str) -> Rows:
        return Rows(self._fetch, self._loaded_rows, column)

    def _loaded_rows(self, column: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self._loaded.get(column)  # (the dict of the latest load)

    def load(self, positions: np.ndarray, columns: tuple[str, ...]) -> None:
        self._loaded = {}
        want = np.unique(np.asarray(positions, dtype=np.int64))
        if want.size:
            self._loaded = {c: sorted_rows(*f) for c, f in zip(columns, self._fetch_many(columns, want))}

    def _fetch(self, column: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._fetch_many((column,), positions)[0]

    def _columns(self, block: Any) -> Columns:
        return step_columns(block, self.step, self.excluded)

    def _run_shuffle(self, map_fn: Any, reduce_fn: Any, args: tuple[Any, ...]) -> Iterator[Any]:
        mapped = [map_columns(self._columns(b), self.parts, map_fn, *args) for b in self.blocks]
        for p in range(self.parts):
            yield reduce_fn([m[p] for m in mapped], *args)

    def _fetch_many(self, columns: tuple[str, ...], positions: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per column, ``(positions found, their rows)``: each block read once for every column."""
        return gather([rows_of(self._columns(b), columns, positions) for b in self.blocks], len(columns))
