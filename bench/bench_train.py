"""Training: curatune's overhead against a bare TRL script, and padding waste with packing.

1. Overhead. The same model, data and settings trained twice, side by side in
   one process, alternating (bare, curatune, bare, curatune, ...) so that a
   busy machine slows both alike:
   - *bare*: the script a TRL user writes: ``SFTTrainer`` on a prompt/completion
     dataset (TRL tokenises it and masks the prompt), no evaluation;
   - *curatune*: ``curatune.train.run.train`` with the same settings (its own
     tokenisation and assistant mask, preflight checks, callbacks, curves, loss
     ranking; MLflow tracking on).
   Throughput is processed tokens per second of the training loop (both counted
   the same way, by wrapping the data collator); curatune's end-to-end wall time
   (preflight, loss ranking, saving) is reported beside it.
   Target: curatune at most 5% slower in tokens per second on CPU.
2. Padding waste on the demo dataset (``curatune demo``'s triage set, and
   ``curatune generate``'s noisy instruction set; SmolLM2 tokenizer, batch 8):
   the share of processed tokens that are padding, one epoch through the
   training data loader, with packing on and off. Target: at most 5% with packing.

    .venv/bin/python bench/bench_train.py                 # SmolLM2-135M LoRA, 6 steps x 2 rounds, and padding
    .venv/bin/python bench/bench_train.py --model tiny --steps 40 --rounds 3 --max-len 1024   # byte-level tokenizer: long rows
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

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

OUT = Path(__file__).resolve().parent / "out"


def conversations(n: int, seed: int = 0) -> list[dict]:
    """Instruction pairs from the generator, clean ones only (the overhead does not depend on the defects)."""
    from curatune.generate import generate_noisy

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "gen.jsonl"
        generate_noisy(path, n=n * 2, defect_rate=0.0, seed=seed)
        from curatune.curation.read.records import Reject, read_records

        recs = [r for r in read_records([path]) if not isinstance(r, Reject) and r.messages]
    return [{"id": r.id, "messages": [{"role": m["role"], "content": m["content"]} for m in r.messages]} for r in recs[:n]]


def model_folder(kind: str, tmp: Path) -> str:
    if kind == "tiny":
        from tiny_models import build_tiny_lm

        return str(build_tiny_lm(tmp / "tiny", hidden=64, layers=4, initializer_range=0.02))
    from curatune.models.causal_lm import resolve_causal_lm

    return resolve_causal_lm("default")[0]


def settings(args) -> dict:
    return dict(
        learning_rate=2e-4,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=1,
        warmup_ratio=0.0,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        seed=0,
    )


def run_bare(folder: str, rows: list[dict], args, tmp: Path) -> dict:
    """The script a TRL user writes: prompt/completion data, SFTTrainer, LoRA through peft_config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from curatune.models.tokenizer import load_tokenizer
    from curatune.train.callbacks import TokenCounter

    tok = load_tokenizer("default" if args.model == "default" else folder)
    data = Dataset.from_list([{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32")
    s = settings(args)
    cfg = SFTConfig(
        output_dir=str(tmp / "bare"),
        learning_rate=s["learning_rate"],
        max_steps=s["max_steps"],
        per_device_train_batch_size=s["per_device_train_batch_size"],
        warmup_steps=0.0,
        lr_scheduler_type="constant",
        seed=0,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="steps" if args.bare_checkpoints else "no",
        save_steps=args.eval_steps or max(1, args.steps // 10),
        eval_strategy="no",
        logging_steps=args.steps,
        max_length=args.max_len,
        disable_tqdm=True,
        dataset_num_proc=None,
    )
    lora = (
        LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
        if args.method == "lora"
        else None
    )
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=tok, peft_config=lora)
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    return {"tokens": counter.tokens, "train_seconds": seconds, "tokens_per_second": counter.tokens / seconds}


def run_curatune(folder: str, rows: list[dict], args, tmp: Path, i: int) -> dict:
    from curatune.config.recipe import parse_recipe
    from curatune.stages.train import train

    data = tmp / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = "default" if args.model == "default" else folder
    recipe = parse_recipe(
        {
            "name": f"c{i}",
            "runs_dir": str(tmp / "runs"),
            "data": {"path": str(data)},
            "train": {
                "model": model,
                "method": args.method,
                "val_set_size": 0.0,
                "max_seq_len": args.max_len,
                "save_model": False,
                "eval_steps": args.eval_steps or None,
                **settings(args),
            },
        }
    )
    t0 = time.perf_counter()
    res = train(recipe, force=True, echo=lambda s: None, track=True)
    wall = time.perf_counter() - t0
    s = res.summary
    return {
        "tokens": s["tokens"]["processed_tokens"],
        "train_seconds": s["train_seconds"],
        "tokens_per_second": s["tokens"]["processed_tokens"] / s["train_seconds"],
        "end_to_end_seconds": wall,
        "loss_rank_seconds": s["loss_rank_seconds"],
    }


def overhead(args) -> dict:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        folder = model_folder(args.model, tmp)
        rows = conversations(args.batch * args.steps)
        bare, ours = [], []
        for i in range(args.rounds):
            bare.append(run_bare(folder, rows, args, tmp))
            ours.append(run_curatune(folder, rows, args, tmp, i))
            print(
                f"round {i}: bare {bare[-1]['tokens_per_second']:.0f} tok/s, curatune {ours[-1]['tokens_per_second']:.0f} tok/s", flush=True
            )
    b = statistics.median(r["tokens_per_second"] for r in bare)
    c = statistics.median(r["tokens_per_second"] for r in ours)
    return {
        "model": args.model,
        "method": args.method,
        "steps": args.steps,
        "batch": args.batch,
        "rounds": args.rounds,
        "threads": int(os.environ["OMP_NUM_THREADS"]),
        "tokens_per_step_bare": bare[0]["tokens"] / args.steps,
        "tokens_per_step_curatune": ours[0]["tokens"] / args.steps,
        "bare_tokens_per_second": round(b, 1),
        "curatune_tokens_per_second": round(c, 1),
        "slowdown": round(1 - c / b, 4),
        "curatune_end_to_end_seconds": [round(r["end_to_end_seconds"], 1) for r in ours],
        "curatune_train_seconds": [round(r["train_seconds"], 1) for r in ours],
        "bare_train_seconds": [round(r["train_seconds"], 1) for r in bare],
        "rounds_raw": {"bare": bare, "curatune": ours},
    }


def padding(args) -> dict:
    """Padding share of processed tokens over one epoch of the training data loader, packing on and off."""
    from curatune.config.recipe import parse_recipe
    from curatune.generate import generate_noisy
    from curatune.generate.triage import generate_triage
    from curatune.train.data import load_train_data
    from curatune.train.trainer import build_trainer, prepare

    out = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sets = {
            "demo triage set (curatune demo, 600 raw records, max_seq_len 256)": (
                generate_triage(tmp / "triage", n_train=600, n_test=10)["train"].path,
                256,
            ),
            "generated instruction set (curatune generate, 3,000 records, max_seq_len 512)": (tmp / "gen.jsonl", 512),
        }
        generate_noisy(tmp / "gen.jsonl", n=3000, seed=0)
        for name, (data, max_len) in sets.items():
            for packing in (True, False):
                recipe = parse_recipe(
                    {
                        "name": "pad",
                        "runs_dir": str(tmp / "runs"),
                        "data": {"path": str(data)},
                        "train": {
                            "method": "lora",
                            "packing": packing,
                            "max_seq_len": max_len,
                            "per_device_train_batch_size": 8,
                            "val_set_size": 0.0,
                        },
                    }
                )
                data_ = load_train_data(recipe.data.path, recipe.train, recipe.data.format)
                folder = tmp / f"pad{packing}"
                p = prepare(recipe.train, data_, folder / "preflight.json", echo=lambda s: None)
                built = build_trainer(p, folder / "checkpoints", folder / "metrics.jsonl")
                trainer, counter = built.trainer, built.counter
                batches = sum(1 for _ in trainer.get_train_dataloader())
                out.setdefault(name, {})["packing" if packing else "no_packing"] = {
                    **counter.summary(),
                    "batches": batches,
                    "examples": len(p.train_rows),
                }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["default", "tiny"], default="default")
    ap.add_argument("--method", choices=["lora", "full"], default="lora")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--eval-steps", type=int, default=0, help="curatune: log and checkpoint every this many steps (default: a tenth of the steps)"
    )
    ap.add_argument(
        "--bare-checkpoints", action="store_true", help="the bare script saves checkpoints at curatune's cadence too (what resuming needs)"
    )
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--skip-padding", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    result = {}
    if not args.skip_padding:
        result["padding"] = padding(args)
        print(json.dumps(result["padding"], indent=1), flush=True)
    if not args.skip_overhead:
        result["overhead"] = overhead(args)
        print(json.dumps({k: v for k, v in result["overhead"].items() if k != "rounds_raw"}, indent=1))
    name = f"train_{args.model}_{args.method}.json"
    (OUT / name).write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
