"""``curatune select``: score a dataset and keep the best ``budget`` records that are not near copies of each other.

It is a curate run with two steps, ``score.quality`` then ``select.budget``,
so it writes the same run folder (kept, dropped, ledger with every
unselected record and its score, stats, artifacts/selection.json). The input
may be a finished curate run folder: its kept records, with the flags the
curation steps left on them, are what is selected from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config.recipe import Recipe, StepConfig, apply_overrides, parse_recipe
from ..run_folder import MAX_NAME_CHARS, kept_records_of, name_from_path
from .curate import CurateResult, curate


def selection_recipe(
    data: str,
    budget: float,
    *,
    score_key: str = "quality",
    stratify: str | None = None,
    max_similarity: float = 0.9,
    model: str = "default",
    name: str | None = None,
    overrides: list[str] | None = None,
    extra_steps: list[dict[str, Any]] | None = None,
) -> Recipe:
    steps = [StepConfig(step="score.quality")] if score_key == "quality" else []
    steps += [StepConfig(**s) for s in extra_steps or []]
    steps.append(
        StepConfig(
            step="select.budget",
            params={
                "budget": budget,
                "score_key": score_key or None,
                "stratify": stratify,
                "max_similarity": max_similarity,
                "model": model,
            },
        )
    )
    path = str(kept_records_of(data) or data)
    raw = {"name": name if name is not None else f"select-{name_from_path(data)}"[:MAX_NAME_CHARS], "data": {"path": path}}
    recipe = parse_recipe(apply_overrides(raw, overrides or []), "the command line")
    recipe.curate.steps = steps
    return recipe


def select(recipe: Recipe, force: bool = False, progress: Callable[[int], None] | None = None) -> CurateResult:
    return curate(recipe, force=force, progress=progress)
