"""``curatune lr-find``: the learning-rate range test (Smith, 2015; fastai's ``lr_find``).

The model trains for at most ``num_steps`` steps (and at most ``num_train_epochs``
passes over the data) while the learning rate grows exponentially from
``start_lr`` to ``end_lr``, with AdamW as training uses it (the recipe's weight
decay, gradient clipping and accumulation); the loss of each step is
smoothed (exponential moving average with bias correction) and the test stops
early once the smoothed loss passes ``diverge`` times its minimum. The weights
are then put back exactly as they were, so the test leaves no trace on the model.

Two suggestions are read off the smoothed curve (loss against log learning rate):

- ``min_div_10``: the rate at the minimum, divided by ten (at the minimum the
  rate is already too high to train with);
- ``steepest``: where the loss falls fastest, before its minimum (the first
  tenth of the points is skipped: the average there is still mostly its start).

``min_div_10`` is the default pick, the one ``learning_rate: auto`` uses: against
the best peak rate that a search found (bench/bench_tune.py, 5 seeds) it was within
3x on every seed, steepest descent on 3 of 5, too low for a short run with warm-up
and decay. ``--pick steepest`` chooses the other.

```
runs/<name>/lr_find/
  lr_find.json     settings, key, every point (rate, loss, smoothed loss) and the suggestions
  lr_find.png      the curve on a log axis, suggestions marked
  preflight.json   the same checks as training
```

A finished test with the same key (data, train section but its learning rate,
test settings) is reused rather than run again: the lr-find stage
(:mod:`curatune.stages.lr_find`) decides, and :func:`read_result` reads it back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..config.train import PREFERENCE_TASKS, TrainConfig
from ..errors import InputError, RecipeError
from ..run_folder import LrFindFolder
from .data import TrainData
from .trainer import build_trainer, prepare

Echo = Callable[[str], None]

PICKS = ("min_div_10", "steepest")
DEFAULT_PICK = "min_div_10"


@dataclass
class RangeTestSettings:
    start_lr: float = 1e-7
    """The first learning rate."""
    end_lr: float = 10.0
    """The last learning rate (reached only when the loss has not diverged before)."""
    num_steps: int = 100
    """Optimiser steps at most; never more than ``num_train_epochs`` passes over the data (the test would memorise small data)."""
    beta: float = 0.9
    """Smoothing of the loss: weight of the running average.

    The average lags the loss by about ``beta / (1 - beta)`` steps: 9 steps at 0.9, under a decade of rate
    on the default ramp (100 steps over 8 decades). fastai's 0.98 lags 49 steps, half the test, which moves
    both suggestions late (measured in bench/RESULTS.md, issue 6)."""
    diverge: float = 4.0
    """Stop once the smoothed loss is this many times its minimum."""
    skip_start: float = 0.1
    """Share of the first points that ``steepest`` ignores."""

    def check(self) -> None:
        problems = []
        if not 0 < self.start_lr < self.end_lr:
            problems.append(f"start_lr ({self.start_lr}) must be above 0 and below end_lr ({self.end_lr})")
        if self.num_steps < 5:
            problems.append(f"num_steps must be at least 5 (got {self.num_steps}); 100 is usual")
        if not 0 <= self.beta < 1:
            problems.append(f"beta must be in [0, 1) (got {self.beta}); 0.9 is the default")
        if self.diverge <= 1:
            problems.append(f"diverge must be above 1 (got {self.diverge}); 4 is usual")
        if problems:
            raise RecipeError([f"lr-find: {p}." for p in problems])


@dataclass
class Curve:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    diverged: bool


@dataclass
class Suggestion:
    steepest: float
    min_div_10: float
    min_loss_lr: float
    steepest_index: int
    min_index: int


@dataclass
class LRFindResult:
    folder: Path
    curve: Curve
    suggestion: Suggestion
    settings: RangeTestSettings
    pick: str = DEFAULT_PICK
    steps_planned: int = 0
    seconds: float = 0.0
    reused: bool = False
    key: str = ""
    trainer: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def learning_rate(self) -> float:
        """The suggestion ``pick`` names."""
        return getattr(self.suggestion, self.pick)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "learning_rate": self.learning_rate,
            "pick": self.pick,
            "suggestions": {
                "steepest": self.suggestion.steepest,
                "min_div_10": self.suggestion.min_div_10,
                "min_loss_lr": self.suggestion.min_loss_lr,
            },
            "settings": asdict(self.settings),
            "steps_planned": self.steps_planned,
            "steps_run": len(self.curve.lrs),
            "diverged": self.curve.diverged,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
            "points": [
                {"lr": lr, "loss": loss, "smoothed": s} for lr, loss, s in zip(self.curve.lrs, self.curve.losses, self.curve.smoothed)
            ],
            "index": {"steepest": self.suggestion.steepest_index, "min": self.suggestion.min_index},
        }


def check_pick(pick: str) -> None:
    if pick not in PICKS:
        raise RecipeError([f"Unknown suggestion {pick!r}; choose one of {', '.join(PICKS)}."])


def lr_find(
    config: TrainConfig, data: TrainData, folder: LrFindFolder, settings: RangeTestSettings, pick: str, key: str, echo: Echo = print
) -> LRFindResult:
    """Run the range test on ``config``'s model and ``data``; write ``lr_find.json`` (with ``key``) and the plot into ``folder``.

    ``config``'s learning rate plays no part in the test (the trainer only needs a number there).
    """
    if data.task in PREFERENCE_TASKS:
        raise InputError(
            f"The range test follows the supervised loss as the learning rate grows; task {data.task} trains on another loss, whose "
            "range test is not validated. Give train.learning_rate (5e-6 to 5e-5 for full fine-tuning, 5e-5 to 5e-4 for LoRA are usual)."
        )
    t0 = time.perf_counter()
    p = prepare(config, data, folder.preflight, echo)
    trainer = build_trainer(p, folder.checkpoints, folder.metrics, lambda s: None).trainer
    passes = max(1, math.ceil(config.num_train_epochs))
    planned = min(settings.num_steps, int(p.report.budget["steps_per_epoch"]) * passes)
    notes = []
    if planned < settings.num_steps:
        notes.append(
            f"{planned} steps instead of {settings.num_steps}: {passes} passes over the training data (the training's epochs); "
            "more would show the test each example more often than training will"
        )
    if planned < 30:
        notes.append(f"only {planned} steps: the curve is coarse and the suggestion rough")
    echo(f"Range test: {planned} steps, learning rate {settings.start_lr:g} to {settings.end_lr:g}")
    curve = range_test(
        trainer,
        settings.start_lr,
        settings.end_lr,
        planned,
        beta=settings.beta,
        diverge=settings.diverge,
        max_grad_norm=config.max_grad_norm,
        weight_decay=config.weight_decay,
        accumulation=config.gradient_accumulation_steps,
    )
    suggestion = suggest(curve, settings.skip_start)
    problem = cannot_tell(curve, suggestion, settings)
    if problem:
        raise RecipeError([f"lr-find cannot suggest a learning rate: {problem}"])
    result = LRFindResult(
        folder.root, curve, suggestion, settings, pick, planned, time.perf_counter() - t0, key=key, trainer=trainer, notes=notes
    )
    if suggestion.steepest_index < 0:
        result.notes.append("the loss fell nowhere before its minimum: steepest is min_div_10; widen the range or check the data")
    write_result(result, folder)
    for n in result.notes:
        echo(f"note: {n}")
    return result


def range_test(
    trainer,
    start_lr: float,
    end_lr: float,
    num_steps: int,
    *,
    beta: float = 0.9,
    diverge: float = 4.0,
    max_grad_norm: float | None = 1.0,
    weight_decay: float = 0.0,
    accumulation: int = 1,
) -> Curve:
    """Train ``trainer.model`` with an exponentially growing rate on its training batches; put every weight back after.

    The loss is the trainer's own (``compute_loss``: the assistant-token mask, the classifier's labels).
    """
    import torch

    model = trainer.model
    # Only what the optimiser can change is copied (frozen weights never move): a LoRA test costs no second model.
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [t.detach().clone() for t in [*params, *model.buffers()]]
    was_training = model.training
    rng = torch.get_rng_state()
    optimizer = torch.optim.AdamW(params, lr=start_lr, weight_decay=weight_decay)
    ratio = (end_lr / start_lr) ** (1 / max(1, num_steps - 1))
    batches = _cycle(trainer.get_train_dataloader())
    device = next(model.parameters()).device
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, best, diverged = 0.0, math.inf, False
    try:
        model.train()
        for step in range(num_steps):
            lr = start_lr * ratio**step
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = 0.0
            for _ in range(accumulation):
                batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in next(batches).items()}
                part = trainer.compute_loss(model, batch) / accumulation
                part.backward()
                loss += float(part.detach())
            if not math.isfinite(loss):
                diverged = True
                break
            if max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            average = beta * average + (1 - beta) * loss
            value = average / (1 - beta ** (step + 1))
            lrs.append(lr)
            losses.append(loss)
            smoothed.append(value)
            best = min(best, value)
            if step > 0 and value > diverge * best:
                diverged = True
                break
    finally:
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for tensor, value in zip([*params, *model.buffers()], saved):
                tensor.copy_(value)
        torch.set_rng_state(rng)
        model.train(was_training)
    if len(lrs) < 3:
        raise InputError(
            f"The range test diverged after {len(lrs)} steps, at learning rate {start_lr * ratio ** len(lrs):.3g}; lower start_lr (it was "
            f"{start_lr:g})."
        )
    return Curve(lrs, losses, smoothed, diverged)


def _cycle(loader) -> Iterator[dict]:
    """Batches for as many steps as asked: a new pass (reshuffled) when one ends."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise InputError("The training data loader gave no batch; there is nothing to run the range test on.")


