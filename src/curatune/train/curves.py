"""Training and validation loss curves as a PNG, with the best checkpoint and the early stop marked."""

from __future__ import annotations

from pathlib import Path

import orjson


def read_metrics(path: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, training loss) and (step, validation loss) points from ``metrics.jsonl``."""
    train: list[tuple[int, float]] = []
    val: list[tuple[int, float]] = []
    if not path.is_file():
        return train, val
    for line in path.read_bytes().splitlines():
        row = orjson.loads(line)
        if "loss" in row:
            train.append((row["step"], row["loss"]))
        if "eval_loss" in row:
            val.append((row["step"], row["eval_loss"]))
    return train, val


def plot_curves(
    metrics: Path,
    out: Path,
    best_step: int | None = None,
    stopped_early_at: int | None = None,
    warnings: list[dict] | None = None,
    title: str = "",
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = read_metrics(metrics)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="training loss", color="#1f77b4", alpha=0.8)
    if val:
        ax.plot(*zip(*val), label="validation loss", color="#d62728", marker="o", markersize=3)
    if best_step is not None:
        ax.axvline(best_step, color="#2ca02c", linestyle="--", label=f"best checkpoint (step {best_step})")
    if stopped_early_at is not None:
        ax.axvline(stopped_early_at, color="#7f7f7f", linestyle=":", label=f"early stop (step {stopped_early_at})")
    first_overfit = next((w for w in warnings or [] if w["kind"] == "diverging"), None)
    if first_overfit:
        ax.axvspan(first_overfit["step"], max(s for s, _ in (val or train)), color="#ff7f0e", alpha=0.12, label="overfitting warned")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per trained token)")
    ax.set_title(title or "training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
