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


@dataclass
class PreferencePoint:
    step: int
    train_margin: float | None
    eval_margin: float
    eval_accuracy: float | None


@dataclass
class PreferenceWatcher(OverfitWatcher):
    """The loss watch of :class:`OverfitWatcher` (a preference loss is in nats per pair), and the rewards on validation pairs.

    Warns (``margin_falling``) when the validation reward margin fell for ``rising`` evaluations in a row while
    the training margin rose: the model is learning to tell the training pairs apart, not the preference.
    """

    reward_points: list[PreferencePoint] = field(default_factory=list)
    _recent_margins: list[float] = field(default_factory=list)

    def on_log(self, args, state, control, logs=None, **kwargs):
        super().on_log(args, state, control, logs=logs, **kwargs)
        if logs and "rewards/margins" in logs and "eval_loss" not in logs:
            self._recent_margins.append(float(logs["rewards/margins"]))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        super().on_evaluate(args, state, control, metrics=metrics, **kwargs)
        if not metrics or "eval_rewards/margins" not in metrics:
            return
        train = sum(self._recent_margins) / len(self._recent_margins) if self._recent_margins else None
        self._recent_margins = []
        accuracy = metrics.get("eval_rewards/accuracies")
        self.reward_points.append(
            PreferencePoint(state.global_step, train, float(metrics["eval_rewards/margins"]), None if accuracy is None else float(accuracy))
        )
        window = self.reward_points[-(self.rising + 1) :]
        if len(window) < self.rising + 1 or any(p.train_margin is None for p in window):
            return
        val_down = all(b.eval_margin < a.eval_margin for a, b in zip(window, window[1:]))
        train_up = all(b.train_margin > a.train_margin for a, b in zip(window, window[1:]))  # type: ignore[operator]
        if val_down and train_up:
            self._warn(
                state.global_step,
                "margin_falling",
                f"the validation reward margin fell for {self.rising} evaluations "
                f"({window[0].eval_margin:.3f} -> {window[-1].eval_margin:.3f}) while the training margin rose "
                f"({window[0].train_margin:.3f} -> {window[-1].train_margin:.3f}): overfitting",
            )


class MetricsLog(TrainerCallback):
    """Every log line to ``metrics.jsonl`` and, when a run is active, to MLflow (step-indexed)."""

    def __init__(self, path: Path, mlflow_run: bool = False):
        self.path = path
        self.mlflow_run = mlflow_run
        path.parent.mkdir(parents=True, exist_ok=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:  # with several processes, every rank logs the same (gathered) numbers
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
        if "input_ids" in examples[0]:
            real = sum(len(e["input_ids"]) for e in examples)
            processed = int(batch["input_ids"].numel())
        else:  # a preference batch: both sides (and KTO's KL sequences) as rows of their own
            sequences = [k for k in batch if k.endswith("input_ids") and not k.startswith("prompt")]
            processed = sum(int(batch[k].numel()) for k in sequences)
            real = sum(int(batch[k.replace("input_ids", "attention_mask")].sum()) for k in sequences)
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

    def add_other_ranks(self) -> None:
        """The counts of every process of a launch summed (every rank must call it): each counted its own batches."""
        from ..distributed import sum_over_ranks

        self.tokens, self.padding, self.batches = sum_over_ranks([self.tokens, self.padding, self.batches])

    def reset(self) -> None:
        self.tokens = self.padding = self.batches = 0
        self.sizes = []
