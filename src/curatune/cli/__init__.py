"""The ``curatune`` command: one Typer app, each verb a short function that calls the library.

Exit codes: 0 ok (or skipped because nothing changed), 1 internal error,
2 bad usage or impossible recipe, 3 unreadable input, 4 failed consistency
check. See :mod:`curatune.errors`.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from contextlib import nullcontext as _nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import EXIT_INTERNAL, CuratuneError, RecipeError

app = typer.Typer(
    name="curatune",
    help="Audit, clean, filter and deduplicate fine-tuning data, with every decision recorded in a ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # never break a path or a message mid-line
out = Console(soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: int | None = None):
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal."""
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as p:
        task = p.add_task(description, total=total)
        yield lambda n=1: p.advance(task, n)


def _fail(e: CuratuneError) -> None:
    console.print(f"[bold red]error:[/] {e}", highlight=False)
    raise typer.Exit(e.exit_code)


# ---- data in and out -----------------------------------------------------------------------


@app.command()
def generate(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the dataset (.jsonl, .json, .csv, .parquet; .gz/.zst).")] = Path(
        "noisy.jsonl"
    ),
    n: Annotated[int, typer.Option("--n", help="Number of records (malformed lines included).")] = 2000,
    defect_rate: Annotated[float, typer.Option(help="Fraction of records with a planted defect.")] = 0.2,
    fmt: Annotated[str, typer.Option("--format", help="alpaca, sharegpt or messages.")] = "alpaca",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same file.")] = 0,
):
    """Generate a noisy dataset with planted defects and a ground-truth file beside it."""
    from ..generate import generate_noisy

    try:
        with console.status(f"generating {n:,} records", spinner="dots") if console.is_terminal else _nullcontext():
            summary = generate_noisy(out_path, n=n, defect_rate=defect_rate, fmt=fmt, seed=seed)
    except CuratuneError as e:
        _fail(e)
    out.print(f"Wrote {summary.n_lines} lines to {out_path} and the ground truth to {summary.truth_path}")
    for note in summary.notes:
        out.print(f"note: {note}")
    table = Table("defect", "records")
    for defect, count in sorted(summary.counts.items()):
        table.add_row(defect, str(count))
    out.print(table)


@app.command()
def convert(
    data: Annotated[list[str], typer.Argument(help="Input file(s), glob or folder.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Output file; its name sets the file type (.jsonl, .json, .csv, .parquet, .gz/.zst).")
    ],
    to: Annotated[str, typer.Option("--to", help="Output format: messages, original, curatune, alpaca, sharegpt, ...")] = "messages",
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = "auto",
    file_type: Annotated[str, typer.Option(help="Output file type when the name does not tell (hf for a datasets folder).")] = "",
):
    """Convert a dataset between formats and file types. Rows that cannot be read are listed, not written."""
    from ..curation.read.records import RecordReader, Reject
    from ..curation.write.writers import RecordWriter

    try:
        reader = RecordReader(data, fmt)
        rejects = []
        with progress_bar("converting") as advance, RecordWriter(out_path, to, file_type or None) as w:
            for item in reader:
                if isinstance(item, Reject):
                    rejects.append(item)
                else:
                    w.write(item)
                advance()
    except CuratuneError as e:
        _fail(e)
    out.print(f"Wrote {w.count} records to {out_path}; {len(rejects)} rows could not be read.")
    for r in rejects[:20]:
        out.print(f"  {r.source}:{r.line}  {r.reason}  {r.detail}", highlight=False)
    if len(rejects) > 20:
        out.print(f"  ... and {len(rejects) - 20} more")


@app.command()
def formats():
    """List the dataset formats curatune reads and writes, and the fields that identify each."""
    from ..curation.formats import FORMATS

    table = Table("format", "identified by", "what it is")
    for f in FORMATS.values():
        table.add_row(f.name, ", ".join(f.required), f.description)
    out.print(table)


# ---- curation -------------------------------------------------------------------------------


