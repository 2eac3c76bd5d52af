"""The search's own MLflow run: every trial's run nests under it, the same one across reruns of the study."""

from __future__ import annotations

from ... import __version__
from ...tracking import flat_params, use_store
from .outputs import TuneResult
from .study import Search


def start_parent_run(search: Search, study) -> dict:
    """Start (or, for a resumed study, reopen) the search's run; ``{uri, run_id, experiment}``."""
    import mlflow

    base, tc = search.base, search.tc
    assert search.store_dir is not None
    uri = use_store(base.tracking_uri, search.store_dir, base.experiment)
    run_id = study.user_attrs.get("mlflow_parent_run_id")
    if run_id and _run_exists(run_id):
        mlflow.start_run(run_id=run_id)
    else:
        run = mlflow.start_run(
            run_name=f"{search.label}/tune",
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


def end_parent_run(state: str) -> None:
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.end_run(state)


def log_parent_results(parent: dict, result: TuneResult) -> None:
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
