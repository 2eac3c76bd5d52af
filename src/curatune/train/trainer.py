"""The trainer, built and checked: the model loaded, the examples tokenised and checked, the steps planned
(:func:`prepare`), then TRL's ``SFTTrainer`` (or its preference trainers, :mod:`.preference`) or transformers'
``Trainer`` with curatune's callbacks (:func:`build_trainer`). Training (:mod:`.run`) and the range test
(:mod:`.lr_find`) both start here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config.train import PREFERENCE_TASKS, TrainConfig
from ..errors import InputError
from .data import TrainData
from .memory import describe_model, estimate_memory
from .model import load_model
from .preference import build_preference_trainer, trl_rows
from .preflight import PairExample, Preflight, budget, prepare_classification, prepare_pairs, prepare_sft, steps_for

Echo = Callable[[str], None]


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
    train_pairs: list[PairExample] | None = None  # a preference task's checked examples (train_rows are TRL's rows of them)
    val_pairs: list[PairExample] | None = None

    @property
    def preference(self) -> bool:
        return self.data.task in PREFERENCE_TASKS


def prepare(config: TrainConfig, data: TrainData, preflight: Path, echo: Echo = print) -> Prepared:
    """Load the model, tokenise and check the examples, plan the steps; write the checks to ``preflight`` (a JSON file)."""
    start = time.perf_counter()
    echo(f"loading {config.model} for {config.method} fine-tuning")  # a GGUF file takes a while to convert, with no bar
    loaded = load_model(config, data.task, data.labels)
    echo(f"loaded in {time.perf_counter() - start:.0f} s: {loaded.total_params:,} parameters, {loaded.trainable_params:,} trained")
    model, tokenizer = loaded.model, loaded.tokenizer
    report, val_report = Preflight(), Preflight()
    report.read_problems = [{"source": r.source, "line": r.line, "reason": r.reason, "detail": r.detail} for r in data.rejects]
    train_pairs = val_pairs = None
    if data.task in PREFERENCE_TASKS:
        train_pairs = prepare_pairs(data.train, tokenizer, config, report)
        val_pairs = prepare_pairs(data.val, tokenizer, config, val_report)
        train_rows, val_rows = trl_rows(train_pairs, data.task), trl_rows(val_pairs, data.task)
    elif data.task == "classification":
        label2id = {label: i for i, label in enumerate(data.labels)}
        train_rows = prepare_classification(data.train, tokenizer, config, label2id, report)
        val_rows = prepare_classification(data.val, tokenizer, config, label2id, val_report)
    else:
        eos = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else tokenizer.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        train_rows = [_row(e) for e in prepare_sft(data.train, tokenizer, config, report, eos_ids)]
        val_rows = [_row(e) for e in prepare_sft(data.val, tokenizer, config, val_report)]
    if not train_rows:
        raise InputError(
            f"No training example is left after the checks (see {preflight}): {len(report.too_long)} too long, {len(report.no_trained)} "
            "with no assistant tokens."
        )
    if data.val and not val_rows:
        raise InputError(
            f"No validation example is left after the checks ({len(val_report.too_long)} too long); raise max_seq_len or give other "
            "validation data."
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
    if train_pairs is not None and val_pairs is not None:  # each side is a sequence of its own
        lengths = [ex.tokens(side) for ex in train_pairs for side in ex.answers]
        trained = sum(n for ex in train_pairs for n in ex.answer_tokens.values())
        val_tokens = sum(ex.tokens(side) for ex in val_pairs for side in ex.answers)
    else:
        lengths = [len(r["input_ids"]) for r in train_rows]
        trained = sum(sum(1 for t in r["labels"] if t != -100) for r in train_rows) if data.task == "sft" else len(train_rows)
        val_tokens = sum(len(r["input_ids"]) for r in val_rows)
    report.budget = budget(
        lengths,
        trained_tokens=trained,
        val_tokens=val_tokens,
        total_params=loaded.total_params,
        trainable_params=loaded.trainable_params,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        evaluations=evaluations,
    )
    report.budget.update(_memory_line(config, loaded, lengths))
    preflight.parent.mkdir(parents=True, exist_ok=True)
    preflight.write_bytes(
        orjson.dumps({"train": report.to_dict(), "val": val_report.to_dict(), "val_source": data.val_source}, option=orjson.OPT_INDENT_2)
    )
    for line in report.lines():
        echo(line)
    return Prepared(config, data, loaded, train_rows, val_rows, report, val_report, eval_steps, train_pairs, val_pairs)


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


def _memory_line(config: TrainConfig, loaded, lengths: list[int]) -> dict:
    try:
        arch = describe_model(loaded.model)
        longest = min(config.max_seq_len, max(lengths))
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


@dataclass
class Built:
    """A trainer and the callbacks whose findings the summary reads."""

    trainer: Any
    watcher: Any  # the OverfitWatcher
    counter: Any  # the TokenCounter (the trainer's data collator)
    early: Any = None  # the EarlyStoppingCallback, when early stopping is on


def build_trainer(
    p: Prepared, checkpoints: Path, metrics_log: Path, echo: Echo = print, track: bool = False, extra_callbacks: list | None = None
) -> Built:
    """The Trainer (TRL's SFTTrainer, or transformers' for classification) with curatune's callbacks, saving
    into ``checkpoints`` and logging to ``metrics_log``."""
    import torch
    from datasets import Dataset
    from transformers import EarlyStoppingCallback

    from .callbacks import MetricsLog, OverfitWatcher, PreferenceWatcher, TokenCounter

    config, data, loaded, train_rows, val_rows, eval_steps = p.config, p.data, p.loaded, p.train_rows, p.val_rows, p.eval_steps
    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16)
    has_val = bool(val_rows)
    common: dict[str, Any] = dict(
        # Always given: TRL's SFTConfig turns it on by default (about 30% slower); transformers 5 names it
        # activation_checkpointing (the old name warns).
        activation_checkpointing=config.gradient_checkpointing,
        output_dir=str(checkpoints),
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
    warn = lambda w: echo(f"warning (step {w['step']}): {w['message']}")  # noqa: E731
    watcher = (PreferenceWatcher if p.preference else OverfitWatcher)(gap=config.overfit_gap, on_warning=warn)
    callbacks = [watcher, MetricsLog(metrics_log, mlflow_run=track), _ProgressEcho(echo), *(extra_callbacks or [])]
    early = None
    if has_val and config.early_stopping_patience:
        early = EarlyStoppingCallback(config.early_stopping_patience, config.early_stopping_threshold)
        callbacks.append(early)
    keep = ["input_ids", "labels"]
    if p.preference:
        trainer = build_preference_trainer(data.task, config, loaded, train_rows, val_rows, common, callbacks)
    elif data.task == "classification":
        train_ds = Dataset.from_list([{k: r[k] for k in keep} for r in train_rows])
        val_ds = Dataset.from_list([{k: r[k] for k in keep} for r in val_rows]) if has_val else None
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

        train_ds = Dataset.from_list([{k: r[k] for k in keep} for r in train_rows])
        val_ds = Dataset.from_list([{k: r[k] for k in keep} for r in val_rows]) if has_val else None
        args = SFTConfig(
            **common,
            max_length=config.max_seq_len,
            packing=config.packing,
            packing_strategy="bfd",
            completion_only_loss=False,
            assistant_only_loss=False,
            dataset_num_proc=None,
            # Under DDP: a causal LM uses every trainable weight in each step, so the search for unused ones is a wasted pass.
            ddp_find_unused_parameters=False,
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
    if p.preference:  # TRL applied the adapter: count now
        loaded.trainable_params = sum(q.numel() for q in trainer.model.parameters() if q.requires_grad)
        loaded.total_params = sum(q.numel() for q in trainer.model.parameters())
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    return Built(trainer, watcher, counter, early)


PROGRESS_EVERY_SECONDS = 30.0


class _ProgressEcho:
    """One line per evaluation (step, validation loss), and between evaluations a line every ``every`` seconds.

    On a CPU the first evaluation can be many minutes away: without the periodic line a newcomer sees nothing move.
    """

    def __new__(cls, echo: Echo, every: float = PROGRESS_EVERY_SECONDS, clock=time.monotonic):
        from transformers import TrainerCallback

        class ProgressEcho(TrainerCallback):
            def __init__(self):
                self.start = self.last = clock()

            def on_train_begin(self, args, state, control, **kwargs):
                self.start = self.last = clock()

            def on_step_end(self, args, state, control, **kwargs):
                now = clock()
                if now - self.last < every or state.global_step >= state.max_steps:
                    return
                self.last = now
                done = state.global_step / max(1, state.max_steps)
                left = (now - self.start) * (1 - done) / done if done else 0.0
                loss = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), None)
                echo(
                    f"step {state.global_step}/{state.max_steps} ({done:.0%}), {now - self.start:.0f} s so far, about {left:.0f} s left"
                    + (f"; training loss {loss:.4f}" if loss is not None else "")
                )

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "eval_loss" in logs:
                    self.last = clock()
                    echo(f"step {state.global_step}/{state.max_steps}: validation loss {logs['eval_loss']:.4f}")

        return ProgressEcho()
