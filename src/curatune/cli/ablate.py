"""``curatune ablate``: curated against random, longest, full and your own arms, on held-out references, with intervals."""

from __future__ import annotations

from typing import Annotated

import typer

from .render import echo, exit_on_error, out


def ablate(
    recipe_path: Annotated[
        str, typer.Argument(metavar="RECIPE", help="A recipe with the pool (data:), curate:, train: and ablate: (budget, references).")
    ],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s ablate.random_seeds=5")] = None,
    force: Annotated[bool, typer.Option(help="Train and score every arm again, even finished ones.")] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """Train the same budget on each arm, score each on the same references, and show curated minus every other arm.

    Arms: curated (curate + select to the budget), random draws of the same size (several seeds), the longest answers
    of the same size, the full pool, and any arm of ablate.arms. Every arm runs the same optimizer steps of the same
    packed rows. References that overlap the pool stop the run (exit 2). Finished arms are skipped on a rerun.
    """
    from ..config.recipe import load_recipe
    from ..report.ablation import comparison_rows
    from ..stages.ablate import ablate as run_ablate

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        result = run_ablate(recipe, force=force, echo=echo, track=not no_tracking)
    for row in comparison_rows(result.result):
        echo(f"{row['references']} {row['metric']}: curated − {row['other arm']} = {row['curated − other [95%]']}  ({row['verdict']})")
    out.print(f"Ablation folder: {result.folder}; open {result.folder / 'report.html'} (tables: ablation.md)")
