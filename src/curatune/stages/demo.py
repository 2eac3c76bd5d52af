"""``curatune demo``: the whole loop on a generated task, offline, on a laptop CPU, in minutes.

The task is support-ticket triage (:mod:`curatune.generate.triage`): the
packaged SmolLM2-135M-Instruct cannot answer in the ``category / priority``
form before fine-tuning and can after. The training data is noisy the way
model-labelled data is (refusals on every security ticket, ``N/A`` for most
low-priority ones, empty answers, repeats), the test set is clean.

Two runs with the same training settings, differing only in curation:

- ``raw``: no curation step, everything is trained on;
- ``curated``: the default curation recipe;

then ``curatune compare`` between them, and ``report.html`` in the curated
run with the comparison on top. LoRA adapts only the top layers
(``lora_top_layers``), so the backward pass is short enough for a CPU.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import orjson

from ..config.recipe import parse_recipe
from ..generate.triage import generate_triage
from ..run_folder import RunFolder
from ..tracking import use_store
from .compare import compare_runs, report_section
from .loop import run_loop
from .report import build_report

Echo = Callable[[str], None]


# Sized for `make demo` on 2 CPU cores in under 10 minutes with installation: the two runs train
# in parallel, about 4 minutes each (quick: a few seconds, for CI).
class DemoSize(TypedDict):
    n_train: int
    n_test: int
    max_steps: int
    eval_steps: int
    limit: int | None  # evaluate every test record when None


FULL: DemoSize = {"n_train": 600, "n_test": 40, "max_steps": 36, "eval_steps": 18, "limit": None}
QUICK: DemoSize = {"n_train": 120, "n_test": 12, "max_steps": 4, "eval_steps": 2, "limit": 12}


@dataclass
class DemoResult:
    out: Path
    report: Path
    comparison: dict[str, Any]
    seconds: float


def demo_recipe(name: str, data: Path, test: Path, runs_dir: Path, curate: bool, size: DemoSize, model: str = "default") -> dict[str, Any]:
    return {
        "name": name,
        "runs_dir": str(runs_dir),
        "data": {"path": str(data)},
        "curate": {"workers": 1, **({} if curate else {"steps": []})},
        "split": {"val": 0.05, "test": 0.0, "seed": 0},
        "train": {
            "model": model, "method": "lora", "lora_r": 16, "lora_alpha": 32, "learning_rate": 2e-3,
            "lora_top_layers": 8 if model == "default" else None,  # SmolLM2 has 30 layers; a test's tiny model has 2
            "max_steps": size["max_steps"], "eval_steps": size["eval_steps"], "per_device_train_batch_size": 8, "warmup_ratio": 0.1,
            "lr_scheduler_type": "cosine", "max_seq_len": 256 if model == "default" else 1024, "packing": False,
            "min_trained_fraction": 0.02, "seed": 0,
            "early_stopping_patience": 3, "rank_losses": False,  # ranking is a forward pass over the training set: minutes on a CPU
        },
        "eval": {"data": str(test), "max_new_tokens": 8, "limit": size["limit"], "batch_size": 20},
    }  # fmt: skip


def _run_one(raw_recipe: dict[str, Any], track: bool, prefix: str, echo: Echo | None = None) -> Path:
    """One run of the loop (in a worker process: one torch thread, lines printed with a prefix)."""
    import torch

    if echo is None:
        torch.set_num_threads(1)
        echo = lambda s: print(prefix + s, flush=True)  # noqa: E731
    return run_loop(parse_recipe(raw_recipe, "the demo"), echo=echo, track=track).run_dir


def run_demo(
    out: str | Path = "demo", quick: bool = False, echo: Echo = print, model: str = "default", track: bool = True, parallel: bool = True
) -> DemoResult:
    t0 = time.perf_counter()
    out = Path(out)
    size = QUICK if quick else FULL
    data = generate_triage(out / "data", n_train=size["n_train"], n_test=size["n_test"], seed=0)
    noise = ", ".join(f"{n} {k}" for k, n in data["train"].noise.items())
    echo(f"data: {data['train'].n_lines} noisy training records ({noise}) and {data['test'].n_lines} clean test records in {out / 'data'}")
    recipes = {
        name: demo_recipe(name, data["train"].path, data["test"].path, out / "runs", curate, size, model)
        for name, curate in (("raw", False), ("curated", True))
    }
    for name in recipes:
        parse_recipe(recipes[name], "the demo")  # a bad recipe fails here, before any process starts
    echo("raw: no curation; curated: the default curation recipe; each then split, LoRA on the model, evaluated against the base")
    if track:  # create the MLflow store and experiment once, before two processes write to it
        use_store(None, out / "runs", "curatune")
    if parallel and (os.cpu_count() or 1) >= 2:
        # Two processes of one thread each: on a small CPU that is faster than one process with two
        # threads, and the two runs are independent until the comparison.
        with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
            futures = {name: pool.submit(_run_one, r, track, f"[{name}] ") for name, r in recipes.items()}
            run_dirs = {name: f.result() for name, f in futures.items()}
    else:
        run_dirs = {name: _run_one(r, track, f"[{name}] ", echo) for name, r in recipes.items()}
    comparison = compare_runs([run_dirs["raw"], run_dirs["curated"]])
    (out / "compare.json").write_bytes(orjson.dumps(comparison, option=orjson.OPT_INDENT_2))
    report = build_report(run_dirs["curated"], compare=report_section(comparison), title="demo: support-ticket triage, curated against raw")
    return DemoResult(out, report, comparison, time.perf_counter() - t0)


def headline(result: DemoResult) -> list[str]:
    """The lines the demo ends with: base against tuned, and raw against curated."""
    lines = []
    for run in result.comparison["runs"]:
        metrics = orjson.loads(RunFolder(Path(run["path"])).eval.metrics.read_bytes())["metrics"]
        em = metrics.get("exact_match")
        if em:
            lines.append(f"{run['name']}: exact match base {em['base']['estimate']:.2f} -> tuned {em['tuned']['estimate']:.2f}")
    pair = result.comparison["pairs"][0]
    d = pair["metrics"].get("exact_match")
    if d:
        lines.append(
            f"curated - raw exact match: {d['difference']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] on {pair['shared_examples']} clean "
            "test tickets"
        )
    lines.append(f"report: {result.report}  ({result.seconds:.0f} s)")
    return lines
