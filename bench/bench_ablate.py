"""Issue 18: does curation beat random and longest on held-out references? ``curatune ablate`` on real instruction data.

Two directions, so the result is not tied to one set:

- ``alpaca``: pool ../shared/data/alpaca_random_9k.json, references: human-written Dolly answers
  (../shared/data/dolly_3k.json, checked for overlap with the pool) and a held-out part of the pool;
- ``dolly``:  pool dolly_3k.json, references: Alpaca answers and a held-out part of the Dolly pool.

Arms: curated (the default curate recipe, then ``curatune select`` to the budget), random draws of the
same size (``--seeds``), the longest answers of the same size, and (``--full``) the whole pool. The model is
the packaged SmolLM2-135M-Instruct with LoRA on CPU. Every arm trains the same optimizer steps of the same
packed rows; the table gives curated minus random and curated minus longest on reference answer NLL, with
95% paired-bootstrap intervals over references and random seeds, and the CPU minutes of each arm.

The full run (the issue's figure; hours on 2 cores, minutes on a GPU machine):

    .venv/bin/python bench/bench_ablate.py --pool-size 0 --budget 1000 --steps 250 --batch 8 --seq-len 512 --top-layers 0 \\
        --references 300 --holdout 300 --seeds 3 --full --generate --out /tmp/ablate-full

A small version (what fits a shared 2-core machine; every knob below is a flag):

    .venv/bin/python bench/bench_ablate.py --pool-size 600 --budget 60 --steps 6 --batch 4 --seq-len 192 \\
        --references 30 --holdout 30 --seeds 3 --top-layers 4 --out /tmp/ablate-small

``--pool-size`` draws that many records of the pool at random (seed 0) before anything else (0: the whole
pool). Arms already trained in ``--out`` are skipped, so a cut run resumes. Selection is never tuned here:
the curated arm is the default recipe and the default selection, whatever the references say.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from curatune.config.recipe import parse_recipe  # noqa: E402
from curatune.stages.ablate import ablate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = {"alpaca": DATA / "alpaca_random_9k.json", "dolly": DATA / "dolly_3k.json"}


def sample(source: Path, n: int, out: Path) -> Path:
    """``n`` records of ``source`` at random (seed 0), as a JSON array; the file itself when ``n`` is 0."""
    if not n:
        return source
    rows = json.loads(source.read_text(encoding="utf-8"))
    picked = sorted(random.Random(0).sample(range(len(rows)), min(n, len(rows))))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([rows[i] for i in picked]), encoding="utf-8")
    return out


def recipe(direction: str, args: argparse.Namespace) -> dict:
    pool_name, ref_name = (direction, "dolly" if direction == "alpaca" else "alpaca")
    out = Path(args.out)
    pool = sample(SETS[pool_name], args.pool_size, out / "data" / f"{pool_name}-pool-{args.pool_size}.json")
    return {
        "name": f"{direction}-pool",
        "runs_dir": str(out / "runs"),
        "data": {"path": str(pool)},
        "curate": {"workers": 1},
        "train": {
            "model": "default", "method": "lora", "lora_r": 16, "lora_alpha": 32, "learning_rate": args.lr,
            "lora_top_layers": args.top_layers or None, "per_device_train_batch_size": args.batch, "max_seq_len": args.seq_len,
            "on_too_long": "truncate", "warmup_ratio": 0.1, "lr_scheduler_type": "cosine", "seed": 0,
            "logging_steps": max(1, args.steps // 4),
        },
        "ablate": {
            "budget": args.budget, "references": [str(SETS[ref_name])], "holdout": args.holdout, "random_seeds": args.seeds,
            "full": args.full, "longest": True, "steps": args.steps, "limit": args.references, "generate": args.generate,
            "max_new_tokens": args.max_new_tokens, "batch_size": 8, "on_overlap": args.on_overlap, "human_sheet": args.generate,
            "seed": 0,
        },
    }  # fmt: skip


def table(result: dict) -> list[str]:
    lines = [
        "| references | curated − | seeds | curated NLL | other NLL | difference [95%] | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["comparisons"]:
        if r["metric"] != "nll":
            continue
        lines.append(
            f"| {r['references']} | {r['other']} | {r['seeds']} | {r['curated']:.4f} | {r['other_value']:.4f} | "
            f"{r['difference']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}] | {r['verdict']} |"
        )
    lines += [
        "",
        "| arm | records | median answer words | steps | trained tokens | CPU min train | CPU min score |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, a in result["arms"].items():
        lines.append(
            f"| {name} | {a['records']} | {a['answer_words_median']:g} | {a['steps']} | {a['processed_tokens']} | "
            f"{a['cpu_minutes']['train']:.1f} | {a['cpu_minutes']['score']:.1f} |"
        )
    return lines


def partial(out: Path, direction: str) -> list[str]:
    """Curated minus random and longest on answer NLL from the arms scored so far (a run cut before its end)."""
    import numpy as np

    from curatune.evaluate.ablation import ArmValues, seeded_paired_bootstrap

    arms = out / "runs" / f"{direction}-pool" / "arms"
    scores = {p.parent.name: json.loads(p.read_text()) for p in sorted(arms.glob("*/scores.json"))}
    if "curated" not in scores:
        return [f"{direction}: the curated arm is not scored yet"]
    lines = [f"{direction}: arms scored so far: {', '.join(scores)}"]
    groups = {"random": [a for a in scores if a.startswith("random-")], "longest": [a for a in scores if a == "longest"]}
    for ref in scores["curated"]:
        curated = ArmValues.of([scores["curated"][ref]], "nll")
        for group, names in groups.items():
            if names:
                d = seeded_paired_bootstrap(curated, ArmValues.of([scores[n][ref] for n in names], "nll"), False)
                other = float(np.mean([ArmValues.of([scores[n][ref]], "nll").estimate() for n in names]))
                lines.append(f"| {ref} | {group} | {len(names)} | {curated.estimate():.4f} | {other:.4f} | "
                             f"{d.difference:+.4f} [{d.low:+.4f}, {d.high:+.4f}] | {d.verdict} |")  # fmt: skip
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--direction", choices=["alpaca", "dolly", "both"], default="both")
    p.add_argument("--pool-size", type=int, default=600, help="records drawn from the pool first (0: the whole pool)")
    p.add_argument("--budget", type=float, default=60)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=192)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--top-layers", type=int, default=4, help="LoRA in the top N layers only (0: all 30)")
    p.add_argument("--references", type=int, default=30, help="references used from each set")
    p.add_argument("--holdout", type=int, default=30)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--full", action="store_true", help="also train on the whole pool")
    p.add_argument("--generate", action="store_true", help="also generate answers (ROUGE-L, similarity, blind sheets)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--on-overlap", choices=["stop", "drop"], default="drop")
    p.add_argument("--out", default="/tmp/ablate-bench")
    p.add_argument("--partial", action="store_true", help="only print curated minus random/longest from the arms scored so far")
    args = p.parse_args()
    directions = ["alpaca", "dolly"] if args.direction == "both" else [args.direction]
    if args.partial:
        for direction in directions:
            print("\n".join(partial(Path(args.out), direction)))
        return
    for direction in directions:
        t0 = time.perf_counter()
        raw = recipe(direction, args)
        result = ablate(parse_recipe(raw, "bench_ablate"), echo=lambda s, d=direction: print(f"[{d}] {s}", flush=True), track=False)
        wall = time.perf_counter() - t0
        print(f"\n## {direction} pool ({result.result['pool']['records']} records), {wall / 60:.1f} min wall")
        print(f"command: {' '.join(sys.argv)}")
        print(f"overlap: {json.dumps({k: {kk: len(vv) for kk, vv in v.items()} for k, v in result.result['overlap'].items()})}")
        print("\n".join(table(result.result)), flush=True)


if __name__ == "__main__":
    main()
