"""``curatune tune`` under ``accelerate launch`` or ``torchrun``: rank 0 runs the search, every rank trains each trial.

Rank 0 holds the study, samples each trial and writes everything, as in one process; before each trial it
tells the other ranks which trial folder to train and with what configuration (:class:`Leader`), and they
train it with it (:func:`follow_trials`), stopping at the evaluation where rank 0's pruner stops
(:class:`.objective.FollowPruning`). At the end rank 0 sends the result, or its failure, and the others
return or stop with it. A failure in the middle of a trial's training is not sent (the others are inside
the training's own collective steps then): rank 0 exits and the launcher stops the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import optuna

from ...config.train import TrainConfig
from ...distributed import failed, raise_failed, share
from ..run import TrainResult
from .objective import FollowPruning
from .outputs import TuneResult
from .study import Echo, TrialTrainer


class Leader:
    """Rank 0's trial trainer: each trial announced to the other ranks, then trained here as in one process."""

    def __init__(self, run_trial: TrialTrainer):
        self.run_trial = run_trial
        self.training = False  # inside a trial's training: the other ranks are too, and cannot be told anything

    def __call__(self, number: int, config: TrainConfig, echo: Echo, extra_callbacks: list) -> TrainResult:
        share(("trial", number, config))
        self.training = True
        try:
            result = self.run_trial(number, config, echo, extra_callbacks)
        except optuna.TrialPruned:  # every rank stopped at the same evaluation
            self.training = False
            raise
        self.training = False
        return result

    def end(self, result: TuneResult) -> None:
        """The search is over: the others return its result (without the study, which holds a database connection)."""
        share(("end", dataclasses.replace(result, study=None)))

    def fail(self, error: BaseException) -> None:
        """The search failed on rank 0 outside a trial's training: the others stop with its message and exit code."""
        if not self.training:
            share(failed(error))


def follow_trials(run_trial: TrialTrainer) -> TuneResult:
    """A rank other than 0: train each trial rank 0 announces, until it sends the end of the search."""
    while True:
        message: tuple[Any, ...] = share(())
        if message[0] == "end":
            result: TuneResult = message[1]
            return result
        if message[0] == "failed":
            raise_failed(message)
        _, number, config = message
        try:
            run_trial(number, config, _quiet, [FollowPruning()])
        except optuna.TrialPruned:
            pass


def _quiet(line: str) -> None:
    pass
