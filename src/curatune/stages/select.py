"""``curatune select``: score a dataset and keep the best ``budget`` records, keeping the pool's mix of tasks.

It is a curate run with two steps (three with IFD), ``score.quality`` then ``select.budget``,
so it writes the same run folder (kept, dropped, ledger with every unselected record and its
score, stats, artifacts/selection.json with the selection's composition against the pool).
The input may be a finished curate run folder: its kept records, with the flags the curation
steps left on them, are what is selected from.

The defaults keep the task mix (issue 18): the budget is spread over task clusters of the
instruction embeddings (``stratify: task``), records are ranked by their score's percentile
within their answer-length bucket (``length_buckets: 20``), a record with a defect is never
selected, and Deita's rule skips near copies. The instructions are embedded once (cut to
``max_chars``), and that one pass serves both the clusters and the diversity rule.

Overrides (``-s key=value``) reach any recipe key (``curate.workers=1``) and, as
``select.<parameter>``, ``quality.<parameter>`` or ``ifd.<parameter>``, the parameters of
the three steps (``-s select.max_similarity=0.85``, ``-s ifd.batch_size=16``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ..config.recipe import Recipe, apply_overrides, parse_recipe
from ..curation.read.files import expand_inputs
from ..errors import CuratuneError, RecipeError
from ..run_folder import MAX_NAME_CHARS, kept_records_of, name_from_path
from .curate import CurateResult, curate

# Shorthands of ``-s``: the step each prefix names.
STEP_PREFIXES = {"select": "select.budget", "quality": "score.quality", "ifd": "score.ifd"}


def selection_recipe(
    data: str,
    budget: float,
    *,
    score_key: str = "quality",
    stratify: str | None = "task",
    max_similarity: float = 0.9,
    model: str = "default",
    name: str | None = None,
    overrides: list[str] | None = None,
    extra_steps: list[dict[str, Any]] | None = None,
    length_buckets: int = 20,
    clusters: int = 0,
    fields: str = "prompt",
    max_chars: int = 512,
    exclude_defects: bool = True,
) -> Recipe:
    """The recipe of a selection: ``score.quality`` (always: it finds the defects), ``score.ifd`` when ranking by
    ``ifd``, any ``extra_steps``, then ``select.budget``; ``overrides`` as on the command line."""
    steps: list[dict[str, Any]] = [{"step": "score.quality"}]
    if score_key == "ifd":
        # Cherry LLM's rule: a pair whose question makes the answer harder to predict (IFD above 1) is incoherent.
        steps.append({"step": "score.ifd", "max_ifd": 1.0})
    steps += [dict(s) for s in extra_steps or []]
    steps.append(
        {
            "step": "select.budget",
            "budget": budget,
            "score_key": score_key or None,
            "stratify": stratify,
            "clusters": clusters,
            "length_buckets": length_buckets,
            "exclude_defects": exclude_defects,
            "max_similarity": max_similarity,
            "fields": fields,
            "max_chars": max_chars,
            "model": model,
        }
    )
    path = str(kept_records_of(data) or data)
    raw = {
        "name": name if name is not None else f"select-{name_from_path(data)}"[:MAX_NAME_CHARS],
        "data": {"path": path},
        "curate": {"steps": steps},
    }
    return parse_recipe(apply_overrides(raw, expand_step_overrides(steps, overrides or [])), "the command line")


def expand_step_overrides(steps: list[dict[str, Any]], overrides: list[str]) -> list[str]:
    """``select.x=1`` -> ``curate.steps.<n>.x=1`` for the step the prefix names; other overrides as they are."""
    out = []
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        prefix, _, param = key.partition(".")
        if prefix in STEP_PREFIXES and param and "=" in item:
            where = [i for i, s in enumerate(steps) if s["step"] == STEP_PREFIXES[prefix]]
            if not where:
                raise RecipeError(
                    [f"Override {item!r}: this selection has no {STEP_PREFIXES[prefix]} step (ifd.* needs --score-key ifd)."],
                    "the command line",
                )
            item = f"curate.steps.{where[0]}.{param}={item.split('=', 1)[1]}"
        out.append(item)
    return out


def estimated_records(recipe: Recipe) -> int | None:
    """How many records the selection will read, cheaply (for the progress bar's ETA): lines of JSONL files, items
    of a JSON array; None when some input is of another kind or cannot be read."""
    total = 0
    try:
        for path in expand_inputs(recipe.data.path):
            if path.suffix == ".jsonl":
                with open(path, "rb") as f:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            elif path.suffix == ".json" and path.stat().st_size < 1 << 30:
                rows = orjson.loads(path.read_bytes())
                if not isinstance(rows, list):
                    return None
                total += len(rows)
            else:
                return None
    except (OSError, orjson.JSONDecodeError, CuratuneError):
        return None
    return total


def select(recipe: Recipe, force: bool = False, progress: Callable[[int], None] | None = None) -> CurateResult:
    return curate(recipe, force=force, progress=progress)
