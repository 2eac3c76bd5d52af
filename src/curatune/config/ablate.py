"""The ``ablate:`` section of a recipe (``curatune ablate``): which arms, which budget, which references.

```yaml
name: alpaca-ablation
data: {path: data/pool.json}        # the pool every arm is drawn from
curate: {steps: ...}                # the curated arm: these steps, then selection down to the budget
train: {model: default, max_steps: 60, per_device_train_batch_size: 8, max_seq_len: 256}
ablate:
  budget: 1000                      # records in the curated arm, and in every random and longest arm
  references: [data/dolly.json]     # held-out references, never overlapping the pool
  holdout: 200                      # and 200 records of the pool, held out before any arm is drawn
  random_seeds: 3
  arms: {mine: my_selection.jsonl}  # any arm of your own: a data file, or a recipe whose curate steps run on the pool
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AblateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)

    budget: float = Field(gt=0)
    """Records the curated arm keeps: a count (1000) or a fraction of the pool (0.1). The random and longest arms get exactly as many
    records as the curated arm ends up with."""
    references: list[str] = Field(default_factory=list)
    """Held-out reference files (conversations ending with a reference answer, any format curatune reads). None may overlap the pool."""
    holdout: int = Field(0, ge=0)
    """Records of the pool drawn at random (with ``seed``) as one more reference set, ``pool-heldout``, before any arm is built; pool
    records that overlap them are left out of the pool."""
    random_seeds: int = Field(3, ge=1)
    """How many random arms (each a different random draw of the pool, and a different training seed offset: none)."""
    full: bool = True
    """Also train on the whole pool (the same number of steps and tokens as every other arm)."""
    longest: bool = True
    """Also train on the records with the longest answers (in words), as many as the curated arm holds."""
    arms: dict[str, str] = Field(default_factory=dict)
    """Arms of your own, by name: a data file (trained on as it is) or a recipe YAML (its ``curate:`` steps run on the pool, then the
    same selection down to the budget)."""
    steps: int | None = Field(None, ge=1)
    """Optimizer steps of every arm; ``train.max_steps`` when absent, else as many as ``train.num_train_epochs`` over the budget."""
    limit: int | None = Field(None, ge=1)
    """Use the first N usable examples of each reference set only."""
    generate: bool = True
    """Generate answers to the references and score them (ROUGE-L, embedding similarity); off: answer loss only (much faster on CPU)."""
    max_new_tokens: int = Field(64, ge=1)
    """Longest generated answer, in tokens (greedy decoding)."""
    batch_size: int = Field(8, ge=1)
    """Examples scored or generated at once."""
    embed_model: str = "default"
    """Sentence embedder for the similarity of generated and reference answers; the packaged all-MiniLM-L6-v2 by default."""
    on_overlap: Literal["stop", "drop"] = "stop"
    """References that duplicate or nearly duplicate a pool record: ``stop`` the run (exit 2, naming them), or ``drop`` those
    references (listed in ``ablation.json``)."""
    overlap_ngram: int = Field(13, ge=3, le=100)
    """A reference and a pool record that share a run of this many words (after normalising case and punctuation) overlap; a short
    text (under this many words, at least four) overlaps when it is equal. The test of ``dedup.decontaminate``."""
    human_sheet: bool = True
    """Write a blind side-by-side sheet of the curated arm's answers against each other arm's (needs ``generate``)."""
    seed: int = 0
    """Seed of the random arms, the held-out draw and the bootstrap."""
    n_resamples: int = Field(1000, ge=100)
    """Bootstrap resamples of each interval."""
