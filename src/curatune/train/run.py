"""A ``train:`` section and its data into a trained model in a training folder.

```
train/
  train.yaml        the resolved train section, every default written out (by the train stage)
  key.json          what the training depends on; a rerun with the same key is skipped (by the train stage)
  preflight.json    length, masking, template and budget checks, with every affected example's id
  metrics.jsonl     every logged number, by step
  curves.png        training and validation loss, best checkpoint and early stop marked
  losses.jsonl      every training example's loss under the final model, highest first
  pair_rewards.jsonl  (preference tasks, instead) every training pair's reward margin under the final model, lowest first
  checkpoints/      the Trainer's checkpoints (resume from the last after an interruption)
  model/            the best adapter or model, with its tokenizer
  summary.json      what happened: steps, losses, best checkpoint, early stop, warnings, speed, MLflow run
```

The work is transformers', PEFT's and TRL's: causal-LM fine-tuning runs TRL's
``SFTTrainer`` on examples tokenised here (with the assistant-token mask
:mod:`curatune.train.examples` computes from any chat template), and
classification runs transformers' ``Trainer``; the preference tasks run TRL's preference
trainers (:mod:`curatune.train.preference`). What this module adds is the
checks before, the watching during, and the record after. Whether to train at
all (the key, the skip, the resume) is the train stage's (:mod:`curatune.stages.train`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..config.train import TrainConfig
from ..distributed import launch
from ..errors import CuratuneError
from ..run_folder import TrainFolder
from ..tracking import Tracking, flat_params, use_store
from .curves import plot_curves
from .data import TrainData
from .loss_rank import classifier_losses, example_losses, trained_tokens, write_losses
from .preference import pair_rewards, reward_summary, write_pair_rewards
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
    me = launch()  # under a launch of several processes every rank trains; rank 0 alone writes and tracks
    p = prepare(config, data, folder.preflight if me.is_main else Path(os.devnull), echo)
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
        earlier = _attempts_begin(folder.attempts, last) if me.is_main else []  # rank 0 alone writes the run folder
        try:
            output = trainer.train(resume_from_checkpoint=str(last) if last else None)
        except KeyboardInterrupt as e:
            saved = _save_emergency_checkpoint(trainer)
            if me.is_main:
                _attempt_end(folder.attempts, "interrupted", trainer.state.global_step, time.perf_counter() - train_start)
            raise TrainingInterrupted(
                f"Training was interrupted at step {trainer.state.global_step}. {saved} Run the same command again to resume."
            ) from e
        this = time.perf_counter() - train_start
        if me.distributed:
            p = _after_ranks_trained(p, built, folder, echo)
            if not me.is_main:
                return TrainResult(folder.root, {}, preflight=report, trainer=trainer)
        summary = _finish(p, built, output, this, folder, echo)
        summary.update(_attempts_summary(earlier, this, _checkpoint_step(last), summary["steps"]))
        summary["processes"] = me.world_size
        summary["model_dir"] = str(folder.model) if config.save_model else None  # saved by every rank when sharded
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


# ---- attempts: an interrupted training resumed is one training, timed whole ------------------------


def _checkpoint_step(checkpoint: Path | None) -> int:
    return int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0


def _attempts_begin(path: Path, resumed_from: Path | None) -> list[dict]:
    """The earlier attempts of this training (none when it starts afresh), and this one's start, recorded.

    An attempt with a start and no end was killed (kill -9, a lost machine): its time is counted up to its last
    checkpoint, the work the resumed attempt builds on.
    """
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()] if resumed_from and path.is_file() else []
    attempts: list[dict] = []
    for row in rows:
        if "started" in row:
            attempts.append({"started": row["started"], "from_step": row["from_step"], "ended": "killed", "seconds": None})
        elif attempts:
            attempts[-1].update(ended=row["ended"], at_step=row["at_step"], seconds=row["seconds"])
    for a in attempts:
        if a["seconds"] is None:  # killed: until its last checkpoint's time, where the next attempt took over
            a["seconds"] = round(max(0.0, resumed_from.stat().st_mtime - a["started"]), 2) if resumed_from else 0.0
            a["at_step"] = _checkpoint_step(resumed_from)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = orjson.dumps({"started": time.time(), "from_step": _checkpoint_step(resumed_from)}) + b"\n"
    if resumed_from:
        with path.open("ab") as f:
            f.write(start)
    else:
        path.write_bytes(start)
    return attempts


def _attempt_end(path: Path, ended: str, step: int, seconds: float) -> None:
    with path.open("ab") as f:
        f.write(orjson.dumps({"ended": ended, "at_step": step, "seconds": round(seconds, 2)}) + b"\n")


def _attempts_summary(earlier: list[dict], this_seconds: float, from_step: int, steps: int) -> dict[str, Any]:
    """summary.json's account of the attempts: train_seconds over all of them, and how each ended."""
    attempts = [*earlier, {"from_step": from_step, "at_step": steps, "ended": "finished", "seconds": round(this_seconds, 2)}]
    return {
        "train_seconds": round(sum(a["seconds"] for a in attempts), 2),
        "train_seconds_last_attempt": round(this_seconds, 2),
        "interrupted": len(attempts) > 1,
        "resumed_from_step": from_step or None,
        "attempts": [{k: a[k] for k in ("from_step", "at_step", "ended", "seconds")} for a in attempts],
    }


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
    preference: dict[str, Any] = {}
    if p.preference and p.train_pairs is not None:
        preference = _preference_summary(p, built, folder)
        ranked = preference.pop("ranked")
    elif config.rank_losses:
        ids = [r["id"] for r in train_rows]
        if data.task == "classification":
            ranked = write_losses(ids, classifier_losses(model, train_rows, pad), folder.losses)
        else:
            ranked = write_losses(ids, example_losses(model, train_rows, pad), folder.losses, trained_tokens(train_rows))
    rank_seconds = time.perf_counter() - rank_start
    plot_curves(
        folder.metrics,
        folder.curves,
        best_step,
        state.global_step if stopped_early else None,
        watcher.warnings,
        title=f"{config.method} {data.task} fine-tuning of {loaded.base_model or config.model}",
    )
    if config.save_model:
        # After start_from, an adapter is on a merged model no folder holds: the model is saved merged, whole.
        saved = model.merge_and_unload() if config.start_from and hasattr(model, "merge_and_unload") else model
        saved.save_pretrained(folder.model)
        loaded.tokenizer.save_pretrained(folder.model)
    evals = [{"step": e.step, "train_loss": e.train_loss, "eval_loss": e.eval_loss} for e in watcher.points]
    for e, r in zip(evals, getattr(watcher, "reward_points", [])):  # a preference training's rewards at each evaluation
        e.update(eval_reward_margin=r.eval_margin, eval_reward_accuracy=r.eval_accuracy, train_reward_margin=r.train_margin)
    summary = {
        "task": data.task,
        "method": config.method,
        "model": loaded.base_model or config.model,
        **({"start_from": config.start_from} if config.start_from else {}),
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
        **({"lowest_margin_pairs": ranked[: config.loss_rank_top], **preference} if p.preference else {}),
        **({} if p.preference else {"highest_loss_examples": ranked[: config.loss_rank_top]}),
        "model_dir": str(folder.model) if config.save_model else None,
    }
    echo(
        f"trained {state.global_step} steps in {train_seconds:.0f} s"
        + (f"; best validation loss {state.best_metric:.4f} at step {best_step}" if state.best_metric is not None else "")
        + (" (stopped early)" if stopped_early else "")
    )
    return summary


