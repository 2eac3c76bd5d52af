"""What the verbs print: the two consoles, progress bars, error exits, and the tables and summaries of each verb.

The verbs call the library and hand its results here; nothing in this module decides anything.
``out`` is stdout (results); ``console`` is stderr (progress, errors, notes that are not results).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..errors import CuratuneError

if TYPE_CHECKING:
    from ..curation.step import Step


def _width(stream) -> int | None:
    """The terminal's width; when the output goes to a file or a pipe, wide enough that no table cuts a cell."""
    if "COLUMNS" in os.environ or stream.isatty():
        return None  # rich reads COLUMNS, or asks the terminal
    return 200


# No rich markup: paths, ids and messages hold square brackets ("runs/dir[x]", "a[1].jsonl") that rich would take
# for style tags and drop. Styles are given as Text styles instead.
console = Console(stderr=True, soft_wrap=True, markup=False, width=_width(sys.stderr))  # never break a path or a message mid-line
out = Console(soft_wrap=True, markup=False, width=_width(sys.stdout))


def styled(label: str, style: str, rest: str) -> Text:
    """``label`` in ``style``, then ``rest`` as written."""
    return Text.assemble((label, style), " ", rest)


class _ConsoleLogHandler(logging.Handler):
    """Library progress lines (the ``curatune`` logger: label-error folds, decontamination) on stderr, dimmed."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.print(Text(self.format(record), style="dim"), highlight=False)
        except Exception:  # a log line must never end a run
            self.handleError(record)


def show_library_progress(level: int = logging.INFO) -> None:
    """Route the ``curatune`` logger to stderr once: long phases inside the library report there (issue 15)."""
    log = logging.getLogger("curatune")
    if not any(isinstance(h, _ConsoleLogHandler) for h in log.handlers):
        log.addHandler(_ConsoleLogHandler())
    log.setLevel(level)
    log.propagate = False


def echo(text: str) -> None:
    """One line of a stage's own report on stdout, printed as written (no rich highlighting)."""
    out.print(text, highlight=False)


def echo_err(text: str) -> None:
    """The same on stderr, for lines that must not mix with a verb's results."""
    console.print(text, highlight=False)


def _columns() -> tuple:
    return (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )


_live: list[Progress] = []  # the progress display on screen (rich shows one at a time): phases add their bars to it


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. Silent when stderr is not a terminal. With a total, an ETA.

    Opened while another bar is on screen, it is a second row of that display (rich draws one display at a time).
    The description is text, not markup: "[curated] step 3/60" shows its brackets.
    """
    description = escape(description)
    if _live:
        live = _live[-1]
        task = live.add_task(description, total=total)

        def advance_row(n: int = 1) -> None:
            live.advance(task, n)

        try:
            yield advance_row
        finally:
            _live[-1].remove_task(task)
        return
    with Progress(*_columns(), console=console, transient=True, disable=not console.is_terminal) as p:
        _live.append(p)
        try:
            main = p.add_task(description, total=total)

            def advance(n: int = 1) -> None:
                p.advance(main, n)

            yield advance
        finally:
            _live.pop()


def phase_bar(description: str, total: int | None = None) -> AbstractContextManager[Callable[[int], None]]:
    """A progress bar with an ETA for one phase of a run (embedding, clustering, IFD); see curation/phases.py."""
    return progress_bar(description, total)


@contextmanager
def spinner(text: str) -> Iterator[None]:
    """A spinner on stderr while a step without a count runs; nothing when stderr is not a terminal."""
    if not console.is_terminal:
        yield
        return
    with console.status(escape(text), spinner="dots"):
        yield


def fail(e: CuratuneError) -> NoReturn:
    """Print the error and leave with its exit code (2 usage, 3 input, 4 consistency)."""
    console.print(styled("error:", "bold red", str(e)), highlight=False)
    raise typer.Exit(e.exit_code)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turn a :class:`CuratuneError` raised inside into its message and exit code (also under typer's CliRunner)."""
    try:
        yield
    except CuratuneError as e:
        fail(e)


# ---- data in and out -----------------------------------------------------------------------


def print_generated(summary, out_path: Path) -> None:
    out.print(f"Wrote {summary.n_lines} lines to {out_path} and the ground truth to {summary.truth_path}")
    for note in summary.notes:
        out.print(f"note: {note}")
    table = Table("defect", "records")
    for defect, count in sorted(summary.counts.items()):
        table.add_row(defect, str(count))
    out.print(table)


def print_converted(count: int, out_path: Path, rejects: list) -> None:
    out.print(f"Wrote {count} records to {out_path}; {len(rejects)} rows could not be read.")
    for r in rejects[:20]:
        out.print(f"  {r.source}:{r.line}  {r.reason}  {r.detail}", highlight=False)
    if len(rejects) > 20:
        out.print(f"  ... and {len(rejects) - 20} more")


def print_formats(formats) -> None:
    table = Table("format", "identified by", "what it is")
    for f in formats:
        table.add_row(f.name, ", ".join(f.required), f.description)
    out.print(table)


