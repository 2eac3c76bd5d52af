"""Sentence embeddings for the semantic steps, cached on disk by content hash.

``embed_texts(texts, model)`` returns L2-normalised float32 vectors (one row per
text, so a dot product is the cosine similarity). The default model is the
packaged all-MiniLM-L6-v2; any sentence-transformers folder works. Every
vector is stored under ``$CURATUNE_CACHE/embeddings/<model key>/`` keyed by a
hash of the text, so a rerun, or another step on the same texts, embeds
nothing twice.
"""

from .cache import EmbeddingCache
from .model import DEFAULT_MODEL, Embedder, embed_texts, load_embedder

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbeddingCache", "embed_texts", "load_embedder"]
