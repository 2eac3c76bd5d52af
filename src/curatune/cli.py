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

from .errors import EXIT_INTERNAL, CuratuneError, RecipeError

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
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the dataset (.jsonl, .json, .csv, .parquet; .gz/.zst).")] = Path("noisy.jsonl"),
    n: Annotated[int, typer.Option("--n", help="Number of records (malformed lines included).")] = 2000,
    defect_rate: Annotated[float, typer.Option(help="Fraction of records with a planted defect.")] = 0.2,
    fmt: Annotated[str, typer.Option("--format", help="alpaca, sharegpt or messages.")] = "alpaca",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same file.")] = 0,
):
    """Generate a noisy dataset with planted defects and a ground-truth file beside it."""
    from .generate import generate_noisy

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
    out_path: Annotated[Path, typer.Option("--out", help="Output file; its name sets the file type (.jsonl, .json, .csv, .parquet, .gz/.zst).")],
    to: Annotated[str, typer.Option("--to", help="Output format: messages, original, curatune, alpaca, sharegpt, ...")] = "messages",
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = "auto",
    file_type: Annotated[str, typer.Option(help="Output file type when the name does not tell (hf for a datasets folder).")] = "",
):
    """Convert a dataset between formats and file types. Rows that cannot be read are listed, not written."""
    from .data.read.records import Reject, RecordReader
    from .data.write.writers import RecordWriter

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
    from .data.formats import FORMATS

    table = Table("format", "identified by", "what it is")
    for f in FORMATS.values():
        table.add_row(f.name, ", ".join(f.required), f.description)
    out.print(table)


# ---- curation -------------------------------------------------------------------------------


@app.command()
def steps(default: Annotated[bool, typer.Option("--default", help="Show the default recipe's steps only.")] = False):
    """List every registered curation step with its parameters and reason codes."""
    import inspect

    from .curate import default_steps
    from .data.registry import all_steps, get_step_class
    from .data.step import init_params

    table = Table("step", "kind", "parameters", "reasons", "summary")
    names = [sc.step for sc in default_steps()] if default else list(all_steps())
    for name in names:
        cls = get_step_class(name)
        sig = inspect.signature(cls.__init__).parameters
        params = ", ".join(f"{p}={sig[p].default!r}" if sig[p].default is not inspect.Parameter.empty else f"{p} (required)" for p in init_params(cls))
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
    from .config.recipe import apply_overrides, load_recipe, parse_recipe
    from .curate import curate as run_curate

    try:
        if target.endswith((".yaml", ".yml")):
            recipe = load_recipe(target, set_ or [])
        else:
            raw = apply_overrides({"data": {"path": target}, "name": Path(target).name.split(".")[0]}, set_ or [])
            recipe = parse_recipe(raw, "the command line")
        if decontaminate_against:
            from .config.recipe import StepConfig
            from .curate import default_steps

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
    out.print(f"[bold]{stats['input']}[/] records in, [green]{stats['kept']} kept[/], [red]{stats['dropped']} dropped[/] in {stats['seconds']:.1f}s")
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
    from .explain import explain_record

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
    tokenizer: Annotated[Optional[str], typer.Option(help="Tokenizer: a local folder, a GGUF file, or a hub id (default: packaged SmolLM2).")] = None,
    max_seq_len: Annotated[int, typer.Option(help="Sequence length training will use; longer records would be truncated.")] = 2048,
    no_tokens: Annotated[bool, typer.Option("--no-tokens", help="Skip token counts (faster, no tokenizer needed).")] = False,
    no_languages: Annotated[bool, typer.Option("--no-languages", help="Skip language identification.")] = False,
    preview_records: Annotated[int, typer.Option(help="Records the curation preview runs on (0 = all).")] = 20_000,
):
    """Profile a dataset without changing it: problems, duplicates, lengths, languages; writes audit.json and audit.html."""
    from .audit import run_audit
    from .audit.summary import print_summary

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
    score_key: Annotated[str, typer.Option(help="Score to rank by: 'quality' (computed), or a score already in meta.scores (e.g. ifd).")] = "quality",
    stratify: Annotated[Optional[str], typer.Option(help="Split the budget over label, language or a meta key.")] = None,
    max_similarity: Annotated[float, typer.Option(help="Skip a candidate this similar (cosine) to a chosen record.")] = 0.9,
    embed_model: Annotated[str, typer.Option(help="Sentence-transformers folder; default: packaged all-MiniLM-L6-v2.")] = "default",
    name: Annotated[Optional[str], typer.Option(help="Run name (folder under runs/).")] = None,
    runs_dir: Annotated[Optional[str], typer.Option(help="Where run folders go.")] = None,
    force: Annotated[bool, typer.Option(help="Run even if an identical run already exists.")] = False,
):
    """Keep the best BUDGET records that are not near copies of each other; every other record is in the ledger with its score."""
    from .select import select as run_select
    from .select import selection_recipe

    try:
        if budget <= 0:
            raise RecipeError(["--budget must be a count (5000) or a fraction between 0 and 1 (0.2)."])
        overrides = [f"runs_dir={runs_dir}"] if runs_dir else []
        recipe = selection_recipe(data, budget, score_key, stratify, max_similarity, embed_model, name, overrides)
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
    data: Annotated[list[str], typer.Argument(help="The data: file(s), glob, folder or a curate run folder. With --check: one file per split, or their folder.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for splits/, split_report.json and clusters.jsonl (with --check: leakage.json).")] = None,
    val: Annotated[float, typer.Option(help="Fraction of records for the validation split (0: none).")] = 0.1,
    test: Annotated[float, typer.Option(help="Fraction of records for the test split (0: none).")] = 0.1,
    stratify: Annotated[Optional[str], typer.Option(help="Keep the shares of this field equal across splits: label, kind, or a meta/input field.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same data and seed give the same splits.")] = 0,
    near_dup_threshold: Annotated[float, typer.Option(help="Word 3-gram Jaccard at which two records count as near duplicates.")] = 0.7,
    semantic_threshold: Annotated[Optional[float], typer.Option(help="Also keep together records whose embeddings' cosine reaches this (e.g. 0.9); off by default.")] = None,
    embed_model: Annotated[str, typer.Option(help="Embedding model for --semantic-threshold: default (packaged MiniLM) or a sentence-transformers folder.")] = "default",
    fields: Annotated[str, typer.Option(help="Text compared: record (all text, without the label), prompt or response.")] = "record",
    fmt: Annotated[str, typer.Option("--format", help="Input format; detected when auto.")] = "auto",
    to: Annotated[str, typer.Option("--to", help="Format of the split files: messages (chat JSONL), curatune (lossless), original, ...")] = "messages",
    check: Annotated[bool, typer.Option("--check", help="Check existing splits for leakage instead of making new ones.")] = False,
):
    """Split data into train/val/test with no duplicate cluster across splits, or --check existing splits for leakage."""
    from .errors import RecipeError
    from .split import io as split_io
    from .split import summary

    try:
        if fields not in ("record", "prompt", "response"):
            raise RecipeError([f"--fields must be record, prompt or response, got {fields!r}."], "the command line")
        if check:
            report, written = _split_check(data, out_dir, near_dup_threshold, semantic_threshold, embed_model, fields, fmt)
            summary.print_leakage(report, out)
        else:
            if out_dir is None:
                raise RecipeError(["split needs --out DIR, the folder for splits/ and split_report.json (or --check to check existing splits)."], "the command line")
            split_io.check_output_name(to)
            report, written = _split_make(data, out_dir, val, test, stratify, seed, near_dup_threshold, semantic_threshold, embed_model, fields, fmt, to)
            summary.print_split(report, out)
    except CuratuneError as e:
        _fail(e)
    if written:
        out.print(f"Wrote {written}")


