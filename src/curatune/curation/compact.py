"""Compact per-record state for the steps that must remember every record (dedup, unique ids): issue 19.

Python objects cost far more than the data they hold (a 12-character id is a 61-byte ``str``, a
64-bit int 32 bytes, a dict entry about 100 bytes with its key and value), and a curation of
millions of records keeps a few of them per record. These hold the same data in flat buffers:

- :class:`IdTable`: strings by ordinal, their UTF-8 bytes end to end (``len + 8`` bytes each).
- :class:`HashIndex`: 64-bit keys to integers (or a set of keys) by open addressing over two arrays (about 32 bytes a key
  at the worst load), where a ``dict`` of ints takes about 100.
- :class:`SpillBuffer`: a growing byte buffer that moves to an unnamed temporary file past a bound,
  and is read back as a (memory-mapped) numpy array.
- :class:`PairKeys`: int64 keys (MinHash's candidate pairs) made unique in chunks of bounded size: in memory up to a
  budget, past it spread by hash over spilled buffers.

Each answers exactly what the dict, list or bytearray it replaces answers (tests/curation/test_compact.py).
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

_EMPTY = 0  # a slot's value: 0 is empty, ordinal + 1 otherwise


class IdTable:
    """Strings by ordinal (``append`` gives the ordinal), stored as one bytes buffer and end offsets."""

    __slots__ = ("_buf", "_ends")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._ends = array("Q")

    def append(self, s: str) -> int:
        self._buf += s.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._buf))
        return len(self._ends) - 1

    def __getitem__(self, i: int) -> str:
        ends = self._ends
        start = ends[i - 1] if i else 0
        return self._buf[start : ends[i]].decode("utf-8", "surrogatepass")

    def __len__(self) -> int:
        return len(self._ends)

    def nbytes(self) -> int:
        return len(self._buf) + 8 * len(self._ends)


class HashIndex:
    """A map from 64-bit keys to non-negative integers (``get``, ``put``), or a set of keys (``add``, ``in``).

    Linear probing over a power-of-two table at most half full: ``keys`` (uint64) and ``vals`` (the
    value + 1; 0 marks an empty slot). Keys should be hashes (their low bits pick the slot).
    """

    __slots__ = ("_keys", "_vals", "_mask", "_n")

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(4, (2 * capacity - 1).bit_length())
        self._keys = array("Q", bytes(8 * size))
        self._vals = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def get(self, key: int) -> int | None:
        """The value of ``key``, or None."""
        keys, vals, mask = self._keys, self._vals, self._mask
        i = key & mask
        while True:
            v = vals[i]
            if v == _EMPTY:
                return None
            if keys[i] == key:
                return v - 1
            i = (i + 1) & mask

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def put(self, key: int, value: int) -> None:
        """Map ``key`` (not there yet) to ``value`` (>= 0)."""
        keys, vals, mask = self._keys, self._vals, self._mask
        i = key & mask
        while vals[i] != _EMPTY:
            i = (i + 1) & mask
        keys[i] = key
        vals[i] = value + 1
        self._n += 1
        if 2 * self._n > mask + 1:
            self._grow()

    def add(self, key: int) -> bool:
        """As a set: add ``key``; True when it was not there. (``get``, then ``put`` when absent, in one probe.)"""
        return self.setdefault(key, 0) is None

    def setdefault(self, key: int, value: int) -> int | None:
        """The value of ``key``, or, when it is not there, None after mapping it to ``value`` (>= 0): ``get`` and then
        ``put`` in one probe of the table (each record's id or text hash is looked up, and nearly always new)."""
        keys, vals, mask = self._keys, self._vals, self._mask
        i = key & mask
        while True:
            v = vals[i]
            if v == _EMPTY:
                keys[i] = key
                vals[i] = value + 1
                self._n += 1
                if 2 * self._n > mask + 1:
                    self._grow()
                return None
            if keys[i] == key:
                return v - 1
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_keys, old_vals = np.frombuffer(self._keys, dtype=np.uint64), np.frombuffer(self._vals, dtype=np.uint64)
        used = np.flatnonzero(old_vals)
        order = used
        size = 2 * (self._mask + 1)
        keys, vals, mask = array("Q", bytes(8 * size)), array("Q", bytes(8 * size)), size - 1
        for key, v in zip(old_keys[order].tolist(), old_vals[order].tolist()):
            i = key & mask
            while vals[i] != _EMPTY:
                i = (i + 1) & mask
            keys[i] = key
            vals[i] = v
        self._keys, self._vals, self._mask = keys, vals, mask

    def nbytes(self) -> int:
        return 16 * (self._mask + 1)


class SpillBuffer:
    """Bytes appended in order: in memory up to ``limit`` bytes, then in an unnamed temporary file (gone when closed).

    ``view(dtype, shape)`` reads it all back as a numpy array: the memory itself, or a read-only map of the file.
    """

    def __init__(self, limit: int = 64 << 20, spill_dir: str | None = None) -> None:
        self.limit = limit
        self.spill_dir = spill_dir
        self._mem = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def append(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
            return
        self._mem += data
        if len(self._mem) > self.limit:
            self._file = tempfile.TemporaryFile(dir=self.spill_dir, prefix="curatune-spill-")
            self._file.write(self._mem)
            self._mem = bytearray()

    def view(self, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        if self._file is None:
            return np.frombuffer(self._mem, dtype=dtype).reshape(shape)
        self._file.flush()
        if self.size == 0:
            return np.empty(shape, dtype=dtype)
        return np.memmap(self._file, dtype=dtype, mode="r", shape=shape)

    def columns(self, dtype: Any, shape: tuple[int, int]) -> Any:
        """The buffer as a ``(rows, cols)`` matrix whose columns are read whole (``m[:, j]``): the array in memory, or,
        spilled, a reader that takes one column from the file in chunks (memory: the column and one chunk, where a
        memory map would have brought the whole file into this process's resident pages)."""
        if self._file is None:
            return self.view(dtype, shape)
        self._file.flush()
        return FileColumns(self._file.fileno(), np.dtype(dtype), shape)

    def rows(self, dtype: Any, shape: tuple[int, int]) -> Any:
        """The buffer as a ``(rows, cols)`` matrix indexed by arrays of row numbers (``m[idx]``): the array in memory, or,
        spilled, a reader that takes just those rows from the file."""
        if self._file is None:
            return self.view(dtype, shape)
        self._file.flush()
        return FileRows(self._file.fileno(), np.dtype(dtype), shape)

    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset``: from memory, or from the file without mapping it."""
        if self._file is None:
            return bytes(self._mem[offset : offset + size])
        self._file.flush()
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        """Free the memory and remove the file (a view taken before stays readable until it is dropped)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._mem = bytearray()
        self.size = 0


class FileColumns:
    """A row-major ``(rows, cols)`` matrix in a file, read a column at a time (``m[:, j]``) in chunks of rows."""

    def __init__(self, fd: int, dtype: np.dtype, shape: tuple[int, int], chunk_bytes: int = 16 << 20) -> None:
        self.fd, self.dtype, self.shape, self.chunk_bytes = fd, dtype, shape, chunk_bytes

    def __getitem__(self, key: tuple[slice, int]) -> np.ndarray:
        rows, j = key
        if rows != slice(None):
            raise IndexError("FileColumns reads whole columns only: m[:, j]")
        n, cols = self.shape
        row_bytes = cols * self.dtype.itemsize
        per = max(1, self.chunk_bytes // row_bytes)
        out = np.empty(n, dtype=self.dtype)
        for start in range(0, n, per):
            count = min(per, n - start)
            chunk = os.pread(self.fd, count * row_bytes, start * row_bytes)
            out[start : start + count] = np.frombuffer(chunk, dtype=self.dtype).reshape(count, cols)[:, j]
        return out


class FileRows:
    """A row-major ``(rows, cols)`` matrix in a file, read by arrays of row numbers (``m[idx]``), one read per row."""

    def __init__(self, fd: int, dtype: np.dtype, shape: tuple[int, int]) -> None:
        self.fd, self.dtype, self.shape = fd, dtype, shape

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        cols = self.shape[1]
        row_bytes = cols * self.dtype.itemsize
        fd = self.fd
        data = b"".join([os.pread(fd, row_bytes, i * row_bytes) for i in np.asarray(idx, dtype=np.int64).tolist()])
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, cols)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` for a 1-D integer array, by sorting: numpy 2.4's ``np.unique`` hashes integers first and
    was 8-13x slower on the millions of pair keys of a large run (0.77 s against 0.08 s at a million keys, 5.7 s
    against 0.44 s at five million; the default recipe's MinHash spent 2.3 s of its main process there on 100k
    records). Equal to ``np.unique`` (tests/curation/dedup/test_lsh_unique.py)."""
    s = np.sort(x)
    if s.size < 2:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


class PairKeys:
    """Non-negative int64 keys added in any order, with repeats; read back unique, in disjoint sorted chunks.

    Up to ``budget`` keys (repeats counted) they stay in memory and come back as one chunk: ``sorted_unique`` of them
    all. Past it every key goes, by a hash of it, to one of ``parts`` :class:`SpillBuffer` (memory: ``budget`` keys in
    all, the rest on disk), and each part comes back as its own chunk; a part still over the budget is spread again by
    other bits of the hash. So memory is bounded by the budget, whatever the number of keys (issue 19: MinHash's
    candidate pairs under ``verify: parts``, which grew with the data).
    """

    def __init__(self, budget: int = 1 << 22, parts: int = 64, spill_dir: str | None = None) -> None:
        self.budget, self.parts, self.spill_dir = budget, parts, spill_dir
        self._held: list[np.ndarray] = []
        self._count = 0
        self._spilled: list[SpillBuffer] | None = None
        self.spilled_keys = 0  # keys written to the spill buffers (repeats counted), for tests and benchmarks

    def add(self, keys: np.ndarray) -> None:
        if keys.size == 0:
            return
        if self._spilled is not None:
            self._spread(keys.astype(np.int64, copy=False), self._spilled, 0)
            return
        self._held.append(keys.astype(np.int64, copy=False))
        self._count += keys.size
        if self._count > self.budget:
            self._spilled = self._buffers()
            for held in self._held:
                self._spread(held, self._spilled, 0)
            self._held, self._count = [], 0

    def chunks(self) -> Iterator[np.ndarray]:
        """The keys, each once, in sorted chunks (disjoint; one chunk when they stayed in memory). Empties the keys."""
        if self._spilled is None:
            held, self._held, self._count = self._held, [], 0
            if held:
                yield sorted_unique(np.concatenate(held) if len(held) > 1 else held[0])
            return
        parts, self._spilled = self._spilled, None
        yield from self._chunks_of(parts, 0)

    def _buffers(self) -> list[SpillBuffer]:
        return [SpillBuffer(max(1, 8 * self.budget // self.parts), self.spill_dir) for _ in range(self.parts)]

    def _spread(self, keys: np.ndarray, parts: list[SpillBuffer], level: int) -> None:
        shift = np.uint64(58 - 6 * level)  # 6 bits of the mixed key per level (up to 64 parts)
        part = (((keys.view(np.uint64) * _MIX) >> shift) % np.uint64(self.parts)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(1, self.parts))
        for buf, idx in zip(parts, np.split(order, cuts)):
            if idx.size:
                buf.append(keys[idx].tobytes())
        self.spilled_keys += keys.size

    def _chunks_of(self, parts: list[SpillBuffer], level: int) -> Iterator[np.ndarray]:
        for buf in parts:
            try:
                n = buf.size // 8
                if n == 0:
                    continue
                if n <= self.budget or level >= 9:
                    yield sorted_unique(_read_all(buf, n))
                    continue
                sub = self._buffers()  # still over the budget: spread again, read back a piece at a time
                for piece in _read_pieces(buf, n, self.budget):
                    self._spread(piece, sub, level + 1)
                buf.close()
                yield from self._chunks_of(sub, level + 1)
            finally:
                buf.close()


def _read_all(buf: SpillBuffer, n: int) -> np.ndarray:
    return np.concatenate(list(_read_pieces(buf, n, n))) if buf.spilled else buf.view(np.int64, (n,)).copy()


def _read_pieces(buf: SpillBuffer, n: int, per: int) -> Iterator[np.ndarray]:
    """The buffer's ``n`` int64 keys, ``per`` at a time, read from its file (not mapped: the pages would stay resident)."""
    if not buf.spilled:
        yield buf.view(np.int64, (n,)).copy()
        return
    for start in range(0, n, per):
        count = min(per, n - start)
        yield np.frombuffer(buf.read(8 * start, 8 * count), dtype=np.int64)
