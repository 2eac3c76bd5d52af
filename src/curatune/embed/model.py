"""Load a sentence-transformers model (the packaged all-MiniLM-L6-v2 by default) and embed with the cache."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models.packaged import minilm_path
from ..models.tokenizer import cache_dir
from .cache import EmbeddingCache, text_key

DEFAULT_MODEL = "default"


class Embedder:
    """Embeds texts with one model, in batches, through an on-disk cache.

    ``encode`` is the model call (texts -> array); tests pass a cheap one.
    ``key`` names the model in the cache folder, so vectors of two models never mix.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], key: str, batch_size: int = 64, cache: bool = True):
        self.encode = encode
        self.key = key
        self.batch_size = batch_size
        self.cache = EmbeddingCache(cache_dir() / "embeddings" / key) if cache else None
        self.embedded = 0  # texts sent to the model (not found in the cache) by this embedder

    def __call__(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        found, missing = self.cache.get(keys) if self.cache is not None else (None, list(range(len(texts))))
        if progress and len(missing) < len(texts):
            progress(len(texts) - len(missing))  # the cached ones, at once
        if missing:
            # Distinct missing texts only: a dataset full of duplicates embeds each text once.
            first: dict[int, int] = {}
            for i in missing:
                first.setdefault(keys[i], i)
            # Longest first, so each batch holds texts of about one length: a batch is padded to its
            # longest text, and in input order one long text pads 63 short ones (3x slower on Alpaca).
            todo = sorted(first.values(), key=lambda i: -len(texts[i]))
            parts = []
            for start in range(0, len(todo), self.batch_size):
                batch = [texts[i] for i in todo[start : start + self.batch_size]]
                parts.append(_normalise(np.asarray(self.encode(batch), dtype=np.float32)))
                if progress:
                    progress(len(batch))
            fresh = np.concatenate(parts)
            self.embedded += len(todo)
            if self.cache is not None:
                self.cache.put([keys[i] for i in todo], fresh)
            by_key = {keys[i]: row for i, row in zip(todo, fresh)}
            out = found if found is not None else np.zeros((len(texts), fresh.shape[1]), dtype=np.float32)
            for i in missing:
                out[i] = by_key[keys[i]]
            if progress:
                progress(len(missing) - len(todo))  # copies of texts embedded once
            found = out
        assert found is not None, "each text came from the cache or was embedded"
        return _normalise(found)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


@functools.lru_cache(maxsize=2)
def load_embedder(model: str = DEFAULT_MODEL, batch_size: int = 64, cache: bool = True) -> Embedder:
    """An :class:`Embedder` for ``default`` (packaged all-MiniLM-L6-v2) or a sentence-transformers folder."""
    path = minilm_path() if model in (DEFAULT_MODEL, "", None) else Path(model).expanduser()
    if not path.is_dir():
        raise InputError(
            f"Embedding model {model!r} is not a folder. curatune does not download at run time: pass the folder of a "
            "sentence-transformers model (for example one saved with model.save(PATH)), or leave it at 'default' "
            "for the packaged all-MiniLM-L6-v2."
        )
    loaded: list = []

    def encode(texts: list[str]) -> np.ndarray:
        # The model is loaded on the first text the cache does not hold: a rerun over cached texts loads nothing.
        if not loaded:
            from sentence_transformers import SentenceTransformer

            loaded.append(SentenceTransformer(str(path), device="cpu", local_files_only=True))
        return loaded[0].encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)

    key = _model_key(path)
    return Embedder(encode, key, batch_size=batch_size, cache=cache)


def _model_key(path: Path) -> str:
    """Model folder name plus a hash of its weights' sizes and times: a retrained model gets a fresh cache."""
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(path.rglob("*")) if p.is_file())
    return f"{path.name}-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"


def embed_texts(texts: Sequence[str], model: str = DEFAULT_MODEL, progress: Callable[[int], None] | None = None) -> np.ndarray:
    return load_embedder(model)(texts, progress)
