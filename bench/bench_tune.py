"""Hyperparameter search: TPE with median pruning against grid and random search; the range test against the search.

Task: the tests' tiny Llama (hidden 32, 2 layers, byte-level tokenizer) fully
fine-tuned on arithmetic pairs ("3+4" -> "7"): 400 records, 10% held out for
validation, 40 steps of 8 examples, evaluated every 5 steps (cosine schedule,
3% warm-up, early stopping after 3 evaluations without improvement: the
defaults). A trial costs 2 to 4 s on one core, so the whole comparison runs in
minutes on CPU.

Space: ``learning_rate`` log-uniform in [1e-4, 1e-1] and ``dropout`` uniform in
[0, 0.2]. Every strategy gets the same budget, 9 trials; the grid is 3 x 3
(learning rate 1e-4, 3.2e-3, 0.1; dropout 0, 0.1, 0.2).

Strategies: ``grid``, ``random``, ``tpe`` (no pruning) and ``tpe+median``
(curatune's defaults: 3 random start-up trials, median pruning after 2
completed trials, never at the first evaluation). Each seed sets both the
sampler's seed and ``train.seed`` (weights of nothing new here, but data order
and dropout), so the grid's results vary with the seed too.

Reported per strategy, mean over seeds: the best validation loss reached, wall
time, compute (optimiser steps actually trained, pruned trials counted up to
where they stopped), and the compute TPE+pruning spent until its best-so-far
was at least as good as the grid's final best on the same seed.

Then the range test (``lr_find`` with its defaults) on the same recipe: its
suggestions (minimum / 10, the default pick; steepest descent) against the learning rate of the
best trial of all strategies on that seed; the ratio is max(a/b, b/a).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_tune.py                       # 3 seeds x 4 strategies x 9 trials
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_tune.py --seeds 0 --trials 4  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_models import arithmetic  # noqa: E402  (tests/tiny_models.py: the tests' tiny model and data)

OUT = Path(__file__).resolve().parent / "out"

STRATEGIES = {
    "grid": {"sampler": "grid", "pruner": "none"},
    "random": {"sampler": "random", "pruner": "none"},
    "tpe": {"sampler": "tpe", "pruner": "none"},
    "tpe+median": {"sampler": "tpe", "pruner": "median"},
}
SPACE = {
    "learning_rate": {"type": "log_uniform", "low": 1e-4, "high": 1e-1, "grid_points": 3},
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.2, "grid_points": 3},
}


def raw_recipe(root: Path, data: Path, model: Path, seed: int, trials: int, strategy: str) -> dict:
    train = {
        "model": str(model),
        "method": "full",
        "max_steps": 40,
        "eval_steps": 5,
        "per_device_train_batch_size": 8,
        "max_seq_len": 64,
        "seed": seed,
        "save_model": False,
        "loss_rank_top": 0,
    }
    tune = {"space": SPACE, "n_trials": trials, "seed": seed, **STRATEGIES[strategy]}
    return {"name": f"{strategy}-s{seed}", "runs_dir": str(root / "runs"), "data": {"path": str(data)}, "train": train, "tune": tune}


def run_search(raw: dict) -> dict:
    from optuna.trial import TrialState

    from curatune.config.recipe import parse_recipe
    from curatune.stages.tune import tune

    t0 = time.perf_counter()
    res = tune(parse_recipe(raw), echo=lambda s: None, track=False)
    wall = time.perf_counter() - t0
    trials = [
        {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params, "steps": int(t.user_attrs.get("steps") or 0)}
        for t in res.study.trials
    ]
    best = res.summary["best"]
    return {
        "best_value": best["value"],
        "best_params": best["params"],
        "wall_s": round(wall, 1),
        "steps": res.summary["steps_trained"],
        "pruned": sum(1 for t in res.study.trials if t.state == TrialState.PRUNED),
        "trials": trials,
    }


def steps_to_reach(trials: list[dict], target: float) -> int | None:
    """Steps trained until the best-so-far was at least as good as ``target`` (trials in the order they ran)."""
    spent = 0
    for t in sorted(trials, key=lambda t: t["number"]):
        spent += t["steps"]
        if t["state"] == "COMPLETE" and t["value"] is not None and t["value"] <= target:
            return spent
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--trials", type=int, default=9)
    ap.add_argument("--out", default=str(OUT / "tune.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tune_") as tmp:
        results = run_all(Path(tmp), args)
    print_tables(results)


def run_all(root: Path, args) -> dict:
    from tiny_models import build_tiny_lm

    from curatune.config.recipe import parse_recipe
    from curatune.stages.lr_find import lr_find

    model = build_tiny_lm(root / "lm", hidden=32, layers=2, initializer_range=0.02)
    data = root / "arith.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in arithmetic(400)))
    results: dict = {"seeds": args.seeds, "trials": args.trials, "space": SPACE, "runs": {}, "lr_find": {}}
    order = list(STRATEGIES)
    for seed in args.seeds:
        # A different order per seed, so that a machine getting busier slows no strategy more than the others.
        for strategy in order[seed % len(order) :] + order[: seed % len(order)]:
            r = run_search(raw_recipe(root, data, model, seed, args.trials, strategy))
            results["runs"][f"{strategy}/{seed}"] = r
            print(
                f"seed {seed} {strategy:>10}: best {r['best_value']:.4f} {r['best_params']}  {r['steps']} steps, {r['pruned']} pruned, "
                f"{r['wall_s']} s",
                flush=True,
            )
        raw = raw_recipe(root, data, model, seed, args.trials, "tpe")
        raw.pop("tune")
        raw["name"] = f"lr-find-s{seed}"
        t0 = time.perf_counter()
        found = lr_find(parse_recipe(raw), echo=lambda s: None)
        best = min((results["runs"][f"{s}/{seed}"] for s in STRATEGIES), key=lambda r: r["best_value"])
        best_lr = best["best_params"]["learning_rate"]
        ratio = lambda a, b: max(a / b, b / a)  # noqa: E731
        results["lr_find"][str(seed)] = {
            "steepest": found.suggestion.steepest,
            "min_div_10": found.suggestion.min_div_10,
            "best_lr": best_lr,
            "ratio_steepest": ratio(found.suggestion.steepest, best_lr),
            "ratio_min_div_10": ratio(found.suggestion.min_div_10, best_lr),
            "seconds": round(time.perf_counter() - t0, 1),
            "points": found.to_dict()["points"],
        }
        lf = results["lr_find"][str(seed)]
        print(
            f"seed {seed} lr-find: steepest {lf['steepest']:.3g}, min/10 {lf['min_div_10']:.3g}; best rate found {best_lr:.3g}", flush=True
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    return results


def print_tables(results: dict) -> None:
    seeds = results["seeds"]
    runs = results["runs"]
    grid_best = {s: runs[f"grid/{s}"]["best_value"] for s in seeds}
    grid_steps = statistics.mean(runs[f"grid/{s}"]["steps"] for s in seeds)
    print(f"\n{results['trials']} trials per search, mean of {len(seeds)} seeds ({', '.join(map(str, seeds))})\n")
    print(
        "| strategy | best validation loss | wall time (s) | compute (steps) | compute vs grid | pruned trials | as good as grid: compute "
        "to get there |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in STRATEGIES:
        rs = [runs[f"{name}/{s}"] for s in seeds]
        best = statistics.mean(r["best_value"] for r in rs)
        spread = f" (± {statistics.stdev(r['best_value'] for r in rs):.3f})" if len(rs) > 1 else ""
        steps = statistics.mean(r["steps"] for r in rs)
        reach = [steps_to_reach(r["trials"], grid_best[s]) for r, s in zip(rs, seeds)]
        reached = [x for x in reach if x is not None]
        reach_text = (
            "—"
            if name == "grid"
            else (
                f"{len(reached)}/{len(seeds)} seeds; {statistics.mean(reached) / grid_steps:.0%} of grid's compute"
                if reached
                else f"0/{len(seeds)} seeds"
            )
        )
        print(
            f"| {name} | {best:.4f}{spread} | {statistics.mean(r['wall_s'] for r in rs):.0f} | {steps:.0f} | {steps / grid_steps:.0%} | "
            f"{statistics.mean(r['pruned'] for r in rs):.1f} | {reach_text} |"
        )
    print(
        "\n| seed | lr-find min / 10 (the default pick) | lr-find steepest | best rate found by the searches | ratio (min / 10) | ratio "
        "(steepest) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for s in seeds:
        lf = results["lr_find"][str(s)]
        print(
            f"| {s} | {lf['min_div_10']:.3g} | {lf['steepest']:.3g} | {lf['best_lr']:.3g} | {lf['ratio_min_div_10']:.1f} | "
            f"{lf['ratio_steepest']:.1f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--table":
        print_tables(json.loads(Path(sys.argv[2]).read_text()))
    else:
        main()
