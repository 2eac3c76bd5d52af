"""The run folder: every path under ``runs/<name>/``, named in this one place.

```
runs/<name>/                 RunFolder
  recipe.yaml                curate: the resolved recipe, every default written out
  run.json                   curate: its key, inputs, timing (written last: a folder without it is unfinished)
  stats.json                 curate: counts per step and reason, read problems
  ledger.parquet             curate: every decision about every record
  data/kept.jsonl            curate: the kept records
  data/dropped.jsonl         curate: every dropped record, whole, with the decision that dropped it
  artifacts/                 curate: what global steps leave (duplicate clusters, selection, ...)
  split_key.json             split: its key
  splits/<split>.jsonl       split: train.jsonl, val.jsonl, test.jsonl       SplitFiles
  split_report.json          split: sizes, strata, clusters, leakage
  clusters.jsonl             split: the duplicate clusters kept whole
  lr_find/                   lr-find                                         LrFindFolder
  tune/                      tune; each trial a run folder of its own in tune/trial-<n>/   TuneFolder
  train/                     train                                           TrainFolder
  eval/                      eval                                            EvalFolder
  report.html                report
runs/mlflow.db               the MLflow store (curatune.tracking)
```

Each stage of :mod:`curatune.stages` writes only its own part; the packages below
the stages (train, evaluate, split, report) are handed these paths. The module sits
at the bottom of the package (it imports nothing of curatune but the errors), so the
record loader, which reads a curate run folder's kept records, can use it too.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from .errors import InputError


class _At:
    """A path of a folder, ``root / parts``, as a read-only attribute of the folder's class."""

    def __init__(self, *parts: str, doc: str | None = None):
        self.parts = parts
        self.__doc__ = doc

    @overload
    def __get__(self, folder: None, owner: type) -> _At: ...
    @overload
    def __get__(self, folder: object, owner: type) -> Path: ...
    def __get__(self, folder: Any, owner: type) -> Path | _At:
        return self if folder is None else folder.root.joinpath(*self.parts)


def split_file(folder: Path, name: str) -> Path:
    """The file of split ``name`` (train, val, test) in a ``splits/`` folder."""
    return folder / f"{name}.jsonl"


@dataclass(frozen=True)
class SplitFiles:
    """What a split writes into a folder: a run folder, or ``curatune split --out DIR``."""

    root: Path
    splits = _At("splits")
    report = _At("split_report.json")
    clusters = _At("clusters.jsonl")
    leakage = _At("leakage.json", doc="What ``curatune split --check`` writes.")

    def split(self, name: str) -> Path:
        return split_file(self.splits, name)


@dataclass(frozen=True)
class TrainFolder:
    """``train/``: what a training leaves."""

    root: Path
    key = _At("key.json", doc="What the training depends on; the same key skips it (or resumes it from a checkpoint).")
    config = _At("train.yaml", doc="The resolved train section, every default written out.")
    preflight = _At("preflight.json")
    metrics = _At("metrics.jsonl")
    curves = _At("curves.png")
    losses = _At("losses.jsonl")
    checkpoints = _At("checkpoints")
    model = _At("model")
    summary = _At("summary.json", doc="Written last: a training folder without it did not finish.")
    pruned = _At("pruned.json", doc="A tune trial the pruner stopped: why and when.")


@dataclass(frozen=True)
class LrFindFolder:
    """``lr_find/``: the learning-rate range test."""

    root: Path
    result = _At("lr_find.json", doc="Settings, key, every point and the suggestions.")
    plot = _At("lr_find.png")
    preflight = _At("preflight.json")
    checkpoints = _At("checkpoints", doc="The trainer's output folder; the range test saves nothing there.")
    metrics = _At("metrics.jsonl")