@app.command()
def steps(default: Annotated[bool, typer.Option("--default", help="Show the default recipe's steps only.")] = False):
    """List every registered curation step with its parameters and reason codes."""
    import inspect

    from ..config.recipe import default_steps
    from ..curation.registry import all_steps, get_step_class
    from ..curation.step import init_params

    table = Table("step", "kind", "parameters", "reasons", "summary")
    names = [sc.step for sc in default_steps()] if default else list(all_steps())
    for name in names:
        cls = get_step_class(name)
        sig = inspect.signature(cls.__init__).parameters
        params = ", ".join(
            f"{p}={sig[p].default!r}" if sig[p].default is not inspect.Parameter.empty else f"{p} (required)" for p in init_params(cls)
        )
        summary = (cls.__doc__ or "").strip().split("\n")[0]
        table.add_row(name, cls.kind, params, ", ".join(cls.reasons), summary)
    out.print(table)


@app.command()
def curate(
    target: Annotated[str, typer.Argument(help="A recipe (.yaml) or, for the default recipe, the data itself.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: -s curate.workers=1")] = None,
    force: Annotated[bool, typer.Option(help="Run even if an identical run already exists.")] = False,
    name: Annotated[Optional[str], typer.Option(help="Run name (folder under runs/).")] = None,
    runs_dir: Annotated[Optional[str], typer.Option(help="Where run folders go.")] = None,
    decontaminate_against: Annotated[
        Optional[list[str]], typer.Option(help="Evaluation/test files (or globs): drop records sharing a 13-word span with them.")
    ] = None,
):
    """Clean, filter and deduplicate a dataset into a run folder with a full ledger."""
    from ..config.recipe import apply_overrides, load_recipe, parse_recipe
    from ..stages.curate import curate as run_curate

    try:
        if target.endswith((".yaml", ".yml")):
            recipe = load_recipe(target, set_ or [])
        else:
            raw = apply_overrides({"data": {"path": target}, "name": Path(target).name.split(".")[0]}, set_ or [])
            recipe = parse_recipe(raw, "the command line")
        if decontaminate_against:
            from ..config.recipe import StepConfig, default_steps

            steps = recipe.curate.steps if recipe.curate.steps is not None else default_steps()
            recipe.curate.steps = [*steps, StepConfig(step="dedup.decontaminate", params={"eval_paths": decontaminate_against})]
        if name:
            recipe.name = name
        if runs_dir:
            recipe.runs_dir = runs_dir
        with progress_bar("curating") as advance:
            result = run_curate(recipe, force=force, progress=advance)
    except CuratuneError as e:
        _fail(e)
    stats = result.stats
    if result.skipped:
        out.print(f"Nothing changed since the last run; kept {result.run_dir} as it is (use --force to rerun).")
    _print_curate_summary(stats, result.run_dir)


def _print_curate_summary(stats: dict, run_dir: Path) -> None:
    out.print(
        f"[bold]{stats['input']}[/] records in, [green]{stats['kept']} kept[/], [red]{stats['dropped']} dropped[/] in {stats['seconds']:.1f}s"
    )
    if stats["read_problems"]:
        out.print(f"Rows that could not be read: {stats['read_problems']}")
        for ex in stats["read_problem_examples"][:10]:
            out.print(f"  {ex['source']}:{ex['line']}  {ex['reason']}: {ex['detail']}", highlight=False)
    table = Table("step", "seen", "dropped", "flagged", "modified", "seconds", "top reasons")
    for s in stats["steps"]:
        reasons = ", ".join(f"{k}={v}" for k, v in list(s["reasons"].items())[:3])
        table.add_row(s["step"], str(s["seen"]), str(s["dropped"]), str(s["flagged"]), str(s["modified"]), f"{s['seconds']:.2f}", reasons)
    out.print(table)
    out.print(f"Run folder: {run_dir}  (see one record's history: curatune explain {run_dir} ID)")


@app.command()
def explain(
    run: Annotated[Path, typer.Argument(help="A run folder (runs/NAME).")],
    record_id: Annotated[str, typer.Argument(help="The record's id, e.g. data:17.")],
):
    """Print every decision the run made about one record."""
    from ..stages.explain import explain_record

    try:
        text = explain_record(run, record_id)
    except CuratuneError as e:
        _fail(e)
    out.print(text, highlight=False)


