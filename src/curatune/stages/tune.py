"""``curatune tune``: an Optuna search over the ``tune:`` space, each trial a ``curatune train``.

It owns ``tune/`` of the run folder (:class:`curatune.run_folder.TuneFolder`): the study, one run
folder per trial (``tune/trial-<n>/``, trained by the train stage, so a retried trial resumes from
its checkpoint), and what the search leaves (:mod:`curatune.train.tune`). A search is not keyed like
the other stages: its study is resumed, and refused when the data or the rest of ``train:`` changed
(:func:`curatune.train.tune.study.check_same_settings`). It ends with ``best_recipe.yaml``, the recipe
with the best trial's values in ``train:``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from ..config.recipe import DataConfig, Recipe, recipe_to_yaml
from ..config.train import TrainConfig
from ..config.tune import TuneConfig
from ..distributed import launch
from ..errors import RecipeError
from ..run_folder import RunFolder, TuneFolder
from ..tracking import Tracking
from ..train.data import load_train_data
from ..train.run import TrainingInterrupted, TrainResult
from ..train.tune.objective import Objective
from ..train.tune.outputs import TuneResult, best_trial, write_outputs, write_trials_csv
from ..train.tune.parent_run import end_parent_run, log_parent_results, start_parent_run
from ..train.tune.ranks import Leader, follow_trials
from ..train.tune.study import (
    Search,
    check_same_settings,
    check_space,
    open_study,
    plan_line,
    remaining_trials,
    retry_once,
    short,
    study_settings,
)
from ..train.tune.workers import optimize, optimize_in_processes
from .keys import file_fingerprint

if TYPE_CHECKING:
    from transformers import TrainerCallback
from .lr_find import auto_learning_rate
from .train import train_in

Echo = Callable[[str], None]


def default_storage(recipe: Recipe) -> str:
    return f"sqlite:///{RunFolder.of(recipe.runs_dir, recipe.name).tune.study.resolve()}"


@dataclass(frozen=True)
class TrialTrainer:
    """A trial's training: the train stage into ``tune/trial-<n>/`` (picklable: worker processes are given it)."""

    folder: TuneFolder
    data: DataConfig
    runs_dir: str
    name: str  # the recipe's: MLflow names a trial's run <name>/tune/trial-<n>/train
    track: bool

    def __call__(self, number: int, config: TrainConfig, echo: Echo, extra_callbacks: list[TrainerCallback]) -> TrainResult:
        run = self.folder.trial(number)
        tracking = None
        if self.track:
            tracking = Tracking(Path(self.runs_dir), f"{self.name}/tune/{run.root.name}/train", {"data": self.data.model_dump(mode="json")})
        return train_in(run, self.data, config, tracking, echo=echo, extra_callbacks=extra_callbacks)


def tune(
    recipe: Recipe, echo: Echo = print, track: bool = True, extra_callbacks: list[TrainerCallback] | None = None, verbose: bool = False
) -> TuneResult:
    """Search the recipe's ``tune.space``; write the best configuration as a complete recipe. Resumes a study it finds."""
    tc = recipe.tune
    if tc is None:
        raise RecipeError(
            [
                "The recipe has no tune: section. Add one with a space to search, e.g.\n"
                "    tune:\n      space:\n        learning_rate: {type: log_uniform, low: 1.0e-5, high: 1.0e-3}"
            ]
        )
    run = RunFolder.of(recipe.runs_dir, recipe.name)
    me = launch()
    if not me.distributed:
        with run.lock():
            return _tune(recipe, tc, run, echo, track, extra_callbacks, verbose)
    # Under accelerate launch or torchrun: rank 0 searches, every rank trains each trial (see train/tune/ranks.py).
    if tc.n_jobs != 1:
        raise RecipeError(
            [
                f"tune.n_jobs is {tc.n_jobs}, and this is one of {me.world_size} processes (accelerate launch or torchrun): under a "
                "launcher every process trains each trial together. Set tune.n_jobs: 1, or run tune without the launcher."
            ]
        )
    trainer = TrialTrainer(run.tune, recipe.data, recipe.runs_dir, str(recipe.name), track)
    if not me.is_main:
        return follow_trials(trainer)
    leader = Leader(trainer)
    try:
        with run.lock():
            result = _tune(recipe, tc, run, echo, track, extra_callbacks, verbose, leader)
    except BaseException as e:
        leader.fail(e)
        raise
    leader.end(result)
    return result