def suggest(curve: Curve, skip_start: float = 0.1) -> Suggestion:
    """Steepest descent of the smoothed loss against log rate before its minimum, and the minimum's rate over ten."""
    lrs, smoothed = np.asarray(curve.lrs), np.asarray(curve.smoothed)
    lowest = int(np.argmin(smoothed))
    min_div_10 = float(lrs[lowest] / 10)
    first = int(len(lrs) * skip_start)
    # The points after the minimum describe the divergence, not the descent.
    if lowest - first < 2:
        return Suggestion(min_div_10, min_div_10, float(lrs[lowest]), -1, lowest)
    slope = np.gradient(smoothed, np.log10(lrs))
    steepest = first + int(np.argmin(slope[first : lowest + 1]))
    return Suggestion(float(lrs[steepest]), min_div_10, float(lrs[lowest]), steepest, lowest)


def cannot_tell(curve: Curve, suggestion: Suggestion, settings: RangeTestSettings) -> str | None:
    """Why the curve cannot give a rate (with the setting to change), or None.

    A suggestion is never outside the tested range: a minimum in the range's first decade would give
    ``min_div_10`` below ``start_lr``, a rate the test never tried (12 steps suggested 1e-8 from a start of 1e-7).
    And the smoothed loss lags the loss by about ``beta / (1 - beta)`` steps: a test not several times that
    long shows the smoothing's start, not the loss's minimum.
    """
    lag = settings.beta / (1 - settings.beta)
    needed = math.ceil(round(3 * lag, 6))  # (0.9 / 0.1 is 9.000000000000002)
    points = len(curve.lrs)
    if points < needed:
        ran = f"{points} steps ran" + (" before the loss diverged" if curve.diverged else "")
        return (
            f"the test is too short to tell: {ran}, and the smoothed loss lags the loss by about {lag:.0f} steps "
            f"(beta {settings.beta:g}), so at least {needed} are needed. Fix: raise num_steps (100 is usual), give the "
            "training more data or epochs, or lower beta"
        )
    if suggestion.min_div_10 < curve.lrs[0]:
        return (
            f"the lowest loss came at {suggestion.min_loss_lr:.2g}, within a factor of ten of the first rate tried "
            f"({curve.lrs[0]:.2g}): the rate to train with is below the tested range. Fix: lower start_lr "
            f"(to {curve.lrs[0] / 100:.0e}, say), or check that the loss falls at all (the data, the model)"
        )
    return None