@dataclass(frozen=True)
class TuneFolder:
    """``tune/``: an Optuna search, one run folder per trial."""

    root: Path
    study = _At("study.db", doc="The Optuna study (SQLite): a rerun resumes it.")
    trials = _At("trials.csv")
    best_recipe = _At("best_recipe.yaml")
    history_plot = _At("optimization_history.png")
    importances_plot = _At("param_importances.png")
    report = _At("report.md")
    summary = _At("summary.json")

    def trial(self, number: int) -> RunFolder:
        """Trial ``number``'s own run folder (it holds ``train/``)."""
        return RunFolder(self.root / f"trial-{number}")


@dataclass(frozen=True)
class EvalFolder:
    """``eval/`` (or any folder ``curatune eval --out`` names): base against tuned."""

    root: Path
    key = _At("key.json")
    metrics = _At("metrics.json")
    generations = _At("generations.jsonl")
    summary = _At("summary.md")
    human = _At("human", doc="The blind side-by-side sheet for raters.")
    human_key = _At("human_key.json", doc="Which answer of the sheet is whose: kept out of human/, which can be handed over whole.")


@dataclass(frozen=True)
class RunFolder:
    """``runs/<name>/``."""

    root: Path
    # curate
    recipe = _At("recipe.yaml")
    done = _At("run.json", doc="The curation's key, inputs and timing, written last.")
    stats = _At("stats.json")
    ledger = _At("ledger.parquet")
    data = _At("data")
    kept = _At("data", "kept.jsonl")
    dropped = _At("data", "dropped.jsonl")
    artifacts = _At("artifacts")
    # the stages after it
    split_key = _At("split_key.json")
    report = _At("report.html")

    @classmethod
    def of(cls, runs_dir: str | Path, name: str | None) -> RunFolder:
        return cls(Path(runs_dir) / str(name))

    def is_curated(self) -> bool:
        """A finished curate run folder (a folder with ``run.json``)."""
        return self.root.is_dir() and self.done.is_file()

    @property
    def split(self) -> SplitFiles:
        return SplitFiles(self.root)

    @property
    def lr_find(self) -> LrFindFolder:
        return LrFindFolder(self.root / "lr_find")

    @property
    def tune(self) -> TuneFolder:
        return TuneFolder(self.root / "tune")

    @property
    def train(self) -> TrainFolder:
        return TrainFolder(self.root / "train")

    @property
    def eval(self) -> EvalFolder:
        return EvalFolder(self.root / "eval")


def kept_records_of(path: str | Path) -> Path | None:
    """``data/kept.jsonl`` when ``path`` is a finished curate run folder; None for any other path."""
    run = RunFolder(Path(path))
    if not run.is_curated():
        return None
    if not run.kept.is_file():
        raise InputError(
            f"'{run.root}' is a curate run folder without data/kept.jsonl: the run did not finish. Rerun it with: curatune curate ..."
        )
    return run.kept


def curate_run_containing(path: Path, levels: int = 3) -> RunFolder | None:
    """The finished curate run folder that ``path`` lies in (up to ``levels`` folders up), if any."""
    for folder in list(path.resolve().parents)[:levels]:
        run = RunFolder(folder)
        if run.done.is_file() and run.recipe.is_file():
            return run
    return None


@dataclass
class StagingDir:
    """A temporary folder beside ``final``, renamed into its place by :meth:`commit`.

    A stage builds its folder here, so the final folder is either the old one or the new one, whole:
    never a mix of new and stale results, and a crash leaves the old one.
    """

    final: Path

    def __post_init__(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = self.final.parent / f".{self.final.name}.partial-{os.getpid()}-{int(time.time())}"
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)

    def commit(self) -> Path:
        if self.final.exists():
            trash = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
            os.replace(self.final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(self.path, self.final)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def staged(final: Path) -> Iterator[Path]:
    """A :class:`StagingDir` for ``final``: committed when the block ends, abandoned when it raises."""
    staging = StagingDir(final)
    try:
        yield staging.path
    except BaseException:
        staging.abandon()
        raise
    staging.commit()
