"""Curation into a run folder and questions about it: ``curate``, ``select``, ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from ..curation.phases import showing_phases
from ..errors import RecipeError
from .render import exit_on_error, out, phase_bar, print_curate_summary, print_selection, print_skipped, progress_bar


def curate(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or, for the default recipe, the data itself.")],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s curate.workers=1")] = None,
    force: Annotated[bool, typer.Option(help="Run even if an identical run already exists.")] = False,
    name: Annotated[str | None, typer.Option(help="Run name (folder under runs/).")] = None,
    runs_dir: Annotated[str | None, typer.Option(help="Where run folders go.")] = None,
    decontaminate_against: Annotated[
        list[str] | None, typer.Option(help="Evaluation/test files (or globs): drop records sharing a 13-word span with them.")
    ] = None,
):
    """Clean, filter and deduplicate a dataset into a run folder with a full ledger."""
    from ..config.recipe import command_recipe
    from ..stages.curate import curate as run_curate

    with exit_on_error():
        recipe = command_recipe(target, set_, name, runs_dir, decontaminate_against)
        with progress_bar("curating") as advance:
            result = run_curate(recipe, force=force, progress=advance)
    if result.skipped:
        print_skipped(result.run_dir)
    print_curate_summary(result.stats, result.run_dir)


def select(
    data: Annotated[str, typer.Argument(help="The data (file, glob, folder) or a finished curate run folder.")],
    budget: Annotated[float, typer.Option(help="Records to keep: a count (5000) or a fraction of the input (0.2).")],
    score_key: Annotated[
        str,
        typer.Option(
            help="Score to rank by: 'quality' (computed), 'ifd' (computed with the packaged small LM), or a score in meta.scores."
        ),
    ] = "quality",
    stratify: Annotated[
        str, typer.Option(help="Spread the budget over 'task' (clusters of the instructions), label, language, a meta key, or 'none'.")
    ] = "task",
    max_similarity: Annotated[float, typer.Option(help="Skip a candidate this similar (cosine) to a chosen record.")] = 0.9,
    embed_model: Annotated[str, typer.Option(help="Sentence-transformers folder; default: packaged all-MiniLM-L6-v2.")] = "default",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a key: -s select.length_buckets=0, -s quality.w_length=0, -s curate.workers=1"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Run name (folder under runs/).")] = None,
    runs_dir: Annotated[str | None, typer.Option(help="Where run folders go.")] = None,
    force: Annotated[bool, typer.Option(help="Run even if an identical run already exists.")] = False,
):
    """Keep the best BUDGET records, spread over the pool's task types, without near copies or defects; every other
    record is in the ledger with its reason, and artifacts/selection.json compares the selection with the pool."""
    from ..stages.select import estimated_records, selection_recipe
    from ..stages.select import select as run_select

    with exit_on_error():
        if budget <= 0:
            raise RecipeError(["--budget must be a count (5000) or a fraction between 0 and 1 (0.2)."])
        overrides = ([f"runs_dir={runs_dir}"] if runs_dir else []) + list(set_ or [])
        recipe = selection_recipe(
            data,
            budget,
            score_key=score_key,
            stratify=None if stratify.lower() == "none" else stratify,
            max_similarity=max_similarity,
            model=embed_model,
            name=name,
            overrides=overrides,
        )
        with progress_bar("reading and scoring", total=estimated_records(recipe)) as advance, showing_phases(phase_bar):
            result = run_select(recipe, force=force, progress=advance)
    if result.skipped:
        print_skipped(result.run_dir)
    print_curate_summary(result.stats, result.run_dir)
    summary = result.run_dir / "artifacts" / "selection.json"
    if summary.is_file():
        print_selection(orjson.loads(summary.read_bytes()))
        out.print(f"Selection summary: {summary}")


def explain(
    run: Annotated[Path, typer.Argument(help="A run folder (runs/NAME).")],
    record_id: Annotated[str, typer.Argument(help="The record's id, e.g. data:17.")],
):
    """Print every decision the run made about one record."""
    from ..stages.explain import explain_record

    with exit_on_error():
        text = explain_record(run, record_id)
    out.print(text, highlight=False)