def write_result(result: LRFindResult, folder: LrFindFolder) -> None:
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.result.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    plot_range_test(result, folder.plot)


def plot_range_test(result: LRFindResult, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, s = result.curve, result.suggestion
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(c.lrs, c.losses, color="#1f77b4", alpha=0.25, label="loss per step")
    ax.plot(c.lrs, c.smoothed, color="#1f77b4", label="smoothed loss")
    if s.steepest_index >= 0:
        ax.plot(
            [s.steepest], [c.smoothed[s.steepest_index]], "o", color="#d62728", markersize=8, label=f"steepest descent: {s.steepest:.2e}"
        )
    ax.axvline(s.min_div_10, color="#2ca02c", linestyle="--", label=f"minimum / 10: {s.min_div_10:.2e}")
    ax.axvline(result.learning_rate, color="#d62728", linestyle=":", alpha=0.6, label=f"suggested ({result.pick})")
    ax.set_xscale("log")
    top = max(c.smoothed[: s.min_index + 1] or c.smoothed)
    ax.set_ylim(min(c.smoothed) * 0.95, max(top * 1.3, min(c.smoothed) * 1.5))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate range test" + (" (stopped: loss diverged)" if c.diverged else ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def read_result(folder: LrFindFolder, pick: str) -> LRFindResult:
    """The finished test in ``folder``, read back (``reused``), with ``pick`` as its suggestion."""
    stored = orjson.loads(folder.result.read_bytes())
    return _from_json(folder.root, stored, pick)


def _from_json(out: Path, stored: dict, pick: str) -> LRFindResult:
    points = stored["points"]
    curve = Curve([p["lr"] for p in points], [p["loss"] for p in points], [p["smoothed"] for p in points], stored["diverged"])
    sug = stored["suggestions"]
    suggestion = Suggestion(sug["steepest"], sug["min_div_10"], sug["min_loss_lr"], stored["index"]["steepest"], stored["index"]["min"])
    return LRFindResult(
        out,
        curve,
        suggestion,
        RangeTestSettings(**stored["settings"]),
        pick,
        stored["steps_planned"],
        stored["seconds"],
        reused=True,
        key=stored["key"],
        notes=stored["notes"],
    )