@app.command()
def audit(
    data: Annotated[list[str], typer.Argument(help="Input file(s), glob or folder.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for audit.json and audit.html.")] = Path("audit"),
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = "auto",
    tokenizer: Annotated[
        Optional[str], typer.Option(help="Tokenizer: a local folder, a GGUF file, or a hub id (default: packaged SmolLM2).")
    ] = None,
    max_seq_len: Annotated[int, typer.Option(help="Sequence length training will use; longer records would be truncated.")] = 2048,
    no_tokens: Annotated[bool, typer.Option("--no-tokens", help="Skip token counts (faster, no tokenizer needed).")] = False,
    no_languages: Annotated[bool, typer.Option("--no-languages", help="Skip language identification.")] = False,
    preview_records: Annotated[int, typer.Option(help="Records the curation preview runs on (0 = all).")] = 20_000,
):
    """Profile a dataset without changing it: problems, duplicates, lengths, languages; writes audit.json and audit.html."""
    from ..audit import run_audit
    from ..audit.summary import print_summary

    try:
        with progress_bar("auditing") as advance:
            report = run_audit(
                data,
                out_dir,
                fmt=fmt,
                tokenizer=None if no_tokens else (tokenizer or "default"),
                max_seq_len=max_seq_len,
                progress=advance,
                languages=not no_languages,
                preview_records=preview_records or None,
            )
    except CuratuneError as e:
        _fail(e)
    print_summary(report, out)
    out.print(f"Wrote {out_dir / 'audit.json'} and {out_dir / 'audit.html'}")


# ---- splitting -------------------------------------------------------------------------------


@app.command()
def select(
    data: Annotated[str, typer.Argument(help="The data (file, glob, folder) or a finished curate run folder.")],
    budget: Annotated[float, typer.Option(help="Records to keep: a count (5000) or a fraction of the input (0.2).")],
    score_key: Annotated[
        str, typer.Option(help="Score to rank by: 'quality' (computed), or a score already in meta.scores (e.g. ifd).")
    ] = "quality",
    stratify: Annotated[Optional[str], typer.Option(help="Split the budget over label, language or a meta key.")] = None,
    max_similarity: Annotated[float, typer.Option(help="Skip a candidate this similar (cosine) to a chosen record.")] = 0.9,
    embed_model: Annotated[str, typer.Option(help="Sentence-transformers folder; default: packaged all-MiniLM-L6-v2.")] = "default",
    name: Annotated[Optional[str], typer.Option(help="Run name (folder under runs/).")] = None,
    runs_dir: Annotated[Optional[str], typer.Option(help="Where run folders go.")] = None,
    force: Annotated[bool, typer.Option(help="Run even if an identical run already exists.")] = False,
):
    """Keep the best BUDGET records that are not near copies of each other; every other record is in the ledger with its score."""
    from ..stages.select import select as run_select
    from ..stages.select import selection_recipe

    try:
        if budget <= 0:
            raise RecipeError(["--budget must be a count (5000) or a fraction between 0 and 1 (0.2)."])
        overrides = [f"runs_dir={runs_dir}"] if runs_dir else []
        recipe = selection_recipe(
            data,
            budget,
            score_key=score_key,
            stratify=stratify,
            max_similarity=max_similarity,
            model=embed_model,
            name=name,
            overrides=overrides,
        )
        with progress_bar("selecting") as advance:
            result = run_select(recipe, force=force, progress=advance)
    except CuratuneError as e:
        _fail(e)
    if result.skipped:
        out.print(f"Nothing changed since the last run; kept {result.run_dir} as it is (use --force to rerun).")
    _print_curate_summary(result.stats, result.run_dir)
    summary = result.run_dir / "artifacts" / "selection.json"
    if summary.is_file():
        out.print(f"Selection summary: {summary}")


