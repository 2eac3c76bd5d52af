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

from .errors import InputError


def split_file(folder: Path, name: str) -> Path:
    """The file of split ``name`` (train, val, test) in a ``splits/`` folder."""
    return folder / f"{name}.jsonl"


@dataclass(frozen=True)
class SplitFiles:
    """What a split writes into a folder: a run folder, or ``curatune split --out DIR``."""

    root: Path

    @property
    def splits(self) -> Path:
        return self.root / "splits"

    def split(self, name: str) -> Path:
        return split_file(self.splits, name)

    @property
    def report(self) -> Path:
        return self.root / "split_report.json"

    @property
    def clusters(self) -> Path:
        return self.root / "clusters.jsonl"

    @property
    def leakage(self) -> Path:
        """What ``curatune split --check`` writes."""
        return self.root / "leakage.json"


@dataclass(frozen=True)
class TrainFolder:
    """``train/``: what a training leaves."""

    root: Path

    @property
    def key(self) -> Path:
        """What the training depends on; a rerun with the same key is skipped (or resumed from a checkpoint)."""
        return self.root / "key.json"

    @property
    def config(self) -> Path:
        """The resolved train section, every default written out."""
        return self.root / "train.yaml"

    @property
    def preflight(self) -> Path:
        return self.root / "preflight.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def losses(self) -> Path:
        return self.root / "losses.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def summary(self) -> Path:
        """Written last: a training folder without it did not finish."""
        return self.root / "summary.json"

    @property
    def pruned(self) -> Path:
        """A tune trial the pruner stopped: why and when."""
        return self.root / "pruned.json"


@dataclass(frozen=True)
class LrFindFolder:
    """``lr_find/``: the learning-rate range test."""

    root: Path

    @property
    def result(self) -> Path:
        """Settings, key, every point and the suggestions."""
        return self.root / "lr_find.json"

    @property
    def plot(self) -> Path:
        return self.root / "lr_find.png"

    @property
    def preflight(self) -> Path:
        return self.root / "preflight.json"

    @property
    def checkpoints(self) -> Path:
        """The trainer's output folder; the range test saves nothing there."""
        return self.root / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"


@dataclass(frozen=True)
class TuneFolder:
    """``tune/``: an Optuna search, one run folder per trial."""

    root: Path

    @property
    def study(self) -> Path:
        """The Optuna study (SQLite): a rerun resumes it."""
        return self.root / "study.db"

    def trial(self, number: int) -> RunFolder:
        """Trial ``number``'s own run folder (it holds ``train/``)."""
        return RunFolder(self.root / f"trial-{number}")

    @property
    def trials(self) -> Path:
        return self.root / "trials.csv"

    @property
    def best_recipe(self) -> Path:
        return self.root / "best_recipe.yaml"

    @property
    def history_plot(self) -> Path:
        return self.root / "optimization_history.png"

    @property
    def importances_plot(self) -> Path:
        return self.root / "param_importances.png"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"


@dataclass(frozen=True)
class EvalFolder:
    """``eval/`` (or any folder ``curatune eval --out`` names): base against tuned."""

    root: Path

    @property
    def key(self) -> Path:
        return self.root / "key.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def generations(self) -> Path:
        return self.root / "generations.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.md"

    @property
    def human(self) -> Path:
        """The blind side-by-side sheet for raters."""
        return self.root / "human"

    @property
    def human_key(self) -> Path:
        """Which answer of the sheet is whose: kept out of ``human/`` so that folder can be handed over whole."""
        return self.root / "human_key.json"


@dataclass(frozen=True)
class RunFolder:
    """``runs/<name>/``."""

    root: Path

    @classmethod
    def of(cls, runs_dir: str | Path, name: str | None) -> RunFolder:
        return cls(Path(runs_dir) / str(name))

    # ---- curate ----

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def done(self) -> Path:
        """``run.json``: the curation's key, inputs and timing, written last."""
        return self.root / "run.json"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.parquet"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def kept(self) -> Path:
        return self.data / "kept.jsonl"

    @property
    def dropped(self) -> Path:
        return self.data / "dropped.jsonl"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def is_curated(self) -> bool:
        """A finished curate run folder (a folder with ``run.json``)."""
        return self.root.is_dir() and self.done.is_file()

    # ---- the stages after it ----

    @property
    def split_key(self) -> Path:
        return self.root / "split_key.json"

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

    @property
    def report(self) -> Path:
        return self.root / "report.html"


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
