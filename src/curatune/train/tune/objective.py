"""One trial: sampled values into a train: section, trained in the trial's own run folder, its validation loss
reported to the pruner at every evaluation, and a pruned trial's folder marked so it never reads as finished."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from typing import Any

import optuna
import orjson
from transformers import TrainerCallback

from ...config.train import TrainConfig
from ...config.tune import TuneConfig
from ...distributed import launch, share
from ...errors import InputError, RecipeError
from ...run_folder import TrainFolder
from .study import Search, short

Echo = Callable[[str], None]


class Objective:
    """What Optuna optimises: a trial's best validation loss."""

    def __init__(self, search: Search, echo: Echo, extra_callbacks: list | None = None):
        self.search, self.echo, self.extra_callbacks = search, echo, extra_callbacks or []

    def __call__(self, trial) -> float:
        search = self.search
        params = sample(trial, search.tc)
        retry_of = trial.user_attrs.get("retry_of")
        folder_number = trial.number if retry_of is None else retry_of  # a retry resumes in the failed trial's folder
        folder = search.folder.trial(folder_number).train
        trial.set_user_attr("folder", str(folder.root))
        pruning = PruneOnEvaluation(trial, shared=launch().distributed)
        tagger = TagTrialRun(search.parent["run_id"], trial.number, search.label) if search.parent else None
        callbacks = [pruning, *self.extra_callbacks, *([tagger] if tagger else [])]
        shown = ", ".join(f"{k}={short(v)}" for k, v in params.items())
        again = f" (again: trial {retry_of} failed)" if retry_of is not None else ""
        t0 = time.perf_counter()
        try:
            res = search.run_trial(folder_number, self._config(params), self.echo if search.verbose else _quiet(self.echo), callbacks)
        except optuna.TrialPruned:
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
            leave_pruned(folder, pruning, tagger)
            self.echo(
                f"trial {trial.number}{again}: {shown} -> pruned at evaluation {pruning.evaluations} (step {pruning.step}), validation "
                f"loss {pruning.last:.4f}"
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
                f"Trial {trial.number} ended without a validation loss (see {folder.summary}); tune needs at least one evaluation per "
                "trial: lower train.eval_steps."
            )
        self.echo(
            f"trial {trial.number}{again}: {shown} -> validation loss {value:.4f} ({s.get('steps')} "
            f"steps{', stopped early' if s.get('stopped_early') else ''})"
        )
        return float(value)

    def _config(self, params: dict[str, Any]) -> TrainConfig:
        try:
            return TrainConfig.model_validate({**self.search.base.model_dump(), **params})
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

    A loss that is not finite prunes at once: the trial has diverged. ``shared``: under a launch of several
    processes, the decision is sent to the other ranks (:class:`FollowPruning`), which stop at the same evaluation.
    """

    def __init__(self, trial, shared: bool = False):
        self.trial = trial
        self.shared = shared
        self.evaluations = 0
        self.step = 0
        self.last = math.nan

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics:
            return
        # Counted from the step, not from the calls: a trial resumed from a checkpoint goes on with the right number.
        every = int(args.eval_steps) if args.eval_steps and args.eval_steps >= 1 else None
        self.evaluations = max(1, state.global_step // every) if every else self.evaluations + 1
        self.step, self.last = state.global_step, float(metrics["eval_loss"])
        if math.isfinite(self.last):
            self.trial.report(self.last, self.evaluations)
        prune = not math.isfinite(self.last) or self.trial.should_prune()
        if self.shared:
            share(prune)
        if prune:
            self.trial.set_user_attr("steps", state.global_step)
            self.trial.set_user_attr("pruned_at_evaluation", self.evaluations)
            raise optuna.TrialPruned(f"pruned at evaluation {self.evaluations} (step {state.global_step}): validation loss {self.last:.4f}")


class FollowPruning(TrainerCallback):
    """On the other ranks of a launch: stop where rank 0's :class:`PruneOnEvaluation` stops (the same evaluations, in step)."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics:
            return
        if share(False):
            raise optuna.TrialPruned(f"pruned by rank 0 at step {state.global_step}")


class TagTrialRun(TrainerCallback):
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


def leave_pruned(folder: TrainFolder, pruning: PruneOnEvaluation, tagger: TagTrialRun | None) -> None:
    """No checkpoints (they are never resumed) and a note of why, so the folder never reads as a finished training."""
    shutil.rmtree(folder.checkpoints, ignore_errors=True)
    note = {"pruned": True, "evaluation": pruning.evaluations, "step": pruning.step, "eval_loss": pruning.last}
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.pruned.write_bytes(orjson.dumps(note, option=orjson.OPT_INDENT_2))
    if tagger and tagger.run_id:
        # train() ended the run as FAILED on the way out; a pruned trial was stopped, not broken.
        from mlflow import MlflowClient

        client = MlflowClient()
        client.set_tag(tagger.run_id, "curatune.trial_state", "PRUNED")
        client.set_terminated(tagger.run_id, "KILLED")


def _quiet(echo: Echo) -> Echo:
    """One line per trial is what a search prints; a trial's own lines (and warnings) are in its folder, or shown with verbose."""
    return lambda s: None
