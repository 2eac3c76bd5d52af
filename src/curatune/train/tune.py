"""``curatune tune``: an Optuna search over the ``tune:`` space, each trial a ``curatune train``.

```
runs/<name>/tune/
  study.db                     the Optuna study (SQLite): a rerun resumes it
  trial-<n>/train/             each trial's training folder (curves, summary, model), as ``curatune train`` writes it
  trials.csv                   one row per trial: state, validation loss, sampled values, steps trained, seconds
  best_recipe.yaml             the recipe with the best trial's values in train: and no tune: section
  optimization_history.png     validation loss per trial, best so far
  param_importances.png        which sampled values mattered (fANOVA; needs two completed trials)
  report.md                    the best configuration, every trial, the plots
  summary.json                 the same, for programs
```

A trial is the recipe's ``train:`` with the sampled values put in, trained by
:func:`curatune.train.run.train` in its own folder. Its validation loss is
reported to the pruner at every evaluation (the n-th evaluation of one trial
is compared with the n-th of the others); a trial the pruner stops leaves a
``pruned.json`` and no checkpoints, never a folder that looks finished. With
tracking on, every trial is an MLflow run nested under one run for the search
(the same parent across reruns of the study).
"""

from __future__ import annotations

import csv
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from transformers import TrainerCallback

from .. import __version__
from ..config.recipe import Recipe, recipe_to_yaml
from ..config.train import TrainConfig
from ..config.tune import LORA_ONLY, TuneConfig
from ..errors import InputError, RecipeError
from .data import load_train_data
from .run import TrainingInterrupted, train

Echo = Callable[[str], None]


@dataclass
class TuneResult:
    folder: Path
    study: Any
    summary: dict[str, Any]
    best_recipe: Path | None
    files: dict[str, Path] = field(default_factory=dict)


def tune_dir_of(recipe: Recipe) -> Path:
    return Path(recipe.runs_dir) / str(recipe.name) / "tune"


def default_storage(recipe: Recipe) -> str:
    return f"sqlite:///{(tune_dir_of(recipe) / 'study.db').resolve()}"


def tune(recipe: Recipe, echo: Echo = print, track: bool = True, extra_callbacks: list | None = None, verbose: bool = False) -> TuneResult:
    """Search the recipe's ``tune.space``; write the best configuration as a complete recipe. Resumes a study it finds."""
    import optuna

    tc = recipe.tune
    if tc is None:
        raise RecipeError(
            [
                "The recipe has no tune: section. Add one with a space to search, e.g.\n"
                "    tune:\n      space:\n        learning_rate: {type: log_uniform, low: 1.0e-5, high: 1.0e-3}"
            ]
        )
    base = original = recipe.train or TrainConfig()
    _check_space(tc, base)
    out = tune_dir_of(recipe)
    out.mkdir(parents=True, exist_ok=True)
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
        from .lr_find import auto_learning_rate

        base, rate_source = auto_learning_rate(recipe, base, echo=echo)
    t0 = time.perf_counter()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study, storage = open_study(recipe, tc)
        # Checked against the recipe as written: learning_rate: auto stays auto, whatever the range test gives.
        _check_same_settings(study, recipe, original, data, storage)
        for failed in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)):
            _retry_once(study, failed)
        remaining = _remaining(study, tc)
        echo(_plan_line(study, tc, storage, remaining))
        parent = _start_parent_run(recipe, base, tc, study) if track else None
        state = "FAILED"
        try:
            if remaining is None or remaining > 0:
                if tc.n_jobs == 1:
                    objective = _Objective(recipe, base, tc, out, echo, track, parent, extra_callbacks or [], verbose)
                    _optimize(study, objective, tc, remaining)
                else:
                    if extra_callbacks:
                        raise RecipeError(
                            [
                                "Callbacks given to tune() run in this process only, and with tune.n_jobs above 1 the trials run in "
                                "worker processes. Set tune.n_jobs: 1 to use them."
                            ]
                        )
                    optimize_in_processes(recipe, base, tc, remaining, track, parent, verbose, echo)
            state = "FINISHED"
        except (KeyboardInterrupt, TrainingInterrupted):
            state = "KILLED"
            raise
        finally:
            write_trials_csv(study, out / "trials.csv")
            if parent:
                _end_parent_run(state)
        result = _write_outputs(recipe, base, tc, study, out, storage, time.perf_counter() - t0, rate_source)
        if parent:
            _log_parent_results(parent, result)
        return result
    finally:
        optuna.logging.set_verbosity(verbosity)


