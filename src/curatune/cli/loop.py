"""The whole loop and what reads its run folders: ``run``, ``demo``, ``compare``, ``reference``, ``report``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..distributed import is_main
from ..errors import CuratuneError
from .render import echo, exit_on_error, fail, out, print_comparison


def run(
    recipe_path: Annotated[
        str, typer.Argument(metavar="RECIPE", help="A recipe with the stages to run: curate (always), split:, train:, eval:.")
    ],
    set_: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a recipe key: -s train.max_steps=50")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, even unchanged ones.")] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """The whole loop from raw data to report.html: curate, split, train, evaluate; unchanged stages are skipped."""
    from ..config.recipe import load_recipe
    from ..stages.loop import run_loop

    with exit_on_error():
        recipe = load_recipe(recipe_path, set_ or [])
        result = run_loop(recipe, force=force, echo=echo, track=not no_tracking)
    if is_main():  # under accelerate launch or torchrun, rank 0 reports for all
        out.print(f"Run folder: {result.run_dir}; open {result.report}")


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the generated data and the two runs.")] = Path("demo"),
    quick: Annotated[
        bool, typer.Option("--quick", help="A few training steps on a small set: checks the loop works (for CI), proves nothing.")
    ] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """Generate a noisy support-ticket triage set, train SmolLM2 on it raw and curated, evaluate both, compare, report."""
    from ..stages.demo import headline, run_demo

    with exit_on_error():
        result = run_demo(out_dir, quick=quick, echo=echo, track=not no_tracking)
    for line in headline(result):
        echo(line)


def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders; each later one is compared with the first on the examples they share.")],
    report_run: Annotated[Path | None, typer.Option("--report", help="Also put the comparison on top of this run's report.html.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
):
    """Runs side by side: data funnel, settings, scores with intervals, and paired differences against the first run."""
    import json

    from ..stages.compare import compare_runs, report_section

    with exit_on_error():
        comparison = compare_runs(runs)
    if as_json:
        out.print_json(json.dumps(comparison))
        return
    section = report_section(comparison)
    print_comparison(comparison, section)
    if report_run:
        from ..stages.report import build_report

        out.print(f"Wrote {build_report(report_run, compare=section)}")


def reference():
    """Print the recipe reference (every key, type, default, meaning), generated from the schema."""
    from ..config.reference import recipe_reference

    sys.stdout.write(recipe_reference())


def report(run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/NAME).")]):
    """(Re)build a run folder's self-contained report.html from the files its stages wrote."""
    from ..stages.report import build_report

    if not run_dir.is_dir():
        fail(CuratuneError(f"'{run_dir}' is not a folder; give a run folder such as runs/NAME."))
    out.print(f"Wrote {build_report(run_dir)}")
