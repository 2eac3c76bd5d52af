"""Trainer callbacks: overfitting watched, every logged number kept, tokens counted."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from transformers import TrainerCallback


@dataclass
class EvalPoint:
    step: int
    train_loss: float | None
    eval_loss: float


@dataclass
class OverfitWatcher(TrainerCallback):
    """Warns when validation loss rises while training loss falls, or when the gap passes ``gap``.

    The training loss compared is the mean of the losses logged since the
    previous evaluation, so both numbers describe the same stretch of training.
    ``rising`` consecutive evaluations must agree before it warns: one noisy
    evaluation is not overfitting.
    """

    gap: float = 0.5
    rising: int = 2
    points: list[EvalPoint] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    _recent_train: list[float] = field(default_factory=list)
    on_warning: object = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and "eval_loss" not in logs:
            self._recent_train.append(float(logs["loss"]))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics:
            return
        train = sum(self._recent_train) / len(self._recent_train) if self._recent_train else None
        self._recent_train = []
        self.points.append(EvalPoint(state.global_step, train, float(metrics["eval_loss"])))
        self._check(state.global_step)

    def _check(self, step: int) -> None:
        p = self.points
        last = p[-1]
        if last.train_loss is not None and last.eval_loss - last.train_loss > self.gap:
            self._warn(
                step,
                "gap",
                f"validation loss {last.eval_loss:.3f} is {last.eval_loss - last.train_loss:.3f} above training loss {last.train_loss:.3f} "
                f"(threshold {self.gap})",
            )
        window = p[-(self.rising + 1) :]
        if len(window) == self.rising + 1 and all(
            b.train_loss is not None and a.train_loss is not None for a, b in zip(window, window[1:])
        ):
            val_up = all(b.eval_loss > a.eval_loss for a, b in zip(window, window[1:]))
            train_down = all(b.train_loss < a.train_loss for a, b in zip(window, window[1:]))  # type: ignore[operator]
            if val_up and train_down:
                self._warn(
                    step,
                    "diverging",
                    f"validation loss rose for {self.rising} evaluations ({window[0].eval_loss:.3f} -> {last.eval_loss:.3f}) while "
                    f"training loss fell ({window[0].train_loss:.3f} -> {last.train_loss:.3f}): overfitting",
                )

    def _warn(self, step: int, kind: str, message: str) -> None:
        w = {"step": step, "kind": kind, "message": message}
        self.warnings.append(w)
        if callable(self.on_warning):
            self.on_warning(w)


class MetricsLog(TrainerCallback):
    """Every log line to ``metrics.jsonl`` and, when a run is active, to MLflow (step-indexed)."""

    def __init__(self, path: Path, mlflow_run: bool = False):
        self.path = path
        self.mlflow_run = mlflow_run
        path.parent.mkdir(parents=True, exist_ok=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        numbers = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        with self.path.open("ab") as f:
            f.write(orjson.dumps({"step": state.global_step, "epoch": state.epoch, **numbers}) + b"\n")
        if self.mlflow_run and numbers:
            import mlflow

            mlflow.log_metrics({k.replace("/", "_"): v for k, v in numbers.items()}, step=state.global_step)


class TokenCounter:
    """Wraps a data collator to count processed tokens and padding, for the padding-waste figure."""

    def __init__(self, collator):
        self.collator = collator
        self.tokens = 0
        self.padding = 0
        self.batches = 0
        # Tokens of each batch in the order the batches were made. The loader makes one batch ahead of the
        # one trained on (accelerate looks ahead for the end of the data), and evaluation batches pass here
        # too, so ``processed_tokens`` counts more than the optimizer saw; see :meth:`stepped_tokens`.
        self.sizes: list[int] = []

    def __call__(self, examples):
        batch = self.collator(examples)
        real = sum(len(e["input_ids"]) for e in examples)
        processed = int(batch["input_ids"].numel())
        self.tokens += processed
        self.padding += processed - real
        self.batches += 1
        self.sizes.append(processed)
        return batch

    def stepped_tokens(self, batches: int) -> int:
        """Tokens of the first ``batches`` batches: what the optimizer trained on when no evaluation batch came between them."""
        return sum(self.sizes[:batches])

    def summary(self) -> dict:
        return {
            "processed_tokens": self.tokens,
            "padding_tokens": self.padding,
            "padding_waste": round(self.padding / self.tokens, 4) if self.tokens else 0.0,
        }

    def reset(self) -> None:
        self.tokens = self.padding = self.batches = 0
        self.sizes = []