# ---- running the trials ------------------------------------------------------------------------


def _optimize(study, objective, tc: TuneConfig, n_trials: int | None) -> None:
    with warnings.catch_warnings():
        import optuna

        # Optuna's notes on experimental features (multivariate TPE) and on the grid running out are not the user's business.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message=".*GridSampler.*")
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=tc.timeout_minutes * 60 if tc.timeout_minutes else None,
            callbacks=[_StopAtTotal(tc.n_trials)] if tc.n_trials else [],
            catch=(),
        )


def optimize_in_processes(
    recipe: Recipe, base: TrainConfig, tc: TuneConfig, remaining: int | None, track: bool, parent: dict | None, verbose: bool, echo: Echo
) -> None:
    """``tc.n_jobs`` worker processes on the same study (its storage is how they share it), the remaining trials split between them.

    Processes, not threads: loading models in threads at once breaks transformers (meta-device
    initialisation and lazy imports are process-wide). With several GPUs, worker i sees GPU i only.
    """
    import multiprocessing as mp

    import torch

    from ..errors import CuratuneError

    n = tc.n_jobs
    shares = [None] * n if remaining is None else [remaining // n + (1 if i < remaining % n else 0) for i in range(n)]
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    payload = {
        "recipe": recipe.model_dump(mode="json"),
        "base": base.model_dump(mode="json"),
        "track": track,
        "parent": parent,
        "verbose": verbose,
        "gpus": gpus,
    }
    ctx = mp.get_context("spawn")  # a forked copy of a process that has used torch's threads or CUDA is not safe
    procs = [
        ctx.Process(target=_worker, args=(payload, i, share), name=f"curatune-tune-{i}") for i, share in enumerate(shares) if share != 0
    ]
    echo(f"{len(procs)} worker processes" + (f", one GPU each of {gpus}" if gpus > 1 else ""))
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:  # they were interrupted too, and are saving a checkpoint of their trial
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
        raise
    failed = [f"{p.name} exited with {p.exitcode}" for p in procs if p.exitcode != 0]
    if failed:
        raise CuratuneError(
            f"{len(failed)} of {len(procs)} workers failed ({'; '.join(failed)}); their errors are printed above. "
            "Run the same command again to resume the search: failed trials are tried once more."
        )


def _worker(payload: dict, index: int, n_trials: int | None) -> None:
    """One worker process: its own sampler seed, the same study."""
    import os

    if payload["gpus"] > 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % payload["gpus"])
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recipe = Recipe.model_validate(payload["recipe"])
    base = TrainConfig.model_validate(payload["base"])
    tc = recipe.tune
    assert tc is not None
    study, _ = open_study(recipe, tc, worker=index)
    if payload["track"]:
        from .tracking import use_store

        use_store(base.tracking_uri, recipe.runs_dir, base.experiment)

    def echo(line: str) -> None:
        print(line, flush=True)

    objective = _Objective(recipe, base, tc, tune_dir_of(recipe), echo, payload["track"], payload["parent"], [], payload["verbose"])
    _optimize(study, objective, tc, n_trials)


# ---- the study -------------------------------------------------------------------------------


def open_study(recipe: Recipe, tc: TuneConfig, worker: int = 0):
    """The study in ``tc.storage`` (created, or loaded to resume it), with the sampler and pruner of this run (or worker)."""
    import optuna

    url = tc.storage or default_storage(recipe)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    storage: Any = url
    if url.startswith(("sqlite", "mysql", "postgresql")):
        # A trial whose process died (no heartbeat for 2 minutes) is failed and tried once more.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            heartbeat = dict(heartbeat_interval=60, grace_period=120)
            try:
                storage = optuna.storages.RDBStorage(url, **heartbeat, heartbeat_stale_trial_callback=_retry_once)
            except TypeError:  # Optuna before 4.9 names it failed_trial_callback
                storage = optuna.storages.RDBStorage(url, **heartbeat, failed_trial_callback=_retry_once)
    study = optuna.create_study(storage=storage, study_name=tc.study_name or str(recipe.name), direction="minimize", load_if_exists=True)
    study.sampler = make_sampler(tc, len(study.trials), worker)
    study.pruner = make_pruner(tc)
    return study, url