@app.command()
def split(
    data: Annotated[
        list[str],
        typer.Argument(help="The data: file(s), glob, folder or a curate run folder. With --check: one file per split, or their folder."),
    ],
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for splits/, split_report.json and clusters.jsonl (with --check: leakage.json).")
    ] = None,
    val: Annotated[float, typer.Option(help="Fraction of records for the validation split (0: none).")] = 0.1,
    test: Annotated[float, typer.Option(help="Fraction of records for the test split (0: none).")] = 0.1,
    stratify: Annotated[
        Optional[str], typer.Option(help="Keep the shares of this field equal across splits: label, kind, or a meta/input field.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same data and seed give the same splits.")] = 0,
    near_dup_threshold: Annotated[float, typer.Option(help="Word 3-gram Jaccard at which two records count as near duplicates.")] = 0.7,
    semantic_threshold: Annotated[
        Optional[float], typer.Option(help="Also keep together records whose embeddings' cosine reaches this (e.g. 0.9); off by default.")
    ] = None,
    embed_model: Annotated[
        str, typer.Option(help="Embedding model for --semantic-threshold: default (packaged MiniLM) or a sentence-transformers folder.")
    ] = "default",
    fields: Annotated[str, typer.Option(help="Text compared: record (all text, without the label), prompt or response.")] = "record",
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = "auto",
    to: Annotated[
        str, typer.Option("--to", help="Format of the split files: messages (chat JSONL), curatune (lossless), original, ...")
    ] = "messages",
    check: Annotated[bool, typer.Option("--check", help="Check existing splits for leakage instead of making new ones.")] = False,
):
    """Split data into train/val/test with no duplicate cluster across splits, or --check existing splits for leakage."""
    from ..errors import RecipeError
    from ..split import io as split_io
    from ..split import summary

    try:
        if fields not in ("record", "prompt", "response"):
            raise RecipeError([f"--fields must be record, prompt or response, got {fields!r}."], "the command line")
        if check:
            report, written = _split_check(data, out_dir, near_dup_threshold, semantic_threshold, embed_model, fields, fmt)
            summary.print_leakage(report, out)
        else:
            if out_dir is None:
                raise RecipeError(
                    ["split needs --out DIR, the folder for splits/ and split_report.json (or --check to check existing splits)."],
                    "the command line",
                )
            split_io.check_output_name(to)
            report, written = _split_make(
                data, out_dir, val, test, stratify, seed, near_dup_threshold, semantic_threshold, embed_model, fields, fmt, to
            )
            summary.print_split(report, out)
    except CuratuneError as e:
        _fail(e)
    if written:
        out.print(f"Wrote {written}")


def _split_make(data, out_dir, val, test, stratify, seed, near, semantic, embed_model, fields, fmt, to) -> tuple[dict, str]:
    from ..curation.read.load import data_paths, read_all
    from ..split import io as split_io
    from ..split import split_records
    from ..split.core import check_thresholds, fractions_for

    fractions_for(val, test)  # bad options fail before anything is read
    check_thresholds(near, semantic)
    paths = data_paths(data, exclude=out_dir)
    with progress_bar("reading") as advance:
        loaded = read_all(paths, fmt, advance)
    if loaded.rejects:
        out.print(
            f"{len(loaded.rejects)} rows could not be read and are left out, e.g. "
            + "; ".join(f"{r.source}:{r.line} {r.reason}" for r in loaded.rejects[:3]),
            highlight=False,
        )
    with progress_bar("finding duplicates") as advance:
        result = split_records(
            loaded.records,
            val=val,
            test=test,
            stratify=stratify,
            seed=seed,
            near_dup_threshold=near,
            semantic_threshold=semantic,
            embed_model=embed_model,
            fields=fields,
            progress=advance,
        )
    files = split_io.write_split(result, out_dir, to, loaded.paths, loaded.rejects)
    return result.report, f"{', '.join(str(p) for p in files.values())} and {out_dir / 'split_report.json'}"


def _split_check(data, out_dir, near, semantic, embed_model, fields, fmt):
    from ..curation.read.load import read_all
    from ..split import io as split_io
    from ..split import leakage_report
    from ..split.core import check_thresholds

    check_thresholds(near, semantic)
    inputs = split_io.split_inputs(data)
    with progress_bar("reading") as advance:
        loaded = {name: read_all(paths, fmt, advance, allow_empty=True) for name, paths in inputs.items()}
    unreadable = sum(len(x.rejects) for x in loaded.values())
    if unreadable:
        out.print(f"{unreadable} rows could not be read and are not checked (see: curatune audit FILE).")
    splits = {name: x.records for name, x in loaded.items()}
    with progress_bar("finding duplicates") as advance:
        report = leakage_report(splits, near, semantic, embed_model, fields, progress=advance)
    written = str(split_io.write_leakage(report, out_dir, inputs)) if out_dir is not None else ""
    return report, written


# ---- training -----------------------------------------------------------------------------------