def _preference_summary(p: Prepared, built: Built, folder: TrainFolder) -> dict[str, Any]:
    """The training pairs' reward margins under the final model against the reference (``pair_rewards.jsonl``), and the settings."""
    config, trainer = p.config, built.trainer
    out: dict[str, Any] = {"beta": config.beta, "reference": _reference_name(p), "ranked": []}
    if p.data.task == "simpo":
        out["simpo_gamma"] = config.simpo_gamma
    if not config.rank_losses or p.train_pairs is None:
        return out
    rewards = pair_rewards(trainer.model, lambda: _reference(trainer), p.loaded.tokenizer, p.train_pairs, config.beta, config.max_seq_len)
    out["ranked"] = write_pair_rewards(rewards, folder.pair_rewards)
    out["train_pairs"] = reward_summary(rewards)
    return out


def _reference_name(p: Prepared) -> str:
    start = p.config.start_from or p.config.model
    return f"{start} (the adapter disabled)" if p.loaded.peft_config is not None else f"{start} (a frozen copy)"


def _reference(trainer):
    """The reference model as a context: the adapter disabled, or the frozen copy the trainer holds."""
    import contextlib

    ref = getattr(trainer, "ref_model", None) or getattr(trainer, "curatune_reference", None)
    if ref is not None:
        return contextlib.nullcontext(ref)
    model = trainer.model

    @contextlib.contextmanager
    def disabled():
        with model.disable_adapter():
            yield model

    if hasattr(model, "disable_adapter"):
        return disabled()
    raise RuntimeError("a preference training with neither a reference model nor an adapter")


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
            "train_reward_margin": (summary.get("train_pairs") or {}).get("reward_margin"),
            "train_reward_accuracy": (summary.get("train_pairs") or {}).get("reward_accuracy"),
        }.items()
        if v is not None
    }
    mlflow.log_metrics(final)
    for path in (folder.config, folder.preflight, folder.curves, folder.losses, folder.pair_rewards, folder.metrics):
        if path.is_file():
            mlflow.log_artifact(str(path))
    if config.save_model and folder.model.is_dir():
        mlflow.log_artifacts(str(folder.model), "model")
    return tracked


def _after_ranks_trained(p: Prepared, built: Built, folder: TrainFolder, echo: Echo) -> Prepared:
    """After training on several processes (every rank calls it): the token counts summed over the ranks; under FSDP or
    ZeRO-3 the model gathered and saved by every rank together (rank 0 writes it), and the per-example losses left
    unranked, since rank 0 alone cannot run sharded weights. What follows (:func:`_finish`) is rank 0's, as in one process.
    """
    built.counter.add_other_ranks()
    config = p.config
    if not _sharded(built.trainer):
        return p  # DDP: every rank holds the whole model, and rank 0 saves and ranks as one process does
    if config.save_model:
        built.trainer.save_model(str(folder.model))
    if config.rank_losses:
        echo("losses not ranked: the weights are sharded over the processes (FSDP or ZeRO-3); rank them in one process")
    return dataclasses.replace(p, config=config.model_copy(update={"save_model": False, "rank_losses": False}))


def _sharded(trainer) -> bool:
    """Weights split over the ranks (FSDP, ZeRO-3): rank 0 alone cannot run the model."""
    if getattr(trainer, "is_fsdp_enabled", False):
        return True
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None) if getattr(trainer, "is_deepspeed_enabled", False) else None
    return plugin is not None and plugin.zero_stage == 3