_RST_ROLE = re.compile(r":[a-z]+:`~?\.*([^`]+)`")  # :class:`~.x.Step` -> Step's path (shortened below)
_RST_LITERAL = re.compile(r"``(.+?)``")


def plain_text(doc: str) -> str:
    """A docstring's reStructuredText made plain for a terminal: ``x`` -> x, :func:`~.a.b` -> b."""
    doc = _RST_ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], doc)
    return _RST_LITERAL.sub(r"\1", doc)


def print_steps(classes: dict[str, type[Step]]) -> None:
    """Each step: name and kind, its summary (the docstring's first line), parameters with defaults, reasons.

    A block per step, not a table: five columns of a table at 80 characters cut names and wrap every summary
    to a word per line.
    """
    import inspect

    from ..curation.step import init_params

    for i, (name, cls) in enumerate(classes.items()):
        sig = inspect.signature(cls.__init__).parameters
        params = ", ".join(
            f"{p}={sig[p].default!r}" if sig[p].default is not inspect.Parameter.empty else f"{p} (required)" for p in init_params(cls)
        )
        summary = plain_text((cls.__doc__ or "").strip().split("\n")[0])
        if i:
            out.print()
        out.print(Text.assemble((name, "bold"), f"  ({cls.kind})"), highlight=False)
        for line, style in ((summary, ""), (f"parameters: {params or 'none'}", "dim"), (f"reasons: {', '.join(cls.reasons)}", "dim")):
            wrapped = textwrap.fill(line, width=max(40, out.width), initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
            out.print(Text(wrapped, style=style), highlight=False)


# ---- curation -------------------------------------------------------------------------------


def print_skipped(run_dir: Path) -> None:
    out.print(f"Nothing changed since the last run; kept {run_dir} as it is (use --force to rerun).")


def print_curate_summary(stats: dict, run_dir: Path) -> None:
    out.print(
        Text.from_markup(
            f"[bold]{stats['input']}[/] records in, [green]{stats['kept']} kept[/], "
            f"[red]{stats['dropped']} dropped[/] in {stats['seconds']:.1f}s"
        )
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


def print_selection(summary: dict) -> None:
    """The selection against its pool: answer lengths, inputs, defects, first verbs, and the task clusters that lost share."""
    comp = summary.get("composition")
    if not comp:
        return
    pool, sel = comp["pool"], comp["selected"]
    table = Table("", "pool", "selected")
    table.add_row("records", f"{pool['records']:,}", f"{sel['records']:,}")
    table.add_row("median answer words", f"{pool['answer_words_median']:.0f}", f"{sel['answer_words_median']:.0f}")
    for key, label in (
        ("share_under_20_words", "answers under 20 words"),
        ("share_with_input", "with an input"),
        ("share_defective", "with a defect"),
    ):
        table.add_row(label, f"{pool[key]:.1%}", f"{sel[key]:.1%}")
    for words in pool["answer_words_histogram"]:
        table.add_row(
            f"  answers of {words} words", f"{pool['answer_words_histogram'][words]:.1%}", f"{sel['answer_words_histogram'][words]:.1%}"
        )
    for verb, shares in list(comp["verbs"].items())[:8]:
        table.add_row(f"  instructions starting {verb!r}", f"{shares['pool']:.1%}", f"{shares['selected']:.1%}")
    out.print(table)
    clusters = comp.get("clusters")
    if clusters:
        lost = comp["clusters_below_a_third"]
        out.print(
            f"{len(clusters)} task clusters; {len(lost)} holding 1% or more of the pool fell below a third of their share"
            + (": " + "; ".join(f"{c['name']} ({c['pool_share']:.1%} -> {c['selected_share']:.1%})" for c in lost) if lost else "."),
            highlight=False,
        )


# ---- training -----------------------------------------------------------------------------------


def print_trained(result) -> None:
    s = result.summary
    if not result.skipped:
        for w in s["overfitting_warnings"][:5]:
            out.print(styled(f"overfitting (step {w['step']}):", "yellow", w["message"]), highlight=False)
        if s["highest_loss_examples"]:
            worst = ", ".join(
                f"{r['id']} (loss {r['loss']:.2f}" + (f", {r['score']:+.1f} sd for its length)" if "tokens" in r else ")")
                for r in s["highest_loss_examples"][:5]
            )
            out.print(f"worst-fitted training examples: {worst}  (all in {result.train_dir / 'losses.jsonl'})", highlight=False)
    out.print(f"Training folder: {result.train_dir}  (curves.png, summary.json; the model is in model/)")
    if s.get("mlflow"):
        out.print(f"MLflow run {s['mlflow']['run_id']} in {s['mlflow']['uri']}  (browse: curatune ui)", highlight=False)


def print_lr_found(result) -> None:
    s = result.suggestion
    stop = "the loss diverged" if result.curve.diverged else "the end of the range"
    out.print(
        f"{len(result.curve.lrs)} steps, {result.curve.lrs[0]:.1e} to {result.curve.lrs[-1]:.1e} (stopped at {stop})", highlight=False
    )
    out.print(
        Text.assemble(
            (f"suggested learning rate: {result.learning_rate:.2e}", "bold"),
            f" ({result.pick}); steepest descent {s.steepest:.2e}, minimum / 10 {s.min_div_10:.2e}",
        ),
        highlight=False,
    )
    out.print(
        f"Curve: {result.folder / 'lr_find.png'}  (points: lr_find.json). "
        f"Use it: train.learning_rate: {result.learning_rate:.2e}, or learning_rate: auto",
        highlight=False,
    )


def print_tuned(result) -> None:
    s = result.summary
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(s["trials"].items()))
    out.print(f"{counts}; {s['steps_trained']} optimiser steps in {s['seconds']:.0f} s", highlight=False)
    if s["best"]:
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["best"]["params"].items())
        best = f"best: trial {s['best']['number']}, validation loss {s['best']['value']:.4f}"
        out.print(Text.assemble((best, "bold"), f": {values}"), highlight=False)
        out.print(f"Best recipe: {result.best_recipe}  (curatune train {result.best_recipe})", highlight=False)
    out.print(f"Report: {result.folder / 'report.md'}  (trials.csv, optimization_history.png, param_importances.png)", highlight=False)
    if s.get("mlflow"):
        out.print(
            f"MLflow run {s['mlflow']['run_id']} in {s['mlflow']['uri']}, one nested run per trial  (browse: curatune ui)", highlight=False
        )