@app.command()
def train(
    recipe_path: Annotated[str, typer.Argument(metavar="RECIPE", help="A recipe (.yaml) with a train: section.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: -s train.learning_rate=1e-4")] = None,
    force: Annotated[bool, typer.Option(help="Train even if an identical training has finished.")] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """Fine-tune a model (LoRA, full or top layers) with checks before, overfitting watched during, losses ranked after."""
    from ..config.recipe import load_recipe
    from ..stages.train import train as run_train

    try:
        recipe = load_recipe(recipe_path, set_ or [])
        if recipe.train is None:
            raise RecipeError(
                [f"{recipe_path} has no train: section. Add one (see examples/train_lora.yaml); `train: {{}}` takes every default."]
            )
        result = run_train(recipe, force=force, echo=lambda s: out.print(s, highlight=False), track=not no_tracking)
    except CuratuneError as e:
        _fail(e)
    s = result.summary
    if not result.skipped:
        for w in s["overfitting_warnings"][:5]:
            out.print(f"[yellow]overfitting (step {w['step']}):[/] {w['message']}", highlight=False)
        if s["highest_loss_examples"]:
            worst = ", ".join(f"{r['id']} ({r['loss']:.2f})" for r in s["highest_loss_examples"][:5])
            out.print(f"highest-loss training examples: {worst}  (all in {result.train_dir / 'losses.jsonl'})", highlight=False)
    out.print(f"Training folder: {result.train_dir}  (curves.png, summary.json; the model is in model/)")
    if s.get("mlflow"):
        out.print(f"MLflow run {s['mlflow']['run_id']} in {s['mlflow']['uri']}  (browse: curatune ui)", highlight=False)


@app.command("lr-find")
def lr_find(
    recipe_path: Annotated[
        str, typer.Argument(metavar="RECIPE", help="A recipe (.yaml); its train: section says the model, the method and the batch.")
    ],
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: -s train.per_device_train_batch_size=16")
    ] = None,
    start_lr: Annotated[float, typer.Option(help="The first learning rate.")] = 1e-7,
    end_lr: Annotated[float, typer.Option(help="The last learning rate (the test stops before it when the loss diverges).")] = 10.0,
    num_steps: Annotated[int, typer.Option(help="Steps at most (never more than the training itself takes).")] = 100,
    pick: Annotated[
        str, typer.Option(help="The suggestion to print first: min_div_10 (what learning_rate: auto uses) or steepest.")
    ] = "min_div_10",
    force: Annotated[bool, typer.Option(help="Run the test even if an identical one has finished.")] = False,
):
    """Learning-rate range test: train briefly with a rate growing from --start-lr to --end-lr, suggest a rate, plot the curve."""
    from ..config.recipe import load_recipe
    from ..stages.lr_find import lr_find as run_lr_find
    from ..train.lr_find import RangeTestSettings

    try:
        recipe = load_recipe(recipe_path, set_ or [])
        settings = RangeTestSettings(start_lr=start_lr, end_lr=end_lr, num_steps=num_steps)
        result = run_lr_find(recipe, settings, pick=pick, force=force, echo=lambda s: out.print(s, highlight=False))
    except CuratuneError as e:
        _fail(e)
    s = result.suggestion
    stop = "the loss diverged" if result.curve.diverged else "the end of the range"
    out.print(
        f"{len(result.curve.lrs)} steps, {result.curve.lrs[0]:.1e} to {result.curve.lrs[-1]:.1e} (stopped at {stop})", highlight=False
    )
    out.print(
        f"[bold]suggested learning rate: {result.learning_rate:.2e}[/] ({result.pick}); steepest descent {s.steepest:.2e}, minimum / 10 {s.min_div_10:.2e}",
        highlight=False,
    )
    out.print(
        f"Curve: {result.folder / 'lr_find.png'}  (points: lr_find.json). Use it: train.learning_rate: {result.learning_rate:.2e}, or learning_rate: auto",
        highlight=False,
    )