def _tune(
    recipe: Recipe,
    tc: TuneConfig,
    run: RunFolder,
    echo: Echo,
    track: bool,
    extra_callbacks: list[TrainerCallback] | None,
    verbose: bool,
    leader: Leader | None = None,
) -> TuneResult:
    folder = run.tune
    base = original = recipe.train or TrainConfig()
    check_space(tc, base)
    folder.root.mkdir(parents=True, exist_ok=True)
    data = load_train_data(recipe.data.path, base, recipe.data.format)
    if not data.val:
        raise RecipeError(
            [
                "tune compares trials by their validation loss, and this recipe has no validation data: set train.val_set_size "
                "(e.g. 0.1), give train.val_data, or point data.path at a split folder (curatune split)."
            ]
        )
    rate_source = None
    if base.learning_rate == "auto" and "learning_rate" not in tc.space:
        base, rate_source = auto_learning_rate(run.lr_find, recipe.data, base, echo=echo)
    t0 = time.perf_counter()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study, storage = open_study(tc.storage or default_storage(recipe), tc.study_name or str(recipe.name), tc)
        search = Search(
            tc,
            base,
            folder,
            storage,
            study.study_name,
            str(recipe.name),
            leader or TrialTrainer(folder, recipe.data, recipe.runs_dir, str(recipe.name), track),
            store_dir=Path(recipe.runs_dir) if track else None,
            verbose=verbose,
        )
        # Checked against the recipe as written: learning_rate: auto stays auto, whatever the range test gives.
        files = {str(p): file_fingerprint(p) for p in [*data.paths, *data.val_paths]}
        check_same_settings(study, study_settings(recipe.data.model_dump(mode="json"), original, files, tc.space), storage)
        for failed in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
            retry_once(study, failed)
        remaining = remaining_trials(study, tc)
        echo(plan_line(study, tc, storage, remaining))
        search.parent = start_parent_run(search, study) if track else None
        state = "FAILED"
        try:
            if remaining is None or remaining > 0:
                if tc.n_jobs == 1:
                    optimize(study, Objective(search, echo, extra_callbacks), remaining)
                else:
                    if extra_callbacks:
                        raise RecipeError(
                            [
                                "Callbacks given to tune() run in this process only, and with tune.n_jobs above 1 the trials run in "
                                "worker processes. Set tune.n_jobs: 1 to use them."
                            ]
                        )
                    optimize_in_processes(search, remaining, echo)
            state = "FINISHED"
        except (KeyboardInterrupt, TrainingInterrupted):
            state = "KILLED"
            raise
        finally:
            write_trials_csv(study, folder.trials)
            if search.parent:
                end_parent_run(state)
        best = best_trial(study)
        best_recipe = write_best_recipe(recipe, base, best, folder.best_recipe, study.study_name) if best else None
        result = write_outputs(tc, study, folder, storage, time.perf_counter() - t0, rate_source, best_recipe)
        if search.parent:
            log_parent_results(search.parent, result)
        return result
    finally:
        optuna.logging.set_verbosity(verbosity)


def write_best_recipe(recipe: Recipe, base: TrainConfig, best: FrozenTrial, path: Path, study_name: str) -> Path:
    """The complete recipe to train the best configuration with: train: holds every value, tune: is gone."""
    config = TrainConfig.model_validate({**base.model_dump(), **best.params})
    best_recipe = recipe.model_copy(update={"train": config, "tune": None})
    d = yaml.safe_load(recipe_to_yaml(best_recipe))
    d.pop("tune", None)
    if recipe.curate.steps is None:
        # Absent steps mean the default curation; recipe_to_yaml writes them as an empty list (no curation at all).
        d["curate"].pop("steps", None)
    header = (
        f"# The best configuration of study {study_name!r}: trial {best.number}, validation loss {best.value:.5f}.\n"
        f"# Searched values: {', '.join(f'{k}={short(v)}' for k, v in best.params.items())}.\n"
        f"# Train it: curatune train {path}\n"
    )
    path.write_text(header + yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
