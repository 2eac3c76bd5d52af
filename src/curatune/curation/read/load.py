"""Reading every record of some files at once: for the stages that need the whole set in memory (split,
train, evaluate), with unreadable rows kept aside as Rejects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import InputError
from ...run_folder import kept_records_of
from ..record import Record
from .files import expand_inputs
from .records import RecordReader, Reject


@dataclass
class Loaded:
    records: list[Record]
    rejects: list[Reject] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def data_paths(data: list[str], exclude: Path | None = None) -> list[Path]:
    """The files to read: a curate run folder means its kept records; files under ``exclude`` (our own output) are skipped."""
    specs: list[str | Path] = []
    for spec in data:
        specs.append(kept_records_of(spec) or spec)
    paths = expand_inputs(specs)
    if exclude is not None:
        # Splitting a folder into a folder inside it must not read the previous splits back as data.
        ex = exclude.resolve()
        paths = [p for p in paths if ex not in p.resolve().parents]
        if not paths:
            raise InputError(f"Every data file under {', '.join(data)} is inside the output folder '{exclude}': point --out elsewhere.")
    return paths


def read_all(paths: list[Path], fmt: str = "auto", progress: Callable[[int], None] | None = None, allow_empty: bool = False) -> Loaded:
    """Every record of the files; a row that cannot be read is kept aside as a Reject, never fatal.

    No record at all is an error unless ``allow_empty`` (an empty split can be checked: it leaks nothing).
    """
    out = Loaded([], [], paths)
    for item in RecordReader(paths, fmt):
        if isinstance(item, Reject):
            out.rejects.append(item)
        else:
            out.records.append(item)
        if progress:
            progress(1)
    if not out.records and not (allow_empty and not out.rejects):
        where = "; ".join(f"{r.source}:{r.line} {r.reason}" for r in out.rejects[:3])
        hint = f" The first problems: {where}. Check the format with: curatune audit {paths[0]}" if out.rejects else ""
        raise InputError(f"No record could be read from {', '.join(map(str, paths))}.{hint}")
    return out
