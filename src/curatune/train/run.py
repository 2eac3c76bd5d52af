"""A ``train:`` section and its data into a trained model in a training folder.

```
train/
  train.yaml        the resolved train section, every default written out (by the train stage)
  key.json          what the training depends on; a rerun with the same key is skipped (by the train stage)
  preflight.json    length, masking, template and budget checks, with every affected example's id
  metrics.jsonl     every logged number, by step
  curves.png        training and validation loss, best checkpoint and early stop marked
  losses.jsonl      every training example's loss under the final model, highest first
  checkpoints/      the Trainer's checkpoints (resume from the last after an interruption)
  model/            the best adapter or model, with its tokenizer
  summary.json      what happened: steps, losses, best checkpoint, early stop, warnings, speed, MLflow run
```

The work is transformers', PEFT's and TRL's: causal-LM fine-tuning runs TRL's
``SFTTrainer`` on examples tokenised here (with the assistant-token mask
:mod:`curatune.train.examples` computes from any chat template), and
classification runs transformers' ``Trainer``. What this module adds is the
checks before, the watching during, and the record after. Whether to train at
all (the key, the skip, the resume) is the train stage's (:mod:`curatune.stages.train`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..config.train import TrainConfig
from ..errors import CuratuneError
from ..run_folder import TrainFolder
from ..tracking import Tracking, flat_params, use_store
from .curves import plot_curves
from .data import TrainData
from .loss_rank import classifier_losses, example_losses, write_losses
from .preflight import Preflight
from .trainer import Built, Prepared, build_trainer, prepare

Echo = Callable[[str], None]


@dataclass
class TrainResult:
    train_dir: Path
    summary: dict[str, Any]
    skipped: bool = False
    preflight: Preflight | None = None
    trainer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class TrainingInterrupted(CuratuneError):
    exit_code = 130


def train(
    config: TrainConfig,
    data: TrainData,
    folder: TrainFolder,
    *,
    fingerprint: dict[str, Any],
    resume: bool = False,
    tracking: Tracking | None = None,
    echo: Echo = print,
    extra_callbacks: list | None = None,
    summary_extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Train as ``config`` says on ``data`` into ``folder``; from its last checkpoint when ``resume``.

    ``fingerprint`` is what the training depends on (``key.json``: key, files, the curation run), recorded in
    the summary and in MLflow. ``summary_extra`` is added to ``summary.json`` (where the learning rate came from).
    """
    t0 = time.perf_counter()
    p = prepare(config, data, folder.preflight, echo)
    built = build_trainer(p, folder.checkpoints, folder.metrics, echo, tracking is not None, extra_callbacks or [])
    trainer, report = built.trainer, p.report
    tracked = _start_tracking(tracking, config, fingerprint) if tracking else None
    try:
        if tracked:
            import mlflow

            mlflow.log_dict(report.to_dict() | {"val": p.val_report.to_dict()}, "preflight.json")
        train_start = time.perf_counter()
        last = _last_checkpoint(folder.checkpoints) if resume else None
        if last:
            echo(f"Resuming from {last}")
        try:
            output = trainer.train(resume_from_checkpoint=str(last) if last else None)
        except KeyboardInterrupt as e:
            saved = _save_emergency_checkpoint(trainer)
            raise TrainingInterrupted(
                f"Training was interrupted at step {trainer.state.global_step}. {saved} Run the same command again to resume."
            ) from e
        summary = _finish(p, built, output, time.perf_counter() - train_start, folder, echo)
        summary["seconds_total"] = round(time.perf_counter() - t0, 1)
        summary["data"] = {
            "train": [str(p) for p in data.paths],
            "val": data.val_source,
            "fingerprint": fingerprint["key"],
            "curation": fingerprint["curation"],
        }
        if tracked:
            summary["mlflow"] = _log_results(tracked, summary, folder, config)
        summary.update(summary_extra or {})
        folder.summary.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        return TrainResult(folder.root, summary, preflight=report, trainer=trainer)
    finally:
        if tracked:
            import mlflow

            mlflow.end_run("FINISHED" if folder.summary.is_file() else "FAILED")


