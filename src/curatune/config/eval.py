"""The ``eval:`` section of a recipe (``curatune run``): the options of ``curatune eval``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)

    data: str | None = None
    """Held-out data to evaluate on; the run's ``splits/test.jsonl`` when absent (set ``split.test`` then)."""
    base: str | None = None
    """The model to compare with; the model the run was trained from when absent."""
    max_new_tokens: int = Field(64, ge=1)
    """Longest generated answer, in tokens (greedy decoding)."""
    limit: int | None = Field(None, ge=1)
    """Evaluate the first N held-out examples only."""
    batch_size: int = Field(8, ge=1)
    """Examples generated at once."""
    seed: int = 0
    """Seed of the bootstrap intervals."""
    human_sheet: bool = False
    """Also write a blind side-by-side sheet of the two models' answers for people to judge (``curatune judge``)."""