@app.command()
def tune(
    recipe_path: Annotated[
        str,
        typer.Argument(
            metavar="RECIPE", help="A recipe (.yaml) with a tune: section (the space to search) and a train: section (the rest)."
        ),
    ],
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: -s tune.n_trials=40")] = None,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log the trials to MLflow.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every trial's training lines, not one line per trial.")] = False,
):
    """Search hyperparameters with Optuna (TPE, random or grid; bad trials pruned); write the best configuration as a recipe. Rerun to resume."""
    from ..config.recipe import load_recipe
    from ..stages.tune import tune as run_tune

    try:
        recipe = load_recipe(recipe_path, set_ or [])
        result = run_tune(recipe, echo=lambda s: out.print(s, highlight=False), track=not no_tracking, verbose=verbose)
    except CuratuneError as e:
        _fail(e)
    s = result.summary
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(s["trials"].items()))
    out.print(f"{counts}; {s['steps_trained']} optimiser steps in {s['seconds']:.0f} s", highlight=False)
    if s["best"]:
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["best"]["params"].items())
        out.print(f"[bold]best: trial {s['best']['number']}, validation loss {s['best']['value']:.4f}[/]: {values}", highlight=False)
        out.print(f"Best recipe: {result.best_recipe}  (curatune train {result.best_recipe})", highlight=False)
    out.print(f"Report: {result.folder / 'report.md'}  (trials.csv, optimization_history.png, param_importances.png)", highlight=False)
    if s.get("mlflow"):
        out.print(
            f"MLflow run {s['mlflow']['run_id']} in {s['mlflow']['uri']}, one nested run per trial  (browse: curatune ui)", highlight=False
        )