def make_sampler(tc: TuneConfig, trials_so_far: int = 0, worker: int = 0):
    import optuna

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
    import optuna

    # Steps are evaluation numbers, from 1: a pruner may act from evaluation pruner_warmup_evaluations + 1.
    first = tc.pruner_warmup_evaluations + 1
    if tc.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tc.pruner_startup_trials, n_warmup_steps=first)
    if tc.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource="auto", reduction_factor=3)
    return optuna.pruners.NopPruner()


def finished_count(study) -> int:
    """Trials that count towards ``n_trials``: completed and pruned."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _remaining(study, tc: TuneConfig) -> int | None:
    if tc.n_trials is None:
        return None
    return max(0, tc.n_trials - finished_count(study))


class _StopAtTotal:
    """Stops the study once ``n_trials`` trials have finished, counting every process working on it."""

    def __init__(self, total: int):
        self.total = total

    def __call__(self, study, trial) -> None:
        if finished_count(study) >= self.total:
            study.stop()


def _retry_once(study, failed) -> None:
    """Queue a failed trial's values again (once), marked so that its training resumes in the failed trial's folder."""
    if not failed.params or "retry_of" in failed.user_attrs:
        return
    if any(t.user_attrs.get("retry_of") == failed.number for t in study.get_trials(deepcopy=False)):
        return
    study.enqueue_trial(failed.params, user_attrs={"retry_of": failed.number})


def _plan_line(study, tc: TuneConfig, storage: str, remaining: int | None) -> str:
    done = finished_count(study)
    where = f"study {study.study_name!r} in {storage}"
    if remaining == 0:
        return f"{where}: {done} trials finished already (n_trials: {tc.n_trials}); nothing to run. Raise tune.n_trials to search further."
    todo = f"{remaining} more trials" if remaining is not None else "trials"
    budget = f", for at most {tc.timeout_minutes:g} minutes" if tc.timeout_minutes else ""
    resumed = f" (resumed: {done} finished)" if done else ""
    return f"{where}{resumed}: {todo} with the {tc.sampler} sampler and {tc.pruner} pruning{budget}"


def _check_space(tc: TuneConfig, base: TrainConfig) -> None:
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


def _settings(recipe: Recipe, base: TrainConfig, data, searched) -> dict[str, Any]:
    from ..stages.runs import file_fingerprint

    files = {str(p): file_fingerprint(p) for p in [*data.paths, *data.val_paths]}
    train = {k: v for k, v in base.resolved().items() if k not in NOT_COMPARED and k not in searched}
    return {"data": recipe.data.model_dump(mode="json"), "train": train, "files": files}


def _check_same_settings(study, recipe: Recipe, base: TrainConfig, data, storage: str) -> None:
    """A study compares trials that differ only by what they sample: the data and the rest of train: must not change between runs.

    (The space may change: narrowing it mid-search is a normal thing to do. The values it searches, and the
    fields in ``NOT_COMPARED``, are not compared.)
    """
    now = orjson.loads(orjson.dumps(_settings(recipe, base, data, recipe.tune.space if recipe.tune else {})))
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


# ---- one trial -----------------------------------------------------------------------------------


class _Objective:
    def __init__(
        self,
        recipe: Recipe,
        base: TrainConfig,
        tc: TuneConfig,
        out: Path,
        echo: Echo,
        track: bool,
        parent: dict | None,
        extra_callbacks: list,
        verbose: bool,
    ):
        self.recipe, self.base, self.tc, self.out, self.echo = recipe, base, tc, out, echo
        self.track, self.parent, self.extra_callbacks, self.verbose = track, parent, extra_callbacks, verbose

    def __call__(self, trial) -> float:
        import optuna

        params = sample(trial, self.tc)
        retry_of = trial.user_attrs.get("retry_of")
        folder_number = trial.number if retry_of is None else retry_of
        trial_recipe = self.recipe.model_copy(
            update={"name": f"{self.recipe.name}/tune/trial-{folder_number}", "train": self._config(params), "tune": None}
        )
        train_dir = self.out / f"trial-{folder_number}" / "train"
        trial.set_user_attr("folder", str(train_dir))
        pruning = PruneOnEvaluation(trial)
        tagger = _TagTrialRun(self.parent["run_id"], trial.number, self.recipe.name) if self.parent else None
        callbacks = [pruning, *self.extra_callbacks, *([tagger] if tagger else [])]
        shown = ", ".join(f"{k}={_short(v)}" for k, v in params.items())
        again = f" (again: trial {retry_of} failed)" if retry_of is not None else ""
        t0 = time.perf_counter()
        try:
            res = train(trial_recipe, echo=self.echo if self.verbose else _quiet(self.echo), track=self.track, extra_callbacks=callbacks)
        except optuna.TrialPruned:
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
            _leave_pruned(train_dir, pruning, tagger)
            self.echo(
                f"trial {trial.number}{again}: {shown} -> pruned at evaluation {pruning.evaluations} (step {pruning.step}), validation loss {pruning.last:.4f}"
            )
            raise
        s = res.summary
        value = s.get("best_eval_loss")
        trial.set_user_attr("steps", s.get("steps"))
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
        trial.set_user_attr("stopped_early", s.get("stopped_early"))
        if s.get("mlflow"):
            trial.set_user_attr("mlflow_run_id", s["mlflow"]["run_id"])
        if value is None:
            raise InputError(
                f"Trial {trial.number} ended without a validation loss (see {train_dir / 'summary.json'}); tune needs at least one evaluation per trial: lower train.eval_steps."
            )
        self.echo(
            f"trial {trial.number}{again}: {shown} -> validation loss {value:.4f} ({s.get('steps')} steps{', stopped early' if s.get('stopped_early') else ''})"
        )
        return float(value)

    def _config(self, params: dict[str, Any]) -> TrainConfig:
        try:
            return TrainConfig.model_validate({**self.base.model_dump(), **params})
        except Exception as e:
            raise RecipeError([f"tune.space gave values train: does not accept together ({params}): {e}"]) from e


def sample(trial, tc: TuneConfig) -> dict[str, Any]:
    """One value per searched parameter, from the trial's sampler."""
    out: dict[str, Any] = {}
    for name, spec in tc.space.items():
        if spec.type == "categorical":
            out[name] = trial.suggest_categorical(name, spec.choices)
        elif spec.type == "int":
            out[name] = trial.suggest_int(name, int(spec.low), int(spec.high))  # type: ignore[arg-type]
        else:
            out[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.type == "log_uniform")
    return out


