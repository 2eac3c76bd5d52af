"""Training on one and two CPU processes (issue 19): tokens per second of ``curatune train`` as a user launches it.

Rows, each the same model, data, settings and global batch (``--batch`` examples a step in all), run as a
fresh command (``curatune train``, or ``torchrun --standalone --nproc_per_node 2 -m curatune train``):

- 1 process, 1 thread (``OMP_NUM_THREADS=1``);
- 1 process, 2 threads: what one process makes of two cores;
- 2 processes, 1 thread each (DDP over gloo): each takes half of every batch, gradients averaged.

Tokens/s is the training summary's: processed tokens of every rank (padding included) over the seconds in
``trainer.train``; wall is the whole command (imports, model load, tokenisation, saving). No validation, no
loss ranking, no saved model: the training loop alone is measured. Rounds alternate the rows, so that a
busy machine slows all alike; the table gives the median of the rounds and every round's figure.

    .venv/bin/python bench/bench_multiproc.py                                   # tiny Llama (hidden 64, 4 layers), 60 steps x 3 rounds
    .venv/bin/python bench/bench_multiproc.py --model smollm2 --steps 6 --rounds 2 --batch 4 --max-len 256   # packaged SmolLM2-135M, LoRA
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import conversations, model_folder  # noqa: E402 (the same data and models as the overhead benchmark)

OUT = Path(__file__).resolve().parent / "out"
SRC = Path(__file__).resolve().parents[1] / "src"
ROWS = (("1 process, 1 thread", 1, 1), ("1 process, 2 threads", 1, 2), ("2 processes, 1 thread each", 2, 1))


def recipe(folder: Path, model: str, data: Path, args, processes: int, name: str) -> Path:
    train = {
        "model": model,
        "method": "lora" if args.model == "smollm2" else "full",
        "learning_rate": 2e-4,
        "max_steps": args.steps,
        "eval_steps": args.steps,  # no validation; this is also the checkpoint interval: one save, at the end
        "per_device_train_batch_size": args.batch // processes,
        "val_set_size": 0.0,
        "max_seq_len": args.max_len,
        "on_too_long": "truncate",
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "early_stopping_patience": None,
        "rank_losses": False,
        "save_model": False,
        "bf16": False,
        "seed": 0,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "runs_dir": str(folder / "runs"), "data": {"path": str(data)}, "train": train}))
    return path


def run_row(path: Path, processes: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    cmd = [sys.executable, *launcher, "-m", "curatune", "train", str(path), "--no-tracking", "--force"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    name = path.stem
    summary = json.loads((path.parent / "runs" / name / "train" / "summary.json").read_text())
    assert summary["processes"] == processes, summary["processes"]
    return {
        "tokens_per_second": summary["tokens_per_second"],
        "train_seconds": summary["train_seconds"],
        "tokens": summary["tokens"]["processed_tokens"],
        "train_loss": summary["train_loss"],
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8, help="examples a step in all (split over the processes)")
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-two-threads", action="store_true", help="leave out the 1 process, 2 threads row (slow on a busy machine)")
    args = ap.parse_args()
    rows = [row for row in ROWS if not (args.no_two_threads and row[2] == 2)]
    if args.batch % 2:
        raise SystemExit("--batch must be even: two processes take half each")

    results: dict[str, list[dict]] = {label: [] for label, _, _ in rows}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = model_folder(args.model, tmp) if args.model == "tiny" else "default"  # the recipe's name for the packaged SmolLM2
        data = tmp / "train.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in conversations(args.examples)))
        paths = {label: recipe(tmp, model, data, args, processes, f"row{i}") for i, (label, processes, _) in enumerate(rows)}
        for r in range(args.rounds):
            for label, processes, threads in rows:
                row = run_row(paths[label], processes, threads)
                results[label].append(row)
                print(f"round {r + 1} {label}: {row}", file=sys.stderr)

    base = statistics.median(x["tokens_per_second"] for x in results[ROWS[0][0]])
    print(f"\n{args.model}: {args.steps} steps, global batch {args.batch}, max_len {args.max_len}; median of {args.rounds} rounds\n")
    print("| run | tokens/s | vs 1 process, 1 thread | train s | wall s (whole command) | final train loss | every round, tokens/s |")
    print("|---|---|---|---|---|---|---|")
    for label, _, _ in rows:
        runs = results[label]
        tps = statistics.median(x["tokens_per_second"] for x in runs)
        each = ", ".join(f"{x['tokens_per_second']:,.0f}" for x in runs)
        print(
            f"| {label} | {tps:,.0f} | {tps / base:.2f}x | {statistics.median(x['train_seconds'] for x in runs):.1f} | "
            f"{statistics.median(x['wall_seconds'] for x in runs):.1f} | {runs[0]['train_loss']} | "
            f"{each} |"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / f"multiproc_{args.model}.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
