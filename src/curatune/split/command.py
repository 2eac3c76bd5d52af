"""``curatune split`` without the terminal: check the options, read, split (or check splits), write.

The command builds a :class:`~curatune.config.split.SplitCommand` from its options and calls
:func:`make_split` or :func:`check_split`; what it shows while they run comes in as ``progress``
(a factory of progress bars, one per phase) and ``echo`` (one line of text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.split import SplitCommand
from ..curation.read.load import data_paths, read_all
from ..errors import RecipeError
from . import io as split_io
from .clusters import check_thresholds
from .core import fractions_for, split_records
from .leakage import LeakageReport, leakage_report

Advance = Callable[[int], None]
Progress = Callable[[str], AbstractContextManager[Advance]]
Echo = Callable[[str], None]

FIELDS = ("record", "prompt", "response")


@contextmanager
def no_progress(description: str) -> Iterator[Advance]:
    yield _no_advance


def _no_advance(n: int = 1) -> None:
    pass


def _ignore(text: str) -> None:
    pass


@dataclass
class SplitMade:
    report: dict[str, Any]
    files: dict[str, Path]  # split name -> its file
    report_path: Path  # split_report.json


@dataclass
class SplitChecked:
    report: LeakageReport
    leakage_path: Path | None  # leakage.json, when an output folder was given


def check_fields(fields: str) -> None:
    if fields not in FIELDS:
        raise RecipeError([f"--fields must be record, prompt or response, got {fields!r}."], "the command line")


def make_split(
    data: list[str], out_dir: Path | None, cfg: SplitCommand, progress: Progress = no_progress, echo: Echo = _ignore
) -> SplitMade:
    """Split ``data`` into ``out_dir/splits/``, with ``split_report.json`` and ``clusters.jsonl`` beside it.

    Bad options fail before anything is read. Rows that cannot be read are left out, counted in the
    report, and named in one ``echo`` line.
    """
    check_fields(cfg.fields)
    if out_dir is None:
        raise RecipeError(
            ["split needs --out DIR, the folder for splits/ and split_report.json (or --check to check existing splits)."],
            "the command line",
        )
    split_io.check_output_name(cfg.to)
    fractions_for(cfg.val, cfg.test)
    check_thresholds(cfg.near_dup_threshold, cfg.semantic_threshold)
    paths = data_paths(data, exclude=out_dir)
    with progress("reading") as advance:
        loaded = read_all(paths, cfg.format, advance)
    if loaded.rejects:
        echo(
            f"{len(loaded.rejects)} rows could not be read and are left out, e.g. "
            + "; ".join(f"{r.source}:{r.line} {r.reason}" for r in loaded.rejects[:3])
        )
    with progress("finding duplicates") as advance:
        result = split_records(
            loaded.records,
            val=cfg.val,
            test=cfg.test,
            stratify=cfg.stratify,
            seed=cfg.seed,
            near_dup_threshold=cfg.near_dup_threshold,
            semantic_threshold=cfg.semantic_threshold,
            embed_model=cfg.embed_model,
            fields=cfg.fields,
            progress=advance,
        )
    files = split_io.write_split(result, out_dir, cfg.to, loaded.paths, loaded.rejects)
    return SplitMade(result.report, files, out_dir / "split_report.json")


def check_split(
    data: list[str], out_dir: Path | None, cfg: SplitCommand, progress: Progress = no_progress, echo: Echo = _ignore
) -> SplitChecked:
    """Count the duplicate pairs across existing splits (one file, glob or folder per split); ``leakage.json`` in ``out_dir``."""
    check_fields(cfg.fields)
    check_thresholds(cfg.near_dup_threshold, cfg.semantic_threshold)
    inputs = split_io.split_inputs(data)
    with progress("reading") as advance:
        loaded = {name: read_all(paths, cfg.format, advance, allow_empty=True) for name, paths in inputs.items()}
    unreadable = sum(len(x.rejects) for x in loaded.values())
    if unreadable:
        echo(f"{unreadable} rows could not be read and are not checked (see: curatune audit FILE).")
    splits = {name: x.records for name, x in loaded.items()}
    with progress("finding duplicates") as advance:
        report = leakage_report(splits, cfg.near_dup_threshold, cfg.semantic_threshold, cfg.embed_model, cfg.fields, progress=advance)
    path = split_io.write_leakage(report, out_dir, inputs) if out_dir is not None else None
    return SplitChecked(report, path)