class PruneOnEvaluation(TrainerCallback):
    """Reports each validation loss to the trial; raises ``optuna.TrialPruned`` when the pruner says stop.

    A loss that is not finite prunes at once: the trial has diverged.
    """

    def __init__(self, trial):
        self.trial = trial
        self.evaluations = 0
        self.step = 0
        self.last = math.nan

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        import optuna

        if not metrics or "eval_loss" not in metrics:
            return
        # Counted from the step, not from the calls: a trial resumed from a checkpoint goes on with the right number.
        every = int(args.eval_steps) if args.eval_steps and args.eval_steps >= 1 else None
        self.evaluations = max(1, state.global_step // every) if every else self.evaluations + 1
        self.step, self.last = state.global_step, float(metrics["eval_loss"])
        if math.isfinite(self.last):
            self.trial.report(self.last, self.evaluations)
        if not math.isfinite(self.last) or self.trial.should_prune():
            self.trial.set_user_attr("steps", state.global_step)
            self.trial.set_user_attr("pruned_at_evaluation", self.evaluations)
            raise optuna.TrialPruned(f"pruned at evaluation {self.evaluations} (step {state.global_step}): validation loss {self.last:.4f}")


class _TagTrialRun(TrainerCallback):
    """Nests the trial's MLflow run under the search's (in a worker thread there is no active parent to nest under) and tags it."""

    def __init__(self, parent_run_id: str, number: int, study: str | None):
        self.parent_run_id, self.number, self.study = parent_run_id, number, study
        self.run_id: str | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        import mlflow

        run = mlflow.active_run()
        if run is None:
            return
        self.run_id = run.info.run_id
        mlflow.set_tags({"mlflow.parentRunId": self.parent_run_id, "curatune.trial": str(self.number), "curatune.study": str(self.study)})


def _leave_pruned(train_dir: Path, pruning: PruneOnEvaluation, tagger: _TagTrialRun | None) -> None:
    """No checkpoints (they are never resumed) and a note of why, so the folder never reads as a finished training."""
    shutil.rmtree(train_dir / "checkpoints", ignore_errors=True)
    note = {"pruned": True, "evaluation": pruning.evaluations, "step": pruning.step, "eval_loss": pruning.last}
    train_dir.mkdir(parents=True, exist_ok=True)
    (train_dir / "pruned.json").write_bytes(orjson.dumps(note, option=orjson.OPT_INDENT_2))
    if tagger and tagger.run_id:
        # train() ended the run as FAILED on the way out; a pruned trial was stopped, not broken.
        from mlflow import MlflowClient

        client = MlflowClient()
        client.set_tag(tagger.run_id, "curatune.trial_state", "PRUNED")
        client.set_terminated(tagger.run_id, "KILLED")


def _quiet(echo: Echo) -> Echo:
    """One line per trial is what a search prints; a trial's own lines (and warnings) are in its folder, or shown with verbose."""
    return lambda s: None


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# ---- MLflow: one parent run for the search -------------------------------------------------------


def _start_parent_run(recipe: Recipe, base: TrainConfig, tc: TuneConfig, study) -> dict:
    import mlflow

    from .tracking import flat_params, use_store

    uri = use_store(base.tracking_uri, recipe.runs_dir, base.experiment)
    run_id = study.user_attrs.get("mlflow_parent_run_id")
    if run_id and _run_exists(run_id):
        mlflow.start_run(run_id=run_id)
    else:
        run = mlflow.start_run(
            run_name=f"{recipe.name}/tune",
            nested=mlflow.active_run() is not None,
            tags={"curatune.stage": "tune", "curatune.version": __version__},
        )
        run_id = run.info.run_id
        study.set_user_attr("mlflow_parent_run_id", run_id)
        # Logged once, when the search starts: MLflow refuses a parameter that changes, and n_trials may grow on a rerun.
        mlflow.log_params(flat_params({"tune": tc.model_dump(mode="json", exclude={"space"}), "train": base.resolved()}))
        mlflow.log_dict(tc.model_dump(mode="json")["space"], "space.json")
    return {"uri": uri, "run_id": run_id, "experiment": base.experiment}


def _run_exists(run_id: str) -> bool:
    import mlflow

    try:
        mlflow.get_run(run_id)
        return True
    except Exception:  # deleted, or another store
        return False


def _end_parent_run(state: str) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.end_run(state)


def _log_parent_results(parent: dict, result: TuneResult) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    s = result.summary
    metrics = {
        "best_eval_loss": (s["best"] or {}).get("value"),
        "trials_complete": s["trials"].get("COMPLETE", 0),
        "trials_pruned": s["trials"].get("PRUNED", 0),
        "steps_trained": s["steps_trained"],
    }
    for name, value in metrics.items():
        if value is not None:
            client.log_metric(parent["run_id"], name, float(value))
    for path in result.files.values():
        if path.is_file():
            client.log_artifact(parent["run_id"], str(path))
    result.summary["mlflow"] = parent


# ---- what the search leaves -----------------------------------------------------------------------


def _write_outputs(
    recipe: Recipe, base: TrainConfig, tc: TuneConfig, study, out: Path, storage: str, seconds: float, rate_source: dict | None
) -> TuneResult:
    from optuna.trial import TrialState

    files = {"trials": out / "trials.csv"}
    write_trials_csv(study, files["trials"])
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = min(complete, key=lambda t: t.value) if complete else None
    best_recipe = None
    if best is not None:
        best_recipe = write_best_recipe(recipe, base, best, out / "best_recipe.yaml", study.study_name)
        files["best_recipe"] = best_recipe
    plots = plot_study(study, out)
    files.update({k: v for k, v in plots.items() if isinstance(v, Path)})
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    summary = {
        "study": study.study_name,
        "storage": storage,
        "sampler": tc.sampler,
        "pruner": tc.pruner,
        "n_trials": tc.n_trials,
        "trials": counts,
        "best": {"number": best.number, "value": best.value, "params": best.params, "folder": best.user_attrs.get("folder")}
        if best
        else None,
        "steps_trained": sum(int(t.user_attrs.get("steps") or 0) for t in study.trials),
        "seconds": round(seconds, 1),
        "learning_rate": rate_source,
        "plots": {k: (str(v) if isinstance(v, Path) else {"skipped": v}) for k, v in plots.items()},
        "files": {k: str(v) for k, v in files.items()},
    }
    files["report"] = write_report(summary, study, out / "report.md")
    files["summary"] = out / "summary.json"
    summary["files"] = {k: str(v) for k, v in files.items()}
    files["summary"].write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return TuneResult(out, study, summary, best_recipe, files)


def write_best_recipe(recipe: Recipe, base: TrainConfig, best, path: Path, study_name: str) -> Path:
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
        f"# Searched values: {', '.join(f'{k}={_short(v)}' for k, v in best.params.items())}.\n"
        f"# Train it: curatune train {path}\n"
    )
    path.write_text(header + yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def write_trials_csv(study, path: Path) -> Path:
    names = sorted({n for t in study.trials for n in t.params})
    extra = ["steps", "seconds", "pruned_at_evaluation", "retry_of", "folder"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", *names, *extra])
        for t in study.trials:
            w.writerow(
                [
                    t.number,
                    t.state.name,
                    "" if t.value is None else t.value,
                    *[t.params.get(n, "") for n in names],
                    *[t.user_attrs.get(k, "") for k in extra],
                ]
            )
    return path


def plot_study(study, out: Path) -> dict[str, Path | str]:
    """The optimisation history and the parameter importances as PNGs; a reason instead of a path when one cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as oplt

    plots: dict[str, Path | str] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete:
            ax = oplt.plot_optimization_history(study, target_name="validation loss")
            plots["optimization_history"] = _save(ax, out / "optimization_history.png")
        else:
            plots["optimization_history"] = "no completed trial"
        varied = [n for n in {n for t in complete for n in t.params} if len({repr(t.params.get(n)) for t in complete}) > 1]
        if len(complete) < 2 or not varied:
            plots["param_importances"] = "needs at least two completed trials with different values"
        else:
            try:
                ax = oplt.plot_param_importances(study, target_name="validation loss")
                plots["param_importances"] = _save(ax, out / "param_importances.png")
            except (RuntimeError, ValueError, ZeroDivisionError, ImportError) as e:  # too few distinct trials for the forest
                plots["param_importances"] = f"could not be computed: {e}"
    plt.close("all")
    return plots


def _save(ax, path: Path) -> Path:
    fig = ax.figure
    fig.set_size_inches(7, 4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_report(summary: dict, study, path: Path) -> Path:
    best = summary["best"]
    lines = [f"# Search: {summary['study']}", ""]
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(summary["trials"].items()))
    lines.append(
        f"{summary['sampler']} sampler, {summary['pruner']} pruning; trials: {counts}; {summary['steps_trained']} optimiser steps in all."
    )
    lines.append("")
    if best:
        lines += [
            f"**Best**: trial {best['number']}, validation loss {best['value']:.5f}, "
            + ", ".join(f"`{k}={_short(v)}`" for k, v in best["params"].items())
            + ".",
            "",
            "Train it: `curatune train " + summary["files"].get("best_recipe", "best_recipe.yaml") + "`",
            "",
        ]
    else:
        lines += ["No trial completed: there is no best configuration yet.", ""]
    for key, title in (("optimization_history", "Optimisation history"), ("param_importances", "Parameter importances")):
        plot = summary["plots"].get(key)
        lines.append(f"![{title}]({Path(plot).name})" if isinstance(plot, str) else f"{title}: not drawn ({plot['skipped']}).")
        lines.append("")
    names = sorted({n for t in study.trials for n in t.params})
    lines.append("| trial | state | validation loss | " + " | ".join(names) + " | steps |")
    lines.append("|---:|---|---:|" + "---:|" * len(names) + "---:|")
    for t in study.trials:
        value = f"{t.value:.5f}" if t.value is not None else ""
        lines.append(
            f"| {t.number} | {t.state.name.lower()} | {value} | "
            + " | ".join(_short(t.params.get(n, "")) for n in names)
            + f" | {t.user_attrs.get('steps', '')} |"
        )
    lines.append("")
    lines.append(
        "Each trial's training folder (curves.png, summary.json) is in `trial-<n>/train/`; the values per trial are in `trials.csv`."
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