def _split_make(data, out_dir, val, test, stratify, seed, near, semantic, embed_model, fields, fmt, to) -> tuple[dict, str]:
    from .split import io as split_io
    from .split import split_records
    from .split.core import check_thresholds, fractions_for

    fractions_for(val, test)  # bad options fail before anything is read
    check_thresholds(near, semantic)
    paths = split_io.data_paths(data, exclude=out_dir)
    with progress_bar("reading") as advance:
        loaded = split_io.read_all(paths, fmt, advance)
    if loaded.rejects:
        out.print(f"{len(loaded.rejects)} rows could not be read and are left out, e.g. " + "; ".join(f"{r.source}:{r.line} {r.reason}" for r in loaded.rejects[:3]), highlight=False)
    with progress_bar("finding duplicates") as advance:
        result = split_records(loaded.records, val, test, stratify, seed, near, semantic, embed_model, fields, progress=advance)
    files = split_io.write_split(result, out_dir, to, loaded.paths, loaded.rejects)
    return result.report, f"{', '.join(str(p) for p in files.values())} and {out_dir / 'split_report.json'}"


def _split_check(data, out_dir, near, semantic, embed_model, fields, fmt):
    from .split import io as split_io
    from .split import leakage_report
    from .split.core import check_thresholds

    check_thresholds(near, semantic)
    inputs = split_io.split_inputs(data)
    with progress_bar("reading") as advance:
        loaded = {name: split_io.read_all(paths, fmt, advance, allow_empty=True) for name, paths in inputs.items()}
    unreadable = sum(len(x.rejects) for x in loaded.values())
    if unreadable:
        out.print(f"{unreadable} rows could not be read and are not checked (see: curatune audit FILE).")
    splits = {name: x.records for name, x in loaded.items()}
    with progress_bar("finding duplicates") as advance:
        report = leakage_report(splits, near, semantic, embed_model, fields, progress=advance)
    written = str(split_io.write_leakage(report, out_dir, inputs)) if out_dir is not None else ""
    return report, written


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
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
