"""An append-only store of vectors keyed by a 64-bit content hash.

Layout of a cache folder: ``shard-<n>.npz`` files, each holding ``keys``
(uint64) and ``vectors`` (float16: half the disk, and cosine similarities
move by under 1e-3). A shard is written whole to a temporary name and
renamed, so a crash never leaves a half-written shard, and two processes
adding at once only write the same vectors twice.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import xxhash


def text_key(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))


class EmbeddingCache:
    """Vectors by content key. ``dtype``: how they are stored (float16 for embeddings; ``score.ifd`` keeps float64)."""

    def __init__(self, folder: Path, dim: int | None = None, dtype: type = np.float16):
        self.folder = Path(folder)
        self.dim = dim
        self.dtype = dtype
        self._index: dict[int, tuple[int, int]] = {}  # key -> (shard number, row)
        self._shards: list[np.ndarray] = []
        self._load()

    def _load(self) -> None:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("shard-*.npz")):
            try:
                with np.load(path) as z:
                    keys, vectors = z["keys"], z["vectors"]
            except Exception:
                continue  # an unreadable shard is a cache miss, not an error
            if self.dim is not None and vectors.shape[1] != self.dim:
                continue
            n = len(self._shards)
            self._shards.append(vectors)
            self._index.update((int(k), (n, i)) for i, k in enumerate(keys.tolist()))

    def __len__(self) -> int:
        return len(self._index)

    def get(self, keys: list[int]) -> tuple[np.ndarray | None, list[int]]:
        """(vectors for the keys found or None, positions of the keys not in the cache)."""
        missing = [i for i, k in enumerate(keys) if k not in self._index]
        if not self._shards:
            return None, missing
        dim = self._shards[0].shape[1]
        out: np.ndarray = np.zeros((len(keys), dim), dtype=np.float32 if self.dtype == np.float16 else self.dtype)
        for i, k in enumerate(keys):
            loc = self._index.get(k)
            if loc is not None:
                out[i] = self._shards[loc[0]][loc[1]]
        return out, missing

    def put(self, keys: list[int], vectors: np.ndarray) -> None:
        new = [i for i, k in enumerate(keys) if k not in self._index]
        if not new:
            return
        keys_arr = np.asarray([keys[i] for i in new], dtype=np.uint64)
        vecs: np.ndarray = np.asarray(vectors[new], dtype=self.dtype)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"shard-{len(self._shards):06d}-{uuid.uuid4().hex[:8]}.npz"  # the random part keeps concurrent writers apart
        tmp = self.folder / (name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            np.savez(f, keys=keys_arr, vectors=vecs)
        tmp.rename(self.folder / name)
        n = len(self._shards)
        self._shards.append(vecs)
        self._index.update((int(k), (n, i)) for i, k in enumerate(keys_arr.tolist()))
