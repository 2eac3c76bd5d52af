"""MLflow tracking, shared by train, tune and eval: a local SQLite store beside the run folders unless the recipe names another.

``runs/mlflow.db`` holds runs, parameters and metrics; ``runs/mlartifacts``
holds what runs log (curves, the resolved recipe, the adapter). ``curatune ui``
opens the MLflow UI on them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@dataclass(frozen=True)
class Tracking:
    """Where a stage logs: the runs folder whose ``mlflow.db`` is the default store, the MLflow run's name, more settings to log."""

    store_dir: Path
    run_name: str
    params: dict[str, Any] = field(default_factory=dict)


def default_store(runs_dir: str | Path) -> Path:
    """``runs/mlflow.db``: the store beside the run folders."""
    return Path(runs_dir).resolve() / "mlflow.db"


def default_tracking_uri(runs_dir: str | Path) -> str:
    return f"sqlite:///{default_store(runs_dir)}"


def artifact_root(runs_dir: str | Path) -> str:
    return (Path(runs_dir).resolve() / "mlartifacts").as_uri()


def use_store(tracking_uri: str | None, runs_dir: str | Path, experiment: str) -> str:
    """Point MLflow at the store and experiment (created with an explicit artifact location); the URI used."""
    import mlflow

    uri = tracking_uri or default_tracking_uri(runs_dir)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        location = artifact_root(runs_dir) if tracking_uri is None else None
        try:
            mlflow.create_experiment(experiment, artifact_location=location)
        except mlflow.exceptions.MlflowException:  # another process created it between the two calls
            if mlflow.get_experiment_by_name(experiment) is None:
                raise
    mlflow.set_experiment(experiment)
    return uri


@contextmanager
def tracked_run(
    tracking_uri: str | None, runs_dir: str | Path, experiment: str, run_name: str, nested: bool = False, tags: dict[str, str] | None = None
) -> Iterator[Any]:
    """An active MLflow run; a failure inside ends it as FAILED rather than leaving it running forever."""
    import mlflow

    use_store(tracking_uri, runs_dir, experiment)
    with mlflow.start_run(run_name=run_name, nested=nested, tags=tags or {}) as run:
        yield run


def flat_params(d: dict, prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow params (``train.learning_rate``); values over MLflow's 6,000 characters are cut."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_params(v, key + "."))
        else:
            out[key] = str(v)[:6000]
    return out
