"""A base for global steps that need every record's embedding: collect texts, embed once in ``finish``."""

from __future__ import annotations

import numpy as np

from ..embed import model as embed_model
from .dedup.exact import dedup_text
from .phases import phase
from .record import Record
from .step import GlobalStep


class EmbeddingStep(GlobalStep):
    """Collects ``(id, text)`` of each record in ``observe``; ``finish`` embeds them all in batches
    (through the on-disk cache) and calls ``decide_all(embeddings)``; ``decide`` looks the record up.

    Subclasses set ``self.model`` and ``self.fields`` (``record``, ``prompt`` or ``response``) and
    implement ``decide_all``. The model is loaded only when there is something to embed.
    """

    model: str = "default"
    fields: str = "record"

    def _reset(self) -> None:
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._extra: list[object] = []
        self._row: dict[str, int] = {}

    def text_of(self, rec: Record) -> str:
        return dedup_text(rec, self.fields)

    def extra_of(self, rec: Record) -> object:
        """What else a subclass keeps per record (a score, a label); None by default."""
        return None

    def observe(self, rec: Record, prepared) -> None:
        if not hasattr(self, "_ids"):
            self._reset()
        self._row[rec.id] = len(self._ids)
        self._ids.append(rec.id)
        self._texts.append(self.text_of(rec))
        self._extra.append(self.extra_of(rec))

    def embed(self, texts: list[str]) -> np.ndarray:
        # Loading the model is part of the phase: the first bar appears before the first batch.
        with phase(f"embedding {len(texts):,} texts", total=len(texts)) as advance:
            return embed_model.load_embedder(self.model)(texts, advance)

    def finish(self) -> None:
        if not hasattr(self, "_ids"):
            self._reset()
        emb = self.embed(self._texts) if self._texts else np.zeros((0, 0), dtype=np.float32)
        self.decide_all(emb)
        self._texts = []  # the texts are not needed any more; ids and results stay

    def decide_all(self, embeddings: np.ndarray) -> None:
        raise NotImplementedError
