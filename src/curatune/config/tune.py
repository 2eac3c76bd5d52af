"""The ``tune:`` section of a recipe: what ``curatune tune`` searches, how, and for how long.

```yaml
train:                                # the starting point: every trial trains with these ...
  model: default
  method: lora
  max_steps: 200
tune:
  space:                              # ... but for the values sampled here (keys are train: fields)
    learning_rate: {type: log_uniform, low: 1.0e-5, high: 1.0e-2}
    lora_r: {type: categorical, choices: [8, 16, 32]}
    lora_dropout: {type: uniform, low: 0.0, high: 0.2}
  sampler: tpe                        # tpe | random | grid
  pruner: median                      # median | hyperband | none
  n_trials: 20                        # the study's total: a rerun on the same storage runs only the trials missing
  timeout_minutes: 60                 # and stop starting trials after this long
```

``n_trials`` counts the trials that finished (completed or pruned) in the
study, across runs: a search interrupted after 7 of 20 runs 13 more when
started again. A trial that failed (an error, an interruption) does not
count; its configuration is tried once more first, in its own folder, so its
training resumes from its last checkpoint.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .train import TrainConfig

# Fields whose value changes what a trial costs or learns; anything else in train: may be searched too,
# as a categorical (method, lr_scheduler_type, ...), but these are the usual ones.
USUAL = (
    "learning_rate",
    "weight_decay",
    "dropout",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "per_device_train_batch_size",
    "num_train_epochs",
    "warmup_ratio",
    "gradient_accumulation_steps",
)
LORA_ONLY = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


class ParamSpace(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    type: Literal["log_uniform", "uniform", "int", "categorical"]
    """``log_uniform`` (a rate: every decade as likely), ``uniform``, ``int`` (whole numbers from low to high) or ``categorical`` (one of
    ``choices``)."""
    low: float | None = None
    """The smallest value (log_uniform, uniform, int)."""
    high: float | None = None
    """The largest value (log_uniform, uniform, int)."""
    choices: list[Any] | None = None
    """The values to choose from (categorical)."""
    grid_points: int = Field(3, ge=1)
    """With ``sampler: grid``: how many values of the range the grid holds (log-spaced for log_uniform); a categorical's grid is its
    choices."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, raw):
        """Said here, with a suggestion: the recipe's own message cannot see inside ``space``'s mapping."""
        if isinstance(raw, dict):
            for key in raw:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise ValueError(f"unknown key {key!r}.{hint} Allowed: {', '.join(cls.model_fields)}")
        return raw

    @model_validator(mode="after")
    def _complete(self):
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs 'choices: [...]'")
            lists = [c for c in self.choices if not (c is None or isinstance(c, (str, int, float, bool)))]
            if lists:
                raise ValueError(f"choices must be single values (numbers, strings, true/false, null); got {lists[0]!r}")
            if self.low is not None or self.high is not None:
                raise ValueError("a categorical parameter takes 'choices', not 'low'/'high'")
            return self
        if self.choices is not None:
            raise ValueError(f"a {self.type} parameter takes 'low' and 'high', not 'choices' (use type: categorical for a list)")
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter needs both 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.type == "log_uniform" and self.low <= 0:
            raise ValueError(f"a log_uniform range must be above 0 (low is {self.low}); use type: uniform to include 0")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"an int range needs whole bounds (got {self.low}, {self.high})")
        return self

    def values(self) -> list[Any]:
        """The bounds or choices: every value a trial may get at the edges, for checking against train:."""
        if self.type == "categorical":
            return list(self.choices or [])
        if self.type == "int":
            return [int(self.low), int(self.high)]  # type: ignore[arg-type]
        return [self.low, self.high]

    def grid(self) -> list[Any]:
        """The grid sampler's values for this parameter."""
        if self.type == "categorical":
            return list(self.choices or [])
        n = self.grid_points
        if n == 1:
            mid = np.sqrt(self.low * self.high) if self.type == "log_uniform" else (self.low + self.high) / 2  # type: ignore[operator]
            return [int(round(mid))] if self.type == "int" else [float(mid)]
        if self.type == "log_uniform":
            points = np.geomspace(self.low, self.high, n)  # type: ignore[arg-type]
        else:
            points = np.linspace(self.low, self.high, n)  # type: ignore[arg-type]
        if self.type == "int":
            return sorted({int(round(v)) for v in points})
        # Short numbers for the trial table; kept inside the range, which the sampler checks.
        return [min(max(float(f"{v:.4g}"), self.low), self.high) for v in points]  # type: ignore[type-var]


class TuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)

    space: dict[str, ParamSpace]
    """What to search: ``train:`` field names, each with its range (``{type: log_uniform, low: 1.0e-5, high: 1.0e-3}``) or ``choices``."""
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    """``tpe`` (Bayesian: samples where good trials were), ``random``, or ``grid`` (every combination of each parameter's ``grid_points``
    values)."""
    startup_trials: int | None = Field(None, ge=1)
    """With ``sampler: tpe``: random trials before TPE models the results; a third of ``n_trials`` (2 to 10) when absent."""
    pruner: Literal["median", "hyperband", "none"] = "median"
    """Stop bad trials early from their validation loss: ``median`` (worse than the median of finished trials at the same evaluation),
    ``hyperband``, or ``none``."""
    pruner_startup_trials: int = Field(2, ge=0)
    """Trials that must complete before any is pruned (the median needs something to compare with)."""
    pruner_warmup_evaluations: int = Field(1, ge=0)
    """Evaluations of each trial before it may be pruned (the first is noisy: the rate is still warming up)."""
    n_trials: int | None = Field(20, ge=1)
    """Trials in the study, all runs together (completed and pruned ones count, failed ones do not); null: until ``timeout_minutes``."""
    timeout_minutes: float | None = Field(None, gt=0)
    """Start no trial after this many minutes of this run (the one running finishes)."""
    storage: str | None = None
    """Where the study lives (an Optuna storage URL); ``runs/<name>/tune/study.db`` (SQLite) when absent. A rerun on it resumes the
    search."""
    study_name: str | None = None
    """The study's name in the storage; the recipe's name when absent."""
    n_jobs: int = Field(1, ge=1)
    """Trials run at once, each in a worker process with its own copy of the model (memory times n_jobs). Worth it with
    several GPUs (worker i gets GPU i) or spare CPU cores (each trial uses ``OMP_NUM_THREADS`` of them). Several
    ``curatune tune`` commands on one ``storage`` share the study the same way, from several machines too."""
    seed: int = 0
    """The sampler's seed (each trial trains with ``train.seed``, so trials differ only by what they sample)."""
    metric: Literal["eval_loss"] = "eval_loss"
    """What the search minimises: the trial's best validation loss."""

    @field_validator("space")
    @classmethod
    def _searchable(cls, space: dict[str, ParamSpace]) -> dict[str, ParamSpace]:
        if not space:
            raise ValueError(
                f"is empty; name at least one train: field to search, e.g. learning_rate: {{type: log_uniform, low: 1.0e-5, high: 1.0e-3}} "
                f"(usual ones: {', '.join(USUAL)})"
            )
        problems = []
        for name, spec in space.items():
            problems.extend(_field_problems(name, spec))
        if problems:
            raise ValueError("; ".join(problems))
        return space

    def grid(self) -> dict[str, list[Any]]:
        return {name: spec.grid() for name, spec in self.space.items()}


def _field_problems(name: str, spec: ParamSpace) -> list[str]:
    """A searched name must be a train: field, and every value at the range's edges must be one that field accepts."""
    fields = list(TrainConfig.model_fields)
    if name not in fields:
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (usual ones: {', '.join(USUAL)})"
        return [f"{name!r} is not a train: field{hint}"]
    problems = []
    values = spec.values()
    if spec.type in ("uniform", "log_uniform"):
        values.append(spec.low + (spec.high - spec.low) * 0.37)  # type: ignore[operator]  # a value between whole numbers
    for value in values:
        try:
            TrainConfig.model_validate({name: value})
        except ValidationError as e:
            own = [err for err in e.errors() if err["loc"] and err["loc"][0] == name]
            if own and own[0]["type"].startswith("int_"):
                problems.append(f"train.{name} takes whole numbers; give it type: int or categorical (got type: {spec.type})")
                break
            if own:
                problems.append(f"{name}={value!r} is not a valid train.{name}: {own[0]['msg'].removeprefix('Value error, ')}")
    return problems
