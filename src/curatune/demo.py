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

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Echo = Callable[[str], None]

# Sized for 2 CPU cores: about 2 minutes of LoRA training per run (quick: a few seconds).
FULL = {"n_train": 600, "n_test": 40, "max_steps": 30, "eval_steps": 10, "limit": None}
QUICK = {"n_train": 120, "n_test": 12, "max_steps": 4, "eval_steps": 2, "limit": 12}


@dataclass
class DemoResult:
    out: Path
    report: Path
    comparison: dict[str, Any]
    seconds: float


def demo_recipe(name: str, data: Path, test: Path, runs_dir: Path, curate: bool, size: dict, model: str = "default") -> dict:
    return {
        "name": name,
        "runs_dir": str(runs_dir),
        "data": {"path": str(data)},
        "curate": {"workers": 1, **({} if curate else {"steps": []})},
        "split": {"val": 0.06, "test": 0.0, "seed": 0},
        "train": {
            "model": model, "method": "lora", "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-3,
            "lora_top_layers": 8 if model == "default" else None,  # SmolLM2 has 30 layers; a test's tiny model has 2
            "max_steps": size["max_steps"], "eval_steps": size["eval_steps"], "per_device_train_batch_size": 8, "warmup_ratio": 0.1,
            "lr_scheduler_type": "cosine", "max_seq_len": 256 if model == "default" else 1024, "packing": False, "min_trained_fraction": 0.02, "seed": 0,
            "early_stopping_patience": 3,
        },
        "eval": {"data": str(test), "max_new_tokens": 8, "limit": size["limit"], "batch_size": 20},
    }  # fmt: skip


def run_demo(out: str | Path = "demo", quick: bool = False, echo: Echo = print, model: str = "default", track: bool = True) -> DemoResult:
    from .compare import compare_runs, report_section
    from .config.recipe import parse_recipe
    from .generate.triage import generate_triage
    from .loop import run_loop
    from .report.build import build_report

    t0 = time.perf_counter()
    out = Path(out)
    size = QUICK if quick else FULL
    data = generate_triage(out / "data", n_train=size["n_train"], n_test=size["n_test"], seed=0)
    noise = ", ".join(f"{n} {k}" for k, n in data["train"].noise.items())
    echo(f"data: {data['train'].n_lines} noisy training records ({noise}) and {data['test'].n_lines} clean test records in {out / 'data'}")
    runs = {}
    for name, curate in (("raw", False), ("curated", True)):
        echo(f"--- {name}: {'the default curation recipe' if curate else 'no curation'}, then LoRA on SmolLM2-135M-Instruct")
        recipe = parse_recipe(demo_recipe(name, data["train"].path, data["test"].path, out / "runs", curate, size, model), "the demo")
        runs[name] = run_loop(recipe, echo=echo, track=track)
    comparison = compare_runs([runs["raw"].run_dir, runs["curated"].run_dir])
    (out / "compare.json").write_bytes(orjson.dumps(comparison, option=orjson.OPT_INDENT_2))
    report = build_report(runs["curated"].run_dir, compare=report_section(comparison), title="demo: support-ticket triage, curated against raw")
    return DemoResult(out, report, comparison, time.perf_counter() - t0)


def headline(result: DemoResult) -> list[str]:
    """The lines the demo ends with: base against tuned, and raw against curated."""
    lines = []
    for run in result.comparison["runs"]:
        metrics = orjson.loads((Path(run["path"]) / "eval" / "metrics.json").read_bytes())["metrics"]
        em = metrics.get("exact_match")
        if em:
            lines.append(f"{run['name']}: exact match base {em['base']['estimate']:.2f} -> tuned {em['tuned']['estimate']:.2f}")
    pair = result.comparison["pairs"][0]
    d = pair["metrics"].get("exact_match")
    if d:
        lines.append(f"curated - raw exact match: {d['difference']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] on {pair['shared_examples']} clean test tickets")
    lines.append(f"report: {result.report}  ({result.seconds:.0f} s)")
    return lines