def print_memory(arch, device, estimates: list, fits, note: str | None = None) -> None:
    """``curatune hw``'s table: GiB per training step of each mode, and whether it fits ``device``."""
    gib = lambda n: f"{n / 2**30:.2f}"  # noqa: E731
    out.print(
        f"{arch.name}: {arch.model_type}, {arch.parameters / 1e6:,.1f}M parameters, {arch.num_layers} layers, "
        f"hidden {arch.hidden_size}, vocabulary {arch.vocab_size:,}",
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
        verdict = Text("fits", "green") if fits(e, device) else Text("does not fit", "red")
        trained = f"{e.trainable_parameters / 1e6:,.1f}M"
        table.add_row(e.mode, trained, gib(e.weights), gib(e.gradients), gib(e.optimizer_states), gib(e.activations), gib(e.total), verdict)
    out.print(table)
    for e in estimates:
        out.print(f"{e.mode}: {e.assumptions}", highlight=False)
    if note:
        out.print(styled("note:", "yellow", note), highlight=False)


# ---- evaluation ---------------------------------------------------------------------------------


def print_evaluation(report, labels: dict[str, str]) -> None:
    """``curatune eval``: metrics with intervals, safety counts, notes, three sample answers, where the files are."""
    span = lambda i: f"{i.estimate:.4g} [{i.low:.4g}, {i.high:.4g}]"  # noqa: E731
    table = Table(
        "metric", "base", "tuned", "tuned − base", title=f"{report.n} held-out examples; 95% bootstrap intervals, the difference paired"
    )
    for name, m in report.metrics.items():
        d = m.difference
        table.add_row(
            labels.get(name, name) + ("" if m.higher_is_better else " (lower is better)"),
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
        out.print(styled("note:", "yellow", note), highlight=False)
    for row in report.examples[:3]:
        out.print(
            Text.assemble(
                (str(row["id"]), "bold"),
                f" {row['prompt'][:200]!r}\n  reference: {row['reference'][:200]!r}\n"
                f"  base:      {row['base'][:200]!r}\n  tuned:     {row['tuned'][:200]!r}",
            ),
            highlight=False,
        )
    out.print(f"Eval folder: {report.out_dir}  (summary.md, metrics.json, generations.jsonl)", highlight=False)
    if report.human_sheet:
        h = report.human_sheet
        out.print(
            f"Sheet for raters: {h.sheet_html.parent}/  Keep the key apart: {h.key_json}. "
            f"Score it with: curatune judge {h.sheet_csv} {h.key_json}",
            highlight=False,
        )
    if report.mlflow:
        out.print(f"MLflow run {report.mlflow['run_id']} in {report.mlflow['uri']}", highlight=False)


def print_judgments(result) -> None:
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


def print_comparison(comparison: dict[str, Any], section: dict[str, Any]) -> None:
    from ..stages.compare import funnel_line

    table = Table("metric", *section["runs"], section["difference_label"] or "difference")
    for row in section["rows"]:
        table.add_row(row["metric"], *row["cells"], row["difference"])
    out.print(table)
    for r in comparison["runs"]:
        settings = ", ".join(f"{k} {v}" for k, v in r["settings"].items() if v is not None)
        out.print(f"{r['name']}: {funnel_line(r)}" + (f"; {settings}" if settings else ""), highlight=False)
    for note in section.get("notes", []):
        out.print(styled("note:", "yellow", note), highlight=False)
