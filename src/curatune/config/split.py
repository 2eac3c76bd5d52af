"""The ``split:`` section of a recipe (``curatune run``), and the options of ``curatune split`` built on it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SplitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)

    val: float = Field(0.1, ge=0.0, lt=1.0)
    """Share of the curated records for validation (early stopping and the overfitting watch)."""
    test: float = Field(0.0, ge=0.0, lt=1.0)
    """Share for a test split; 0 when the evaluation data is given apart (``eval.data``)."""
    stratify: str | None = None
    """Keep the shares of this field equal across splits: label, kind, or a meta/input field."""
    seed: int = 0
    """Same data and seed, same splits."""
    near_dup_threshold: float = Field(0.7, gt=0.0, le=1.0)
    """Word 3-gram Jaccard at which two records count as near duplicates and stay in one split."""
    fields: Literal["record", "prompt", "response"] = "record"
    """The text compared for duplicates."""

    @model_validator(mode="after")
    def _leaves_train(self):
        if self.val + self.test >= 1:
            raise ValueError(f"val + test must leave something for train: {self.val} + {self.test} >= 1")
        return self


class SplitCommand(SplitConfig):
    """The options of ``curatune split``: the recipe's ``split:`` section, and what only the command has.

    The command's option defaults are read from here, so each default is written once. Built from the
    options with ``model_construct``: :mod:`curatune.split.command` checks the values and words every
    problem in the command's terms (``--val + --test must leave something for train``), all at once.
    """

    test: float = Field(0.1, ge=0.0, lt=1.0)
    """Share for the test split (0: none). The one default that differs from the recipe's (0 there):
    ``curatune split`` makes the splits someone hands out, a test split among them, while a recipe's
    ``curatune run`` usually evaluates on data given apart (``eval.data``)."""
    semantic_threshold: float | None = None
    """Also keep together records whose embeddings' cosine reaches this (e.g. 0.9); off when None."""
    embed_model: str = "default"
    """Embedding model for ``semantic_threshold``: default (packaged MiniLM) or a sentence-transformers folder."""
    format: str = "auto"
    """Input format; detected when auto."""
    to: str = "messages"
    """Format of the split files: messages (chat JSONL), curatune (lossless), original, ..."""
