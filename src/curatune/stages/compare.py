"""``curatune compare RUN...``: runs side by side, and whether the difference between them is real.

For each run: its data funnel (records in, kept), its training settings and
outcome, and its fine-tuned model's per-example scores on the held-out set
(``eval/generations.jsonl``). Each run's figures are the ones its own evaluation
wrote (``eval/metrics.json``: chrF over the corpus, the loss over every answer
token), so that compare and the run's report agree; a metric that file lacks is
the mean of the per-example scores. Runs evaluated on the same examples are compared
pairwise against the first run with a paired bootstrap over the per-example scores
of the examples they share, which is the ablation that says whether curation paid:
the same training on raw data and on curated data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from ..config.train import PREFERENCE_TASKS
from ..errors import InputError
from ..evaluate.metrics import bootstrap_ci, paired_bootstrap_diff
from ..report.build import _fmt, read_json, verdict
from ..run_folder import RunFolder

# Per-example metrics compared, and whether higher is better. The last three are a preference run's, on held-out pairs
# (curatune.evaluate.pairs): the reward margin against the base, its sign, and whether the model finds chosen more likely.
METRICS = {
    "exact_match": True,
    "token_f1": True,
    "chrf": True,
    "rougeL": True,
    "loss": False,
    "reward_margin": True,
    "reward_accuracy": True,
    "preference_accuracy": True,
}
SETTINGS = (
    "task",
    "method",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "lora_r",
    "dropout",
    "weight_decay",
    "packing",
    "beta",
)


@dataclass
class RunView:
    name: str
    path: Path
    funnel: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # example id -> metric -> value (tuned model)
    evaluated: dict[str, dict[str, float]] = field(default_factory=dict)  # eval/metrics.json: metric -> the tuned model's interval


def load_run(path: str | Path) -> RunView:
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"'{p}' is not a run folder. Give folders written by curatune run (runs/NAME).")
    run = RunFolder(p)
    view = RunView(p.name, p)
    stats = read_json(run.stats)
    if stats:
        view.funnel = {"input": stats["input"], "kept": stats["kept"], "dropped": stats["dropped"]}
    if run.train.config.is_file():
        cfg = yaml.safe_load(run.train.config.read_text(encoding="utf-8"))
        view.settings = {k: cfg.get(k) for k in SETTINGS}
    summary = read_json(run.train.summary)
    if summary and view.settings:
        view.settings["task"] = summary.get("task", view.settings.get("task"))  # what task: auto became
        if view.settings["task"] not in PREFERENCE_TASKS:
            view.settings.pop("beta", None)  # every train.yaml has it (a default); it means something for a preference task only
    if summary:
        view.training = {
            "steps": summary.get("steps"),
            "best_eval_loss": summary.get("best_eval_loss"),
            "stopped_early": summary.get("stopped_early"),
            "train_examples": summary.get("train_examples"),
            **({"train_pairs": summary["train_pairs"]} if summary.get("train_pairs") else {}),
        }
    metrics = read_json(run.eval.metrics) or {}
    for name, m in (metrics.get("metrics") or {}).items():
        tuned = m.get("tuned") if isinstance(m, dict) else None
        if name in METRICS and isinstance(tuned, dict) and tuned.get("estimate") is not None:
            view.evaluated[name] = {k: tuned[k] for k in ("estimate", "low", "high")}
    gens = run.eval.generations
    if gens.is_file():
        for line in gens.read_bytes().splitlines():
            row = orjson.loads(line)
            view.scores[str(row["id"])] = {
                k: float(v) for k, v in row.get("metrics", {}).get("tuned", {}).items() if k in METRICS and v is not None
            }
    return view


def compare_runs(paths: Sequence[str | Path], seed: int = 0) -> dict[str, Any]:
    """Every run's funnel, settings and mean scores; each later run against the first on shared examples."""
    if len(paths) < 2:
        raise InputError("compare needs at least two run folders, e.g. curatune compare runs/raw runs/curated")
    views = [load_run(p) for p in paths]
    first = views[0]
    out: dict[str, Any] = {"runs": [], "pairs": []}
    for v in views:
        means: dict[str, dict[str, Any]] = {}
        for metric in METRICS:
            values = [s[metric] for s in v.scores.values() if metric in s]
            if metric in v.evaluated:
                means[metric] = {**v.evaluated[metric], "source": "eval/metrics.json"}
            elif values:
                ci = bootstrap_ci(values, seed=seed)
                means[metric] = {"estimate": ci.estimate, "low": ci.low, "high": ci.high, "source": "mean of eval/generations.jsonl"}
        out["runs"].append(
            {
                "name": v.name,
                "path": str(v.path),
                "funnel": v.funnel,
                "settings": v.settings,
                "training": v.training,
                "examples": len(v.scores),
                "metrics": means,
            }
        )
    for v in views[1:]:
        shared = sorted(set(first.scores) & set(v.scores))
        pair: dict[str, Any] = {"a": first.name, "b": v.name, "shared_examples": len(shared), "metrics": {}}
        for metric, higher in METRICS.items():
            ids = [i for i in shared if metric in first.scores[i] and metric in v.scores[i]]
            if len(ids) < 2:
                continue
            a = np.array([first.scores[i][metric] for i in ids])
            b = np.array([v.scores[i][metric] for i in ids])
            d = paired_bootstrap_diff(a, b, seed=seed)
            pair["metrics"][metric] = {
                "difference": d.difference,
                "low": d.low,
                "high": d.high,
                "b_better_fraction": d.b_better_fraction,
                "higher_is_better": higher,
            }
        out["pairs"].append(pair)
    return out


