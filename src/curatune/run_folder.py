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
at the bottom of the package (it imports nothing of curatune but the errors and
:mod:`curatune.staging`), so the record loader, which reads a curate run folder's kept
records, can use it too.

A run's name is checked here (:func:`check_run_name`): one folder directly under
``runs_dir``, never ``.``, ``..``, a path or a hidden name, so that no write of a stage
lands outside its own folder. Every stage writing into a run folder holds its lock
(:meth:`RunFolder.lock`); a folder replaced whole is swapped in by :func:`staged`.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from .errors import InputError, RecipeError
from .staging import FolderBusyError, StagingDir, locked, staged

__all__ = [
    "MAX_NAME_CHARS",
    "AblationFolder",
    "EvalFolder",
    "FolderBusyError",
    "LrFindFolder",
    "RunFolder",
    "SplitFiles",
    "StagingDir",
    "TrainFolder",
    "TuneFolder",
    "check_run_name",
    "curate_run_containing",
    "kept_records_of",
    "name_from_path",
    "run_name_problem",
    "split_file",
    "staged",
]

# A run name is one folder under runs_dir. Bounded so that the staging folder beside it
# (".<name>.partial-<pid>-<time>") stays within the 255 bytes a file name may have.
MAX_NAME_CHARS = 100
_MAX_NAME_BYTES = 200


def run_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a run folder (a folder of its own directly under runs_dir), or None when it can."""
    if not isinstance(name, str):
        return f"must be text, got {type(name).__name__}"
    if not name.strip():
        return "is empty"
    if name in (".", ".."):
        return "names the runs folder itself (or its parent), not a folder of its own"
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\'): a run name is one folder, not a path (use runs_dir for where runs go)"
    if name.startswith("."):
        return "starts with a dot: such folders are hidden, and curatune keeps its temporary folders under such names"
    if name != name.strip():
        return "starts or ends with a space"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "holds a control character"
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return f"is {len(name)} characters long; a run name may have at most {MAX_NAME_CHARS}"
    return None


def check_run_name(name: object) -> str:
    """``name``, when it can name a run folder; else a :class:`RecipeError` that says why and how to fix it."""
    problem = run_name_problem(name)
    if problem:
        shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60] + "...")
        raise RecipeError([f"The run name {shown} {problem}. Name the run with letters, digits, '-', '_' or '.', e.g. --name my-run."])
    assert isinstance(name, str)
    return name


def name_from_path(path: str | Path, fallback: str = "data") -> str:
    """A valid run name made from a data or recipe file's name: ``data/train.jsonl.gz`` -> ``train``.

    Leading dots go (``.hidden.jsonl`` -> ``hidden``), a folder named ``.`` gives the folder's own name,
    characters a run name cannot hold become ``-``, and an empty result is ``fallback``.
    """
    base = Path(path).name
    if base in ("", ".", ".."):
        base = Path(path).resolve().name
    stem = base.lstrip(".").split(".")[0]
    stem = re.sub(r"[\\/\x00-\x1f\x7f]+", "-", stem).strip()[:MAX_NAME_CHARS].strip()
    return stem if run_name_problem(stem) is None else fallback


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
    pair_rewards = _At(
        "pair_rewards.jsonl", doc="A preference training's pairs by their reward margin under the final model, lowest first."
    )
    checkpoints = _At("checkpoints")
    model = _At("model")
    summary = _At("summary.json", doc="Written last: a training folder without it did not finish.")
    pruned = _At("pruned.json", doc="A tune trial the pruner stopped: why and when.")
    attempts = _At("attempts.jsonl", doc="Each start of the training, and how it ended (interrupted, killed); summary.json counts all.")


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
        """``runs_dir/name``; a name that is not one folder of its own under ``runs_dir`` is a :class:`RecipeError`."""
        return cls(Path(runs_dir) / check_run_name(name))

    def lock(self, wait: float = 0.0) -> AbstractContextManager[None]:
        """The run folder's write lock (see :func:`curatune.staging.locked`): every stage writing here holds it."""
        return locked(self.root, wait)

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


@dataclass(frozen=True)
class AblationFolder:
    """``runs/<name>/`` of ``curatune ablate``: the pool, the references, one run folder per arm, the comparison."""

    root: Path
    pool = _At("pool.jsonl", doc="The pool every arm is drawn from: the data, less the held-out references and what overlaps them.")
    references = _At("references", doc="The held-out part of the pool (pool-heldout.jsonl), when one is drawn.")
    stages = _At("stages", doc="The curate and select runs of the curated arm (and of recipe arms), as run folders.")
    arms = _At("arms")
    human = _At("human", doc="Blind side-by-side sheets: curated against each other arm.")
    human_keys = _At("human_keys", doc="Which answer of each sheet is whose (kept out of human/).")
    result = _At("ablation.json", doc="Arms, budgets, scores and every difference with its interval, written last.")
    summary = _At("ablation.md")
    plot = _At("ablation.png")
    report = _At("report.html")

    def lock(self, wait: float = 0.0) -> AbstractContextManager[None]:
        return locked(self.root, wait)

    def arm(self, name: str) -> RunFolder:
        """Arm ``name``'s run folder: ``data.jsonl`` (what it trains on), ``train/``, ``scores.json``."""
        return RunFolder(self.root / "arms" / check_run_name(name))


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
