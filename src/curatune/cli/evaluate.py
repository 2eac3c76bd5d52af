"""Evaluation: ``eval`` (base against tuned on held-out data) and ``judge`` (a filled side-by-side sheet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config.eval import EvalConfig
from .options import default_of
from .render import echo_err, exit_on_error, print_evaluation, print_judgments


def eval_(
    target: Annotated[
        str, typer.Argument(metavar="RUN_OR_MODEL", help="A run folder (runs/NAME) or a model folder (a LoRA adapter or a full model).")
    ],
    data: Annotated[str, typer.Option("--data", help="Held-out data: conversations ending with the reference answer, or labelled texts.")],
    base: Annotated[str | None, typer.Option(help="The model to compare with; default: the base the run was trained from.")] = default_of(
        EvalConfig, "base"
    ),
    out_dir: Annotated[Path | None, typer.Option("--out", help="The eval folder; default: runs/NAME/eval.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Longest answer generated, in tokens (greedy decoding).")] = default_of(
        EvalConfig, "max_new_tokens"
    ),
    limit: Annotated[int | None, typer.Option(help="Evaluate the first N usable examples only.")] = default_of(EvalConfig, "limit"),
    seed: Annotated[
        int, typer.Option(help="Seed of the bootstrap, of the sheet's order and of a classifier head the base lacks.")
    ] = default_of(EvalConfig, "seed"),
    human_sheet: Annotated[
        bool, typer.Option("--human-sheet", help="Also write a blind side-by-side sheet of both models' answers for raters.")
    ] = default_of(EvalConfig, "human_sheet"),
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to the run's MLflow store.")] = False,
):
    """Compare a fine-tuned model with its base on held-out data: metrics with intervals, sample answers, output safety."""
    from ..evaluate.report import LABELS
    from ..evaluate.run import evaluate_run

    with exit_on_error():
        report = evaluate_run(target, data, base=base, out_dir=out_dir, max_new_tokens=max_new_tokens, limit=limit, seed=seed,
                              human_sheet=human_sheet, track=not no_tracking, echo=echo_err)  # fmt: skip
    print_evaluation(report, LABELS)


def judge(
    sheet: Annotated[
        Path, typer.Argument(metavar="SHEET.csv", help="The side-by-side sheet with its judgment column filled (1, 2 or tie).")
    ],
    key: Annotated[Path, typer.Argument(metavar="KEY.json", help="The key written with the sheet (human_key.json).")],
    allow_unjudged: Annotated[bool, typer.Option("--allow-unjudged", help="Score the judged items, ignoring rows left empty.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """Unblind a filled side-by-side sheet: each system's wins, ties, losses and win rate, with 95% Wilson intervals."""
    from ..evaluate.human import import_judgments

    with exit_on_error():
        result = import_judgments(sheet, key, allow_unjudged=allow_unjudged)
    if as_json:
        import json

        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    print_judgments(result)
