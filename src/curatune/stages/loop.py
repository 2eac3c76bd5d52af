"""``curatune run``: one recipe, the whole loop, into one run folder.

```
curate ─► split ─► train ─► eval ─► report.html
```

Each stage writes its own part of ``runs/<name>/`` (:mod:`curatune.run_folder`) and is skipped when
its key is unchanged (:mod:`.keys`): curation by ``run.json``, the split by ``split_key.json``,
training by ``train/key.json``, the evaluation by ``eval/key.json``. A stage whose inputs changed
reruns, and everything after it reruns with it: its outputs are the next stage's inputs (a changed
curation rebuilds the folder, so later stages find nothing to reuse). The report is rebuilt every
time: it only reads files.

Sections a recipe leaves out are stages skipped: without ``train:`` the loop
stops after the split; without ``split:`` training holds out
``train.val_set_size`` itself; without ``eval:`` nothing is evaluated.

Under ``accelerate launch`` or ``torchrun``, rank 0 curates and splits while the others wait, every
rank trains, and rank 0 alone evaluates and writes the report (:mod:`curatune.distributed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.recipe import Recipe
from ..distributed import from_main, launch
from ..run_folder import RunFolder
from .curate import curate
from .eval import eval_stage
from .report import build_report
from .split import split_stage
from .train import train

Echo = Callable[[str], None]


@dataclass
class LoopResult:
    run_dir: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: Path | None = None


def run_loop(recipe: Recipe, force: bool = False, echo: Echo = print, track: bool = True) -> LoopResult:
    """Every stage the recipe has, in order, under the run folder's lock (no other writer between two stages)."""
    run = RunFolder.of(recipe.runs_dir, recipe.name)
    with run.lock():
        return _run_loop(recipe, run, force, echo, track)


def _run_loop(recipe: Recipe, run: RunFolder, force: bool, echo: Echo, track: bool) -> LoopResult:
    main = launch().is_main
    if not main:  # under accelerate launch or torchrun, rank 0 speaks and writes for all (see curatune.distributed)
        echo, track = _quiet, False
    # Curation and the split are rank 0's; the others wait for them, then every rank trains.
    result = from_main(lambda: _data_stages(recipe, run, force, echo))
    train_data = run.split.splits if recipe.split is not None else run.root
    if recipe.train is not None:
        result.stages["train"] = train_stage(recipe, train_data, force, echo, track)
    if not main:
        return result
    if recipe.train is not None and recipe.eval is not None:
        result.stages["eval"] = eval_stage(recipe.eval, run, force, echo, track)
    result.report = build_report(run.root)
    echo(f"report: {result.report}")
    return result


def _data_stages(recipe: Recipe, run: RunFolder, force: bool, echo: Echo) -> LoopResult:
    result = LoopResult(run.root)
    t0 = time.perf_counter()
    curated = curate(recipe, force=force)
    result.stages["curate"] = {
        "skipped": curated.skipped,
        "seconds": round(time.perf_counter() - t0, 1),
        "kept": curated.stats["kept"],
        "dropped": curated.stats["dropped"],
    }
    echo(
        f"curate: {curated.stats['input']} in, {curated.stats['kept']} kept, {curated.stats['dropped']} dropped"
        + (" (unchanged, skipped)" if curated.skipped else "")
    )
    if recipe.split is not None:
        result.stages["split"] = split_stage(recipe.split, run, force, echo)
    return result


def _quiet(line: str) -> None:
    pass


def train_stage(recipe: Recipe, data: Path, force: bool, echo: Echo, track: bool) -> dict[str, Any]:
    """Training on what the stages before it left (the splits, or the kept records)."""
    staged = recipe.model_copy(deep=True)
    staged.data.path = str(data)
    staged.data.format = "auto"
    res = train(staged, force=force, echo=lambda s: echo(f"train: {s}"), track=track)
    s = res.summary
    return {
        "skipped": res.skipped,
        "steps": s.get("steps"),
        "best_eval_loss": s.get("best_eval_loss"),
        "stopped_early": s.get("stopped_early"),
        "seconds": s.get("seconds_total"),
    }