def _last_checkpoint(folder: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    return Path(get_last_checkpoint(str(folder))) if folder.is_dir() and get_last_checkpoint(str(folder)) else None


def _save_emergency_checkpoint(trainer) -> str:
    """A checkpoint at the step reached, so an interrupted run resumes where it stopped."""
    try:
        trainer._save_checkpoint(trainer.model, trial=None)
        return f"A checkpoint of step {trainer.state.global_step} is in {trainer.args.output_dir}."
    except Exception as e:  # the interruption may have left the model mid-step
        return f"No checkpoint could be saved now ({e}); the last saved one is used."


def _finish(p: Prepared, built: Built, output, train_seconds: float, folder: TrainFolder, echo: Echo) -> dict:
    """After the last step: rank the losses, draw the curves, save the model; the summary."""
    config, data, loaded, train_rows, report = p.config, p.data, p.loaded, p.train_rows, p.report
    trainer, watcher, early = built.trainer, built.watcher, built.early
    state = trainer.state
    stopped_early = bool(
        early and early.early_stopping_patience_counter >= config.early_stopping_patience and state.global_step < state.max_steps
    )
    best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None
    tokens = built.counter.summary()
    if not p.val_rows:  # no evaluation batch among them: the first steps x accumulation batches are exactly those trained on
        tokens["trained_batch_tokens"] = built.counter.stepped_tokens(state.global_step * config.gradient_accumulation_steps)
    model = trainer.model
    pad = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    rank_start = time.perf_counter()
    ranked: list[dict] = []
    if config.rank_losses:
        losses = (classifier_losses if data.task == "classification" else example_losses)(model, train_rows, pad)
        ranked = write_losses([r["id"] for r in train_rows], losses, folder.losses)
    rank_seconds = time.perf_counter() - rank_start
    plot_curves(
        folder.metrics,
        folder.curves,
        best_step,
        state.global_step if stopped_early else None,
        watcher.warnings,
        title=f"{config.method} fine-tuning of {config.model}",
    )
    if config.save_model:
        model.save_pretrained(folder.model)
        loaded.tokenizer.save_pretrained(folder.model)
    evals = [{"step": e.step, "train_loss": e.train_loss, "eval_loss": e.eval_loss} for e in watcher.points]
    summary = {
        "task": data.task,
        "method": config.method,
        "model": config.model,
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "epochs": round(state.epoch or 0, 3),
        "train_loss": round(output.training_loss, 5),
        "best_eval_loss": state.best_metric,
        "best_step": best_step,
        "best_checkpoint": state.best_model_checkpoint,
        "stopped_early": stopped_early,
        "evaluations": evals,
        "overfitting_warnings": watcher.warnings,
        "train_examples": len(train_rows),
        "trainable_params": loaded.trainable_params,
        "total_params": loaded.total_params,
        "dropout_keys_set": loaded.dropout_keys,
        "train_seconds": round(train_seconds, 2),
        "loss_rank_seconds": round(rank_seconds, 2),
        "tokens": tokens,
        "tokens_per_second": round(tokens["processed_tokens"] / train_seconds, 1) if train_seconds else None,
        "estimated_seconds": report.budget.get("estimated_seconds"),
        "highest_loss_examples": ranked[: config.loss_rank_top],
        "model_dir": str(folder.model) if config.save_model else None,
    }
    echo(
        f"trained {state.global_step} steps in {train_seconds:.0f} s; best validation loss {state.best_metric} at step {best_step}"
        + (" (stopped early)" if stopped_early else "")
    )
    return summary


def _start_tracking(tracking: Tracking, config: TrainConfig, fingerprint: dict) -> dict:
    import mlflow

    uri = use_store(config.tracking_uri, tracking.store_dir, config.experiment)
    run = mlflow.start_run(
        run_name=tracking.run_name,
        nested=mlflow.active_run() is not None,
        tags={"curatune.stage": "train", "curatune.version": __version__},
    )
    mlflow.log_params(flat_params({"train": config.resolved(), **tracking.params}))
    mlflow.log_params(
        {"dataset.fingerprint": fingerprint["key"], "dataset.curation_key": (fingerprint["curation"] or {}).get("key", "none")}
    )
    mlflow.log_dict(fingerprint, "dataset_fingerprint.json")
    return {"uri": uri, "run_id": run.info.run_id, "experiment": config.experiment}


def _log_results(tracked: dict, summary: dict, folder: TrainFolder, config: TrainConfig) -> dict:
    import mlflow

    final = {
        k: v
        for k, v in {
            "best_eval_loss": summary["best_eval_loss"],
            "final_train_loss": summary["train_loss"],
            "stopped_early": float(summary["stopped_early"]),
            "tokens_per_second": summary["tokens_per_second"],
            "padding_waste": summary["tokens"]["padding_waste"],
        }.items()
        if v is not None
    }
    mlflow.log_metrics(final)
    for path in (folder.config, folder.preflight, folder.curves, folder.losses, folder.metrics):
        if path.is_file():
            mlflow.log_artifact(str(path))
    if config.save_model and folder.model.is_dir():
        mlflow.log_artifacts(str(folder.model), "model")
    return tracked