def report_section(comparison: dict[str, Any]) -> dict[str, Any]:
    """The comparison as rows for the report's "did curation pay?" table (first pair only)."""
    runs = comparison["runs"]
    pair = comparison["pairs"][0] if comparison["pairs"] else None
    rows = []
    for metric in METRICS:
        if not all(metric in r["metrics"] for r in runs):
            continue
        cells = [
            f"{_fmt(r['metrics'][metric]['estimate'])} [{_fmt(r['metrics'][metric]['low'])}, {_fmt(r['metrics'][metric]['high'])}]"
            for r in runs
        ]
        diff, v = "", ""
        if pair and metric in pair["metrics"]:
            d = pair["metrics"][metric]
            diff = f"{_fmt(d['difference'])} [{_fmt(d['low'])}, {_fmt(d['high'])}]"
            v = verdict({"low": d["low"], "high": d["high"]}, d["higher_is_better"])
        rows.append({"metric": metric.replace("_", " "), "cells": cells, "difference": diff, "verdict": v})
    funnel = "; ".join(f"{r['name']}: {funnel_line(r)}" for r in runs)
    label = f"{pair['b']} − {pair['a']} (paired, per example)" if pair else ""
    notes = []
    for p in comparison["pairs"]:
        if not p["shared_examples"]:
            notes.append(
                f"{p['a']} and {p['b']} share no evaluated example (ids in eval/generations.jsonl): no paired difference. "
                "Evaluate both on the same test file to compare them example by example."
            )
    if any(r["metrics"].get(m, {}).get("source") == "eval/metrics.json" for r in runs for m in METRICS):
        notes.append(
            "Each run's figures are its own eval/metrics.json (chrF over the corpus, loss over every answer token); "
            "the paired difference is over per-example scores, so it need not equal the difference of the figures."
        )
    return {
        "runs": [r["name"] for r in runs],
        "rows": rows,
        "difference_label": label,
        "examples": pair["shared_examples"] if pair else 0,
        "funnel": funnel,
        "notes": notes,
    }


def funnel_line(run: dict[str, Any]) -> str:
    """One run's data and training in words: records in, kept, dropped, trained on, steps."""
    f, t = run["funnel"], run["training"]
    parts = []
    if f:
        parts.append(f"{f['input']:,} records in, {f['kept']:,} kept, {f['dropped']:,} dropped")
    else:
        parts.append("not curated here (no stats.json)")
    if t:
        trained = f"trained on {t['train_examples']:,} examples" if t.get("train_examples") is not None else "trained"
        parts.append(f"{trained}, {t.get('steps', '?')} steps" + (", stopped early" if t.get("stopped_early") else ""))
    else:
        parts.append("not trained here (no train/summary.json)")
    return ", ".join(parts)