@app.command()
def ui(
    runs_dir: Annotated[str, typer.Option(help="The runs folder whose MLflow store to open.")] = "runs",
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
):
    """Open the MLflow UI on the local tracking store (runs/mlflow.db)."""
    import subprocess

    from ..tracking import artifact_root, default_tracking_uri

    db = Path(runs_dir) / "mlflow.db"
    if not db.is_file():
        _fail(CuratuneError(f"No MLflow store at {db}: nothing has been trained with --runs-dir {runs_dir} yet (curatune train RECIPE)."))
    out.print(f"MLflow UI on http://127.0.0.1:{port} (Ctrl+C stops it)")
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        default_tracking_uri(runs_dir),
        "--default-artifact-root",
        artifact_root(runs_dir),
        "--port",
        str(port),
    ]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def hw(
    model: Annotated[
        str, typer.Argument(help="A folder with config.json, a .gguf file, or default (packaged SmolLM2-135M). No weights are read.")
    ] = "default",
    seq_len: Annotated[int, typer.Option(help="Tokens per training example (max_seq_len).")] = 2048,
    batch_size: Annotated[int, typer.Option(help="Examples per forward pass (per_device_train_batch_size).")] = 1,
    lora_r: Annotated[int, typer.Option(help="LoRA rank (LoRA and QLoRA adapt every linear layer but the LM head).")] = 16,
    # 0.05 is curatune train's default; dropout makes PEFT keep two more copies of each adapted layer's input.
    lora_dropout: Annotated[float, typer.Option(help="LoRA dropout; above 0 it costs activation memory.")] = 0.05,
    dtype: Annotated[str, typer.Option(help="bf16 or fp32 weights and activations.")] = "bf16",
    optimizer: Annotated[str, typer.Option(help="adamw, adamw_8bit or sgd.")] = "adamw",
    gradient_checkpointing: Annotated[
        bool, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations in the backward pass.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """Estimate the memory of full fine-tuning, LoRA and QLoRA at a sequence length and batch size, and whether each fits the visible device."""
    import json
    from dataclasses import asdict

    from ..train.memory import MODES, describe_model, estimate_memory, fits, visible_device

    try:
        arch = describe_model(model)
        options = dict(
            lora_r=lora_r, dtype=dtype, gradient_checkpointing=gradient_checkpointing, optimizer=optimizer, lora_dropout=lora_dropout
        )
        estimates = [estimate_memory(arch, mode, seq_len, batch_size, **options) for mode in MODES]
    except CuratuneError as e:
        _fail(e)
    device = visible_device()
    if as_json:
        payload = {
            "model": arch.to_dict(),
            "device": asdict(device),
            "estimates": [{**e.to_dict(), "fits": fits(e, device)} for e in estimates],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    gib = lambda n: f"{n / 2**30:.2f}"  # noqa: E731
    out.print(
        f"{arch.name}: {arch.model_type}, {arch.parameters / 1e6:,.1f}M parameters, {arch.num_layers} layers, hidden {arch.hidden_size}, vocabulary {arch.vocab_size:,}",
        highlight=False,
    )
    out.print(f"{device.name}: {gib(device.free_bytes)} GiB free of {gib(device.total_bytes)} GiB", highlight=False)
    table = Table(
        "mode",
        "trained",
        "weights",
        "grads",
        "optimizer",
        "activations",
        "total",
        "fits?",
        title="GiB per training step; fits? keeps a 10% margin",
    )
    for e in estimates:
        verdict = "[green]fits[/]" if fits(e, device) else "[red]does not fit[/]"
        trained = f"{e.trainable_parameters / 1e6:,.1f}M"
        table.add_row(e.mode, trained, gib(e.weights), gib(e.gradients), gib(e.optimizer_states), gib(e.activations), gib(e.total), verdict)
    out.print(table)
    for e in estimates:
        out.print(f"{e.mode}: {e.assumptions}", highlight=False)


# ---- evaluation ---------------------------------------------------------------------------------


@app.command("eval")
def eval_(
    target: Annotated[
        str, typer.Argument(metavar="RUN_OR_MODEL", help="A run folder (runs/NAME) or a model folder (a LoRA adapter or a full model).")
    ],
    data: Annotated[str, typer.Option("--data", help="Held-out data: conversations ending with the reference answer, or labelled texts.")],
    base: Annotated[Optional[str], typer.Option(help="The model to compare with; default: the base the run was trained from.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="The eval folder; default: runs/NAME/eval.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Longest answer generated, in tokens (greedy decoding).")] = 64,
    limit: Annotated[Optional[int], typer.Option(help="Evaluate the first N usable examples only.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap, of the sheet's order and of a classifier head the base lacks.")] = 0,
    human_sheet: Annotated[
        bool, typer.Option("--human-sheet", help="Also write a blind side-by-side sheet of both models' answers for raters.")
    ] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to the run's MLflow store.")] = False,
):
    """Compare a fine-tuned model with its base on held-out data: metrics with intervals, sample answers, output safety."""
    from ..evaluate.report import LABELS
    from ..evaluate.run import evaluate_run

    try:
        report = evaluate_run(target, data, base=base, out_dir=out_dir, max_new_tokens=max_new_tokens, limit=limit, seed=seed,
                              human_sheet=human_sheet, track=not no_tracking, echo=lambda s: console.print(s, highlight=False))  # fmt: skip
    except CuratuneError as e:
        _fail(e)
    span = lambda i: f"{i.estimate:.4g} [{i.low:.4g}, {i.high:.4g}]"  # noqa: E731
    table = Table(
        "metric", "base", "tuned", "tuned − base", title=f"{report.n} held-out examples; 95% bootstrap intervals, the difference paired"
    )
    for name, m in report.metrics.items():
        d = m.difference
        table.add_row(
            LABELS.get(name, name) + ("" if m.higher_is_better else " (lower is better)"),
            span(m.base),
            span(m.tuned),
            f"{d.difference:+.4g} [{d.low:+.4g}, {d.high:+.4g}]",
        )
    out.print(table)
    for name, counts in report.safety.items():
        reasons = ", ".join(f"{r} {n}" for r, n in counts.by_reason.items())
        out.print(
            f"{name} answers flagged by the safety steps: {counts.flagged} of {counts.checked}"
            + (f" ({reasons}; ids: {', '.join(counts.ids[:5])})" if reasons else ""),
            highlight=False,
        )
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False)
    for row in report.examples[:3]:
        out.print(
            f"[bold]{row['id']}[/] {row['prompt'][:200]!r}\n  reference: {row['reference'][:200]!r}\n  base:      {row['base'][:200]!r}\n  tuned:     {row['tuned'][:200]!r}",
            highlight=False,
        )
    out.print(f"Eval folder: {report.out_dir}  (summary.md, metrics.json, generations.jsonl)", highlight=False)
    if report.human_sheet:
        h = report.human_sheet
        out.print(
            f"Sheet for raters: {h.sheet_html.parent}/  Keep the key apart: {h.key_json}. Score it with: curatune judge {h.sheet_csv} {h.key_json}",
            highlight=False,
        )
    if report.mlflow:
        out.print(f"MLflow run {report.mlflow['run_id']} in {report.mlflow['uri']}", highlight=False)


@app.command()
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

    try:
        result = import_judgments(sheet, key, allow_unjudged=allow_unjudged)
    except CuratuneError as e:
        _fail(e)
    if as_json:
        import json

        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    title = f"{result.judged} items judged, {result.ties} ties" + (f", {result.unjudged} left unjudged" if result.unjudged else "")
    table = Table(
        "system", "wins", "ties", "losses", "win rate (tie = half)", "95% interval", "win rate without ties", "95% interval", title=title
    )
    for name, r in result.per_system.items():
        table.add_row(name, str(r.wins), str(r.ties), str(r.losses), pct(r.win_rate), f"{pct(r.win_rate_ci[0])} to {pct(r.win_rate_ci[1])}",
                      pct(r.decisive_win_rate), f"{pct(r.decisive_win_rate_ci[0])} to {pct(r.decisive_win_rate_ci[1])}")  # fmt: skip
    out.print(table)


# ---- the whole loop ------------------------------------------------------------------------------


@app.command()
def run(
    recipe_path: Annotated[
        str, typer.Argument(metavar="RECIPE", help="A recipe with the stages to run: curate (always), split:, train:, eval:.")
    ],
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a recipe key: -s train.max_steps=50")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, even unchanged ones.")] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """The whole loop from raw data to report.html: curate, split, train, evaluate; unchanged stages are skipped."""
    from ..config.recipe import load_recipe
    from ..stages.loop import run_loop

    try:
        recipe = load_recipe(recipe_path, set_ or [])
        result = run_loop(recipe, force=force, echo=lambda s: out.print(s, highlight=False), track=not no_tracking)
    except CuratuneError as e:
        _fail(e)
    out.print(f"Run folder: {result.run_dir}; open {result.report}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the generated data and the two runs.")] = Path("demo"),
    quick: Annotated[
        bool, typer.Option("--quick", help="A few training steps on a small set: checks the loop works (for CI), proves nothing.")
    ] = False,
    no_tracking: Annotated[bool, typer.Option("--no-tracking", help="Do not log to MLflow.")] = False,
):
    """Generate a noisy support-ticket triage set, train SmolLM2 on it raw and curated, evaluate both, compare, report."""
    from ..stages.demo import headline, run_demo

    try:
        result = run_demo(out_dir, quick=quick, echo=lambda s: out.print(s, highlight=False), track=not no_tracking)
    except CuratuneError as e:
        _fail(e)
    for line in headline(result):
        out.print(line, highlight=False)


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders; each later one is compared with the first on the examples they share.")],
    report_run: Annotated[
        Optional[Path], typer.Option("--report", help="Also put the comparison on top of this run's report.html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
):
    """Runs side by side: data funnel, settings, scores with intervals, and paired differences against the first run."""
    import json

    from ..stages.compare import compare_runs, report_section

    try:
        comparison = compare_runs(runs)
    except CuratuneError as e:
        _fail(e)
    if as_json:
        out.print_json(json.dumps(comparison))
        return
    section = report_section(comparison)
    table = Table("metric", *section["runs"], section["difference_label"] or "difference")
    for row in section["rows"]:
        table.add_row(row["metric"], *row["cells"], row["difference"])
    out.print(table)
    for r in comparison["runs"]:
        out.print(f"{r['name']}: {r['funnel']} settings {r['settings']} training {r['training']}", highlight=False)
    if report_run:
        from ..stages.report import build_report

        out.print(f"Wrote {build_report(report_run, compare=section)}")


@app.command()
def reference():
    """Print the recipe reference (every key, type, default, meaning), generated from the schema."""
    from ..config.reference import recipe_reference

    sys.stdout.write(recipe_reference())


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/NAME).")]):
    """(Re)build a run folder's self-contained report.html from the files its stages wrote."""
    from ..stages.report import build_report

    if not run_dir.is_dir():
        _fail(CuratuneError(f"'{run_dir}' is not a folder; give a run folder such as runs/NAME."))
    out.print(f"Wrote {build_report(run_dir)}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        app()
    except CuratuneError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except Exception:
        console.print_exception(max_frames=4)
        console.print("[bold red]This is a bug in curatune[/]; please report it with the command you ran.")
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
