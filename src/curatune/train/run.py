"""``curatune train``: a recipe's ``train:`` section into a trained model in the run folder.

```
runs/<name>/train/
  train.yaml        the resolved train section, every default written out
  key.json          what the training depends on (recipe, data fingerprints); a rerun with the same key is skipped
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
checks before, the watching during, and the record after.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import xxhash
import yaml

from .. import __version__
from ..config.recipe import Recipe
from ..config.train import TrainConfig
from ..errors import CuratuneError, InputError
from ..models.causal_lm import use_omp_threads
from ..stages.runs import file_fingerprint, stored_key
from .data import TrainData, load_train_data
from .preflight import Preflight, budget, prepare_classification, prepare_sft, steps_for

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


def train_dir_of(recipe: Recipe) -> Path:
    return Path(recipe.runs_dir) / str(recipe.name) / "train"


def training_key(recipe: Recipe, data: TrainData, config: TrainConfig) -> dict[str, Any]:
    files = {str(p): file_fingerprint(p) for p in [*data.paths, *data.val_paths]}
    settings = {"data": recipe.data.model_dump(mode="json"), "train": config.resolved()}
    h = xxhash.xxh3_128(
        orjson.dumps({"settings": settings, "files": files, "version": __version__}, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    return {"key": h, "files": files, "curation": curation_of(data.paths)}


def curation_of(paths: list[Path]) -> dict[str, str] | None:
    """The curate run that made the training data, when it came from one: its key and recipe hash."""
    for p in paths:
        for folder in list(p.resolve().parents)[:3]:
            run_json = folder / "run.json"
            if run_json.is_file() and (folder / "recipe.yaml").is_file():
                run = orjson.loads(run_json.read_bytes())
                return {
                    "run": str(folder),
                    "key": str(run.get("key", "")),
                    "recipe_xxh3": xxhash.xxh3_64((folder / "recipe.yaml").read_bytes()).hexdigest(),
                }
    return None


def train(recipe: Recipe, force: bool = False, echo: Echo = print, track: bool = True, extra_callbacks: list | None = None) -> TrainResult:
    """Train as the recipe says; skipped when an identical training has finished."""
    config = recipe.train or TrainConfig()
    rate_source = None
    if config.learning_rate == "auto":
        from .lr_find import auto_learning_rate

        config, rate_source = auto_learning_rate(recipe, config, echo=echo)
    out = train_dir_of(recipe)
    data = load_train_data(recipe.data.path, config, recipe.data.format)
    key = training_key(recipe, data, config)
    summary_path = out / "summary.json"
    if not force and summary_path.is_file() and stored_key(out / "key.json") == key["key"]:
        echo(f"Unchanged since the last training; skipped ({out}). Use --force to train again.")
        return TrainResult(out, orjson.loads(summary_path.read_bytes()), skipped=True)
    resume = not force and stored_key(out / "key.json") == key["key"] and any((out / "checkpoints").glob("checkpoint-*"))
    if out.exists() and not resume:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "key.json").write_bytes(orjson.dumps(key, option=orjson.OPT_INDENT_2))
    (out / "train.yaml").write_text(yaml.safe_dump(config.resolved(), sort_keys=False), encoding="utf-8")
    use_omp_threads()
    result = _train(recipe, config, data, key, out, resume, echo, track, extra_callbacks or [])
    if rate_source:
        result.summary["learning_rate"] = rate_source
        summary_path.write_bytes(orjson.dumps(result.summary, option=orjson.OPT_INDENT_2))
    return result


@dataclass
class Prepared:
    """Everything training needs, checked: the data, the model, the token rows, the preflight reports, the step plan."""

    config: TrainConfig
    data: TrainData
    loaded: Any
    train_rows: list[dict]
    val_rows: list[dict]
    report: Preflight
    val_report: Preflight
    eval_steps: int


def prepare(config: TrainConfig, data: TrainData, out: Path, echo: Echo = print) -> Prepared:
    """Load the model, tokenise and check the examples, plan the steps; write ``preflight.json`` into ``out``."""
    from .model import load_model

    loaded = load_model(config, data.task, data.labels)
    model, tokenizer = loaded.model, loaded.tokenizer
    report, val_report = Preflight(), Preflight()
    report.read_problems = [{"source": r.source, "line": r.line, "reason": r.reason, "detail": r.detail} for r in data.rejects]
    if data.task == "classification":
        label2id = {l: i for i, l in enumerate(data.labels)}
        train_rows = prepare_classification(data.train, tokenizer, config, label2id, report)
        val_rows = prepare_classification(data.val, tokenizer, config, label2id, val_report)
    else:
        eos = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else tokenizer.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        train_rows = [_row(e) for e in prepare_sft(data.train, tokenizer, config, report, eos_ids)]
        val_rows = [_row(e) for e in prepare_sft(data.val, tokenizer, config, val_report)]
    if not train_rows:
        raise InputError(
            f"No training example is left after the checks (see {out / 'preflight.json'}): {len(report.too_long)} too long, {len(report.no_trained)} with no assistant tokens."
        )
    if data.val and not val_rows:
        raise InputError(
            f"No validation example is left after the checks ({len(val_report.too_long)} too long); raise max_seq_len or give other validation data."
        )
    if report.template_problems:
        report.warnings.append(
            f"{len(report.template_problems)} examples render differently for training than at inference (see template_problems)"
        )
    if report.too_long:
        report.warnings.append(f"{len(report.too_long)} training examples are over max_seq_len {config.max_seq_len}: {config.on_too_long}")
    if report.low_trained:
        report.warnings.append(f"{len(report.low_trained)} examples have under {config.min_trained_fraction:.0%} of their tokens trained")

    packed_rows = _packed_row_count(train_rows, config) if config.packing and data.task == "sft" else None
    steps_per_epoch, total_steps = steps_for(len(train_rows), config, packed_rows)
    eval_steps = config.eval_steps or max(1, total_steps // 10)
    evaluations = total_steps // eval_steps if val_rows else 0
    trained = sum(sum(1 for l in r["labels"] if l != -100) for r in train_rows) if data.task == "sft" else len(train_rows)
    report.budget = budget(
        [len(r["input_ids"]) for r in train_rows],
        trained,
        sum(len(r["input_ids"]) for r in val_rows),
        config,
        loaded.total_params,
        loaded.trainable_params,
        steps_per_epoch,
        total_steps,
        evaluations,
    )
    report.budget.update(_memory_line(config, loaded, train_rows))
    out.mkdir(parents=True, exist_ok=True)
    (out / "preflight.json").write_bytes(
        orjson.dumps({"train": report.to_dict(), "val": val_report.to_dict(), "val_source": data.val_source}, option=orjson.OPT_INDENT_2)
    )
    for line in report.lines():
        echo(line)
    return Prepared(config, data, loaded, train_rows, val_rows, report, val_report, eval_steps)


def _train(
    recipe: Recipe, config: TrainConfig, data: TrainData, key: dict, out: Path, resume: bool, echo: Echo, track: bool, extra_callbacks: list
) -> TrainResult:
    t0 = time.perf_counter()
    p = prepare(config, data, out, echo)
    report, val_report, loaded, train_rows = p.report, p.val_report, p.loaded, p.train_rows
    trainer, watcher, counter, early = build_trainer(p, out, echo, track, extra_callbacks)
    tracking = _start_tracking(recipe, config, key, out) if track else None
    try:
        if tracking:
            import mlflow

            mlflow.log_dict(report.to_dict() | {"val": val_report.to_dict()}, "preflight.json")
        train_start = time.perf_counter()
        last = _last_checkpoint(out) if resume else None
        if last:
            echo(f"Resuming from {last}")
        try:
            output = trainer.train(resume_from_checkpoint=str(last) if last else None)
        except KeyboardInterrupt as e:
            saved = _save_emergency_checkpoint(trainer)
            raise TrainingInterrupted(
                f"Training was interrupted at step {trainer.state.global_step}. {saved} Run the same command again to resume."
            ) from e
        train_seconds = time.perf_counter() - train_start
        summary = _finish(config, data, loaded, trainer, watcher, counter, early, train_rows, output, train_seconds, out, report, echo)
        summary["seconds_total"] = round(time.perf_counter() - t0, 1)
        summary["data"] = {
            "train": [str(p) for p in data.paths],
            "val": data.val_source,
            "fingerprint": key["key"],
            "curation": key["curation"],
        }
        if tracking:
            summary["mlflow"] = _log_results(tracking, summary, out, config)
        (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        return TrainResult(out, summary, preflight=report, trainer=trainer)
    finally:
        if tracking:
            import mlflow

            mlflow.end_run("FINISHED" if (out / "summary.json").is_file() else "FAILED")


def _row(ex) -> dict:
    return {
        "id": ex.id,
        "input_ids": ex.input_ids,
        "assistant_masks": ex.assistant_masks,
        "labels": [t if m else -100 for t, m in zip(ex.input_ids, ex.assistant_masks)],
    }


def _packed_row_count(rows: list[dict], config: TrainConfig) -> int:
    """Rows best-fit-decreasing packing makes (an estimate good to a few percent for the step count)."""
    total = sum(len(r["input_ids"]) for r in rows)
    return max(1, -(-total // config.max_seq_len))


def _memory_line(config: TrainConfig, loaded, rows: list[dict]) -> dict:
    try:
        from .memory import describe_model, estimate_memory
    except ImportError:
        return {}
    try:
        arch = describe_model(loaded.model)
        longest = min(config.max_seq_len, max(len(r["input_ids"]) for r in rows))
        mode = "lora" if config.method == "lora" else "full"
        est = estimate_memory(
            arch,
            mode,
            seq_len=longest,
            batch_size=config.per_device_train_batch_size,
            lora_r=config.lora_r,
            dtype="fp32",
            gradient_checkpointing=config.gradient_checkpointing,
        )
        return {"estimated_memory_gib": round(est.total / 2**30, 2)}
    except Exception:  # an estimate must never stop training
        return {}


def build_trainer(p: Prepared, out: Path, echo: Echo = print, track: bool = False, extra_callbacks: list | None = None):
    """The Trainer (TRL's SFTTrainer, or transformers' for classification) with curatune's callbacks;
    returns ``(trainer, overfit watcher, token counter, early-stopping callback or None)``."""
    import torch
    from datasets import Dataset
    from transformers import EarlyStoppingCallback

    from .callbacks import MetricsLog, OverfitWatcher, TokenCounter

    config, data, loaded, train_rows, val_rows, eval_steps = p.config, p.data, p.loaded, p.train_rows, p.val_rows, p.eval_steps
    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16)
    has_val = bool(val_rows)
    common = dict(
        # Always given: TRL's SFTConfig turns it on by default (about 30% slower); transformers 5 names it
        # activation_checkpointing (the old name warns).
        activation_checkpointing=config.gradient_checkpointing,
        output_dir=str(out / "checkpoints"),
        learning_rate=float(config.learning_rate),
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size or config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler_type,
        max_grad_norm=config.max_grad_norm,
        eval_strategy="steps" if has_val else "no",
        eval_steps=eval_steps,
        logging_steps=config.logging_steps or eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_val,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        neftune_noise_alpha=config.neftune_noise_alpha,
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        fp16=config.fp16,
        use_cpu=not cuda,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    watcher = OverfitWatcher(gap=config.overfit_gap, on_warning=lambda w: echo(f"warning (step {w['step']}): {w['message']}"))
    callbacks = [watcher, MetricsLog(out / "metrics.jsonl", mlflow_run=track), _ProgressEcho(echo), *(extra_callbacks or [])]
    early = None
    if has_val and config.early_stopping_patience:
        early = EarlyStoppingCallback(config.early_stopping_patience, config.early_stopping_threshold)
        callbacks.append(early)
    keep = ["input_ids", "labels"]
    train_ds = Dataset.from_list([{k: r[k] for k in keep} for r in train_rows])
    val_ds = Dataset.from_list([{k: r[k] for k in keep} for r in val_rows]) if has_val else None
    if data.task == "classification":
        from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

        args = TrainingArguments(**common)
        trainer = Trainer(
            model=loaded.model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            data_collator=DataCollatorWithPadding(loaded.tokenizer),
            processing_class=loaded.tokenizer,
            callbacks=callbacks,
        )
    else:
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(
            **common,
            max_length=config.max_seq_len,
            packing=config.packing,
            packing_strategy="bfd",
            completion_only_loss=False,
            assistant_only_loss=False,
            dataset_num_proc=None,
        )
        trainer = SFTTrainer(
            model=loaded.model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=val_ds,
            processing_class=loaded.tokenizer,
            callbacks=callbacks,
        )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints every log as a dict; curatune's own lines say what matters
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    return trainer, watcher, counter, early


class _ProgressEcho:
    """One line per evaluation: step, training loss, validation loss."""

    def __new__(cls, echo: Echo):
        from transformers import TrainerCallback

        class ProgressEcho(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "eval_loss" in logs:
                    echo(f"step {state.global_step}/{state.max_steps}: validation loss {logs['eval_loss']:.4f}")

        return ProgressEcho()


def _last_checkpoint(out: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / "checkpoints"
    return Path(get_last_checkpoint(str(folder))) if folder.is_dir() and get_last_checkpoint(str(folder)) else None


def _save_emergency_checkpoint(trainer) -> str:
    """A checkpoint at the step reached, so an interrupted run resumes where it stopped."""
    try:
        trainer._save_checkpoint(trainer.model, trial=None)
        return f"A checkpoint of step {trainer.state.global_step} is in {trainer.args.output_dir}."
    except Exception as e:  # the interruption may have left the model mid-step
        return f"No checkpoint could be saved now ({e}); the last saved one is used."


def _finish(
    config, data, loaded, trainer, watcher, counter, early, train_rows, output, train_seconds, out: Path, report: Preflight, echo: Echo
) -> dict:
    from .curves import plot_curves
    from .loss_rank import classifier_losses, example_losses, write_losses

    state = trainer.state
    stopped_early = bool(
        early and early.early_stopping_patience_counter >= config.early_stopping_patience and state.global_step < state.max_steps
    )
    best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1]) if state.best_model_checkpoint else None
    tokens = counter.summary()
    model = trainer.model
    pad = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    rank_start = time.perf_counter()
    ranked: list[dict] = []
    if config.rank_losses:
        losses = (classifier_losses if data.task == "classification" else example_losses)(model, train_rows, pad)
        ranked = write_losses([r["id"] for r in train_rows], losses, out / "losses.jsonl")
    rank_seconds = time.perf_counter() - rank_start
    plot_curves(
        out / "metrics.jsonl",
        out / "curves.png",
        best_step,
        state.global_step if stopped_early else None,
        watcher.warnings,
        title=f"{config.method} fine-tuning of {config.model}",
    )
    if config.save_model:
        model.save_pretrained(out / "model")
        loaded.tokenizer.save_pretrained(out / "model")
    evals = [{"step": p.step, "train_loss": p.train_loss, "eval_loss": p.eval_loss} for p in watcher.points]
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
        "model_dir": str(out / "model") if config.save_model else None,
    }
    echo(
        f"trained {state.global_step} steps in {train_seconds:.0f} s; best validation loss {state.best_metric} at step {best_step}"
        + (" (stopped early)" if stopped_early else "")
    )
    return summary


def _start_tracking(recipe: Recipe, config: TrainConfig, key: dict, out: Path):
    import mlflow

    from .tracking import flat_params, use_store

    uri = use_store(config.tracking_uri, recipe.runs_dir, config.experiment)
    run = mlflow.start_run(
        run_name=f"{recipe.name}/train",
        nested=mlflow.active_run() is not None,
        tags={"curatune.stage": "train", "curatune.version": __version__},
    )
    mlflow.log_params(flat_params({"train": config.resolved(), "data": recipe.data.model_dump(mode="json")}))
    mlflow.log_params({"dataset.fingerprint": key["key"], "dataset.curation_key": (key["curation"] or {}).get("key", "none")})
    mlflow.log_dict(key, "dataset_fingerprint.json")
    return {"uri": uri, "run_id": run.info.run_id, "experiment": config.experiment}


def _log_results(tracking: dict, summary: dict, out: Path, config: TrainConfig) -> dict:
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
    for name in ("train.yaml", "preflight.json", "curves.png", "losses.jsonl", "metrics.jsonl"):
        if (out / name).is_file():
            mlflow.log_artifact(str(out / name))
    if config.save_model and (out / "model").is_dir():
        mlflow.log_artifacts(str(out / "model"), "model")
    return tracking
