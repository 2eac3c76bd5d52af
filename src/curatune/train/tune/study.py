"""The study: opened (created, or loaded to resume it) with its sampler and pruner, its budget, its failed
trials tried once more, and the check that a resumed study still compares like with like."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna
import orjson
from optuna.trial import TrialState

from ... import __version__
from ...config.train import TrainConfig
from ...config.tune import LORA_ONLY, TuneConfig
from ...errors import RecipeError
from ...run_folder import TuneFolder
from ..run import TrainResult

Echo = Callable[[str], None]


class TrialTrainer(Protocol):
    """Trains trial ``number``'s configuration in ``TuneFolder.trial(number)``: the train stage, which keys, skips
    and resumes, handed in from above (and pickled to worker processes, so a module-level class)."""

    def __call__(self, number: int, config: TrainConfig, echo: Echo, extra_callbacks: list) -> TrainResult: ...


@dataclass
class Search:
    """One search as every process working on it needs it (worker processes are given it, pickled)."""

    tc: TuneConfig
    base: TrainConfig  # train: with learning_rate: auto already made a number
    folder: TuneFolder
    storage: str  # the study's storage URL
    study_name: str
    label: str  # the run's name: MLflow names the search <label>/tune and tags the trials with it
    run_trial: TrialTrainer
    store_dir: Path | None = None  # the runs folder whose mlflow.db is the default store; None: no tracking
    parent: dict | None = None  # the search's MLflow run, once started
    verbose: bool = False

    def open(self, worker: int = 0):
        """The study, opened in this process (worker ``worker``)."""
        return open_study(self.storage, self.study_name, self.tc, worker)[0]


def open_study(url: str, name: str, tc: TuneConfig, worker: int = 0):
    """The study ``name`` in the storage at ``url`` (created, or loaded to resume it), with the sampler and pruner of
    this run (or worker); and ``url``."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    storage: Any = url
    if url.startswith(("sqlite", "mysql", "postgresql")):
        # A trial whose process died (no heartbeat for 2 minutes) is failed and tried once more.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            heartbeat: dict[str, Any] = dict(heartbeat_interval=60, grace_period=120)
            try:
                storage = optuna.storages.RDBStorage(url, **heartbeat, heartbeat_stale_trial_callback=retry_once)
            except TypeError:  # Optuna before 4.9 names it failed_trial_callback
                storage = optuna.storages.RDBStorage(url, **heartbeat, failed_trial_callback=retry_once)
    study = optuna.create_study(storage=storage, study_name=name, direction="minimize", load_if_exists=True)
    study.sampler = make_sampler(tc, len(study.trials), worker)
    study.pruner = make_pruner(tc)
    return study, url


def make_sampler(tc: TuneConfig, trials_so_far: int = 0, worker: int = 0):
    if tc.sampler == "grid":
        # Grid points are numbered in an order drawn from the seed: the same seed on every rerun and in every
        # worker, or they would disagree on which points are done.
        return optuna.samplers.GridSampler(tc.grid(), seed=tc.seed)
    # Random draws continue rather than repeat: a resumed search (or a second worker) would otherwise sample the same trials.
    seed = tc.seed + trials_so_far + 1000 * worker
    if tc.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = tc.startup_trials or min(10, max(2, (tc.n_trials or 30) // 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)


def make_pruner(tc: TuneConfig):
    # Steps are evaluation numbers, from 1: a pruner may act from evaluation pruner_warmup_evaluations + 1.
    first = tc.pruner_warmup_evaluations + 1
    if tc.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tc.pruner_startup_trials, n_warmup_steps=first)
    if tc.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource="auto", reduction_factor=3)
    return optuna.pruners.NopPruner()


def finished_count(study) -> int:
    """Trials that count towards ``n_trials``: completed and pruned."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def remaining_trials(study, tc: TuneConfig) -> int | None:
    if tc.n_trials is None:
        return None
    return max(0, tc.n_trials - finished_count(study))


class StopAtTotal:
    """Stops the study once ``n_trials`` trials have finished, counting every process working on it."""

    def __init__(self, total: int):
        self.total = total

    def __call__(self, study, trial) -> None:
        if finished_count(study) >= self.total:
            study.stop()


def retry_once(study, failed) -> None:
    """Queue a failed trial's values again (once), marked so that its training resumes in the failed trial's folder."""
    if not failed.params or "retry_of" in failed.user_attrs:
        return
    if any(t.user_attrs.get("retry_of") == failed.number for t in study.get_trials(deepcopy=False)):
        return
    study.enqueue_trial(failed.params, user_attrs={"retry_of": failed.number})


def plan_line(study, tc: TuneConfig, storage: str, remaining: int | None) -> str:
    done = finished_count(study)
    where = f"study {study.study_name!r} in {storage}"
    if remaining == 0:
        return f"{where}: {done} trials finished already (n_trials: {tc.n_trials}); nothing to run. Raise tune.n_trials to search further."
    todo = f"{remaining} more trials" if remaining is not None else "trials"
    budget = f", for at most {tc.timeout_minutes:g} minutes" if tc.timeout_minutes else ""
    resumed = f" (resumed: {done} finished)" if done else ""
    return f"{where}{resumed}: {todo} with the {tc.sampler} sampler and {tc.pruner} pruning{budget}"


def check_space(tc: TuneConfig, base: TrainConfig) -> None:
    problems = []
    methods = {c for c in (tc.space["method"].choices or [])} if "method" in tc.space else {base.method}
    if "lora" not in methods:
        problems += [
            f"tune.space.{name} has no effect: train.method is {base.method!r}, and {name} only applies to method: lora."
            for name in tc.space
            if name in LORA_ONLY
        ]
    if problems:
        raise RecipeError(problems)


# Fields that change nothing a trial learns: a rerun may change them.
NOT_COMPARED = ("save_model", "save_total_limit", "loss_rank_top", "tracking_uri", "experiment", "overfit_gap", "logging_steps")


def study_settings(data: dict[str, Any], base: TrainConfig, files: dict[str, str], searched) -> dict[str, Any]:
    """What a study's trials share: the data section and files' fingerprints, and train: but the searched values."""
    train = {k: v for k, v in base.resolved().items() if k not in NOT_COMPARED and k not in searched}
    return {"data": data, "train": train, "files": files}


def check_same_settings(study, settings: dict[str, Any], storage: str) -> None:
    """A study compares trials that differ only by what they sample: the data and the rest of train: must not change between runs.

    (The space may change: narrowing it mid-search is a normal thing to do. The values it searches, and the
    fields in ``NOT_COMPARED``, are not compared.)
    """
    now = orjson.loads(orjson.dumps(settings))  # as the study stores it: JSON
    before = study.user_attrs.get("curatune.settings")
    if before is None:
        study.set_user_attr("curatune.settings", now)
        study.set_user_attr("curatune.version", __version__)
        return
    changed = [f"train.{k}" for k in sorted(set(now["train"]) | set(before["train"])) if now["train"].get(k) != before["train"].get(k)]
    changed += [f"data.{k}" for k in sorted(set(now["data"]) | set(before["data"])) if now["data"].get(k) != before["data"].get(k)]
    if now["files"] != before["files"]:
        changed.append("the data files' contents")
    if changed:
        raise RecipeError(
            [
                f"The study {study.study_name!r} in {storage} was run with other settings ({', '.join(changed[:8])} changed), "
                "so its trials are not comparable with new ones. Set tune.study_name to start a new study, or delete the storage."
            ]
        )


def short(v: Any) -> str:
    """A sampled value as a trial's line and the report show it."""
    return f"{v:.3g}" if isinstance(v, float) else str(v)
