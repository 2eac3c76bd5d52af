"""DPO: curatune's overhead against a bare TRL script, and DPO on curated against raw pairs (issue 16).

1. Overhead. The same model, pairs and settings trained twice, side by side in one process,
   alternating (bare, curatune, bare, curatune, ...) so that a busy machine slows both alike:
   - *bare*: the script a TRL user writes: ``DPOTrainer`` on the pairs in TRL's conversational
     format, LoRA through ``peft_config``, no evaluation;
   - *curatune*: ``curatune train`` with ``task: dpo`` and the same settings (its pair preflight through
     the chat template, callbacks, curves, the pair rewards after training; MLflow on).
   Throughput is processed tokens per second of the training loop, both counted the same way (the data
   collator wrapped by the same counter); curatune's end-to-end wall time is reported beside it. Only
   pairs whose both sides fit ``--max-len`` through the chat template are drawn, so both train on the
   same tokens (curatune drops a longer pair, TRL truncates it). ``--model tiny``: a tiny random Llama
   (hidden 64, 4 layers, byte-level tokenizer) built here, for a machine too busy for SmolLM2.
   Target: curatune at most 5% slower.
2. Curated against raw. The pairs ``bench/bench_pairs.py`` writes (``--pairs``, default bench/out/pairs):
   ``raw_pairs.jsonl`` (clean pairs and planted defective ones), ``curated_pairs.jsonl`` (what the default
   preference recipe kept of them) and ``val_pairs.jsonl`` (held-out clean pairs of other prompts, never
   curated or tuned on). ``--train-pairs`` pairs are drawn (seeded) from the raw set and from the curated
   set (among the pairs whose sides fit ``--max-len``), and the packaged SmolLM2-135M-Instruct is trained
   on each with DPO (LoRA, CPU). On the first
   ``--val-pairs`` held-out pairs, with curatune's evaluation (:mod:`curatune.evaluate.pairs`): the
   share where the model finds the chosen answer more likely (before: the base; after: each tuned model),
   and the reward accuracy and margin of each tuned model against the base (0 before, by definition).
   Intervals: 95% bootstrap over the held-out pairs; curated - raw is paired on the same pairs.

    .venv/bin/python bench/bench_pairs.py                                   # writes bench/out/pairs (about 1 minute)
    .venv/bin/python bench/bench_dpo.py --model tiny --steps 20 --rounds 3 --train-pairs 16 --val-pairs 40 --max-len 128 --lr 5e-4
    .venv/bin/python bench/bench_dpo.py --steps 20 --rounds 3 --train-pairs 800 --val-pairs 300   # the full run, SmolLM2 throughout
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

OUT = Path(__file__).resolve().parent / "out"


def read_pairs(path: Path) -> list:
    from curatune.curation.read.load import read_all

    return [r for r in read_all([path]).records if r.chosen is not None and r.rejected is not None and r.messages]


def trl_row(r) -> dict:
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in r.messages],
        "chosen": [{"role": "assistant", "content": r.chosen}],
        "rejected": [{"role": "assistant", "content": r.rejected}],
    }


def write_pairs(records: list, path: Path) -> Path:
    from curatune.curation.write.writers import write_records

    write_records(records, path, fmt="preference")
    return path


def settings(args) -> dict:
    return dict(
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=1,
        warmup_ratio=0.0,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        seed=0,
    )


LORA = dict(lora_r=16, lora_alpha=32, lora_dropout=0.05)
TOP_LAYERS = 8
"""The demo's LoRA: adapters in the top 8 layers (of SmolLM2's 30: the backward pass stops there, about twice as fast on CPU)."""


def model_spec(kind: str, tmp: Path) -> str:
    if kind == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from tiny_models import build_tiny_lm

        return str(build_tiny_lm(tmp / "tiny", hidden=64, layers=4, initializer_range=0.02))
    return "default"


def fitting(records: list, spec: str, max_len: int) -> list:
    """The pairs whose both sides fit ``max_len`` tokens through the model's chat template (curatune's pair preflight)."""
    from curatune.models.causal_lm import resolve_causal_lm
    from curatune.models.tokenizer import load_tokenizer
    from curatune.train.preflight import pair_example

    tok = load_tokenizer(resolve_causal_lm(spec)[1])
    return [r for r in records if pair_example(tok, r).longest <= max_len]


# ---- 1. overhead ---------------------------------------------------------------------------------


def run_bare(records: list, spec: str, args, tmp: Path) -> dict:
    """The script a TRL user writes: conversational pairs, DPOTrainer, LoRA through peft_config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from curatune.models.causal_lm import resolve_causal_lm
    from curatune.models.tokenizer import load_tokenizer
    from curatune.train.callbacks import TokenCounter

    folder, tok_spec = resolve_causal_lm(spec)
    tok = load_tokenizer(tok_spec)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32")
    n_layers = model.config.num_hidden_layers
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                      target_modules=["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
                      layers_to_transform=list(range(max(0, n_layers - TOP_LAYERS), n_layers)))  # fmt: skip
    s = settings(args)
    cfg = DPOConfig(
        output_dir=str(tmp / "bare"),
        learning_rate=s["learning_rate"],
        max_steps=args.steps,
        per_device_train_batch_size=s["per_device_train_batch_size"],
        warmup_steps=0.0,
        lr_scheduler_type="constant",
        seed=0,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="steps",
        save_steps=max(1, args.steps // 10),
        eval_strategy="no",
        logging_steps=max(1, args.steps // 10),
        max_length=args.max_len,
        beta=0.1,
        disable_tqdm=True,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(model=model, args=cfg, train_dataset=Dataset.from_list([trl_row(r) for r in records]), processing_class=tok,
                         peft_config=lora)  # fmt: skip
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    return {"tokens": counter.tokens, "train_seconds": seconds, "tokens_per_second": counter.tokens / seconds}


def run_curatune(data: Path, spec: str, args, tmp: Path, name: str, *, steps: int | None, epochs: float = 1.0, track: bool = True,
                 rank: bool = False, val: Path | None = None) -> dict:  # fmt: skip
    from curatune.config.recipe import parse_recipe
    from curatune.stages.train import train

    recipe = parse_recipe(
        {
            "name": name,
            "runs_dir": str(tmp / "runs"),
            "data": {"path": str(data)},
            "train": {
                "model": spec, "task": "dpo", "method": "lora", **LORA, "lora_top_layers": TOP_LAYERS if spec == "default" else 4,
                "beta": 0.1, "max_seq_len": args.max_len,
                "max_steps": steps if steps else -1, "num_train_epochs": epochs, "eval_steps": max(1, (steps or 10) // 10),
                "rank_losses": rank, "save_model": True,
                **({"val_data": str(val)} if val else {"val_set_size": 0.0}),
                **settings(args),
            },
        }
    )  # fmt: skip
    t0 = time.perf_counter()
    res = train(recipe, force=True, echo=lambda s: None, track=track)
    wall = time.perf_counter() - t0
    s = res.summary
    return {
        "tokens": s["tokens"]["processed_tokens"],
        "train_seconds": s["train_seconds"],
        "tokens_per_second": s["tokens"]["processed_tokens"] / s["train_seconds"],
        "end_to_end_seconds": wall,
        "run": str(res.train_dir.parent),
        "summary": s,
    }


def overhead(records: list, args) -> dict:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = model_spec(args.model, tmp)
        rows = random.Random(0).sample(fitting(records[:5000], spec, args.max_len), args.batch * args.steps)
        data = write_pairs(rows, tmp / "pairs.jsonl")
        for i in range(args.rounds):
            bare.append(run_bare(rows, spec, args, tmp))
            ours.append(run_curatune(data, spec, args, tmp, f"o{i}", steps=args.steps))
            print(
                f"round {i}: bare {bare[-1]['tokens_per_second']:.0f} tok/s, curatune {ours[-1]['tokens_per_second']:.0f} tok/s", flush=True
            )
    b = statistics.median(r["tokens_per_second"] for r in bare)
    c = statistics.median(r["tokens_per_second"] for r in ours)
    return {
        "model": args.model, "steps": args.steps, "batch": args.batch, "rounds": args.rounds, "max_len": args.max_len,
        "threads": int(os.environ["OMP_NUM_THREADS"]),
        "tokens_per_step_bare": bare[0]["tokens"] / args.steps, "tokens_per_step_curatune": ours[0]["tokens"] / args.steps,
        "bare_tokens_per_second": round(b, 1), "curatune_tokens_per_second": round(c, 1), "slowdown": round(1 - c / b, 4),
        "bare_train_seconds": [round(r["train_seconds"], 1) for r in bare],
        "curatune_train_seconds": [round(r["train_seconds"], 1) for r in ours],
        "curatune_end_to_end_seconds": [round(r["end_to_end_seconds"], 1) for r in ours],
    }  # fmt: skip


# ---- 2. curated against raw ----------------------------------------------------------------------


def held_out_scores(run_dirs: dict[str, str], val: list, batch: int) -> dict:
    """Each tuned model's and the base's log-probabilities of both answers of every held-out pair."""
    from peft import PeftModel

    from curatune.evaluate.models import _causal_lm
    from curatune.evaluate.pairs import answer_logps
    from curatune.models.causal_lm import resolve_causal_lm
    from curatune.models.tokenizer import load_tokenizer

    tok = load_tokenizer(resolve_causal_lm("default")[1])
    base, _ = _causal_lm("default")
    base.eval()
    out = {"base": answer_logps(base, tok, val, batch)}
    for name, run in run_dirs.items():
        tuned = PeftModel.from_pretrained(base, str(Path(run) / "train" / "model"))
        tuned.eval()
        out[name] = answer_logps(tuned, tok, val, batch)
        base = tuned.unload()  # the base weights back, for the next adapter
    return out


def curated_vs_raw(args) -> dict:
    import numpy as np
    import torch

    from curatune.evaluate.metrics import bootstrap_ci, paired_bootstrap_diff

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    sets = {name: fitting(read_pairs(args.pairs / f"{name}_pairs.jsonl"), "default", args.max_len) for name in ("raw", "curated")}
    val = read_pairs(args.pairs / "val_pairs.jsonl")[: args.val_pairs]
    truth = {}
    if (args.pairs / "truth.jsonl").is_file():
        truth = {(row := json.loads(line))["id"]: row["kind"] for line in (args.pairs / "truth.jsonl").read_text().splitlines()}
    results: dict = {"val_pairs": len(val), "sets": {}}
    runs = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, records in sets.items():
            drawn = random.Random(args.seed).sample(records, min(args.train_pairs, len(records)))
            planted = sum(1 for r in drawn if truth.get(r.id, "clean") not in ("clean", "harmful_ok"))  # harmful_ok: a correct pair
            t0 = time.perf_counter()
            run = run_curatune(write_pairs(drawn, tmp / f"{name}.jsonl"), "default", args, tmp, name, steps=None, epochs=args.epochs,
                               track=False, rank=True)  # fmt: skip
            runs[name] = run["run"]
            s = run["summary"]
            results["sets"][name] = {"fitting_max_len": len(records), "drawn": len(drawn), "planted_defects_drawn": planted,
                                     "trained_pairs": s["train_examples"], "steps": s["steps"],
                                     "train_reward_accuracy": s["train_pairs"]["reward_accuracy"],
                                     "train_reward_margin": s["train_pairs"]["reward_margin"],
                                     "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
            print(f"{name}: {results['sets'][name]}", flush=True)
        scores = held_out_scores(runs, val, args.eval_batch)
    beta = 0.1
    prefers = {name: (s["chosen"] > s["rejected"]).astype(float) for name, s in scores.items()}
    margins = {name: beta * ((scores[name]["chosen"] - scores["base"]["chosen"]) - (scores[name]["rejected"] - scores["base"]["rejected"]))
               for name in runs}  # fmt: skip

    def ci(values) -> dict:
        c = bootstrap_ci(np.asarray(values, dtype=float), seed=0)
        return {"estimate": round(c.estimate, 4), "low": round(c.low, 4), "high": round(c.high, 4)}

    def diff(a, b) -> dict:
        dd = paired_bootstrap_diff(np.asarray(a, dtype=float), np.asarray(b, dtype=float), seed=0)
        return {"estimate": round(dd.difference, 4), "low": round(dd.low, 4), "high": round(dd.high, 4)}

    results["prefers_chosen"] = {name: ci(v) for name, v in prefers.items()}
    results["reward_accuracy"] = {name: ci(margins[name] > 0) for name in runs}
    results["reward_margin"] = {name: ci(margins[name]) for name in runs}
    results["curated_minus_raw"] = {
        "prefers_chosen": diff(prefers["raw"], prefers["curated"]),
        "reward_accuracy": diff(margins["raw"] > 0, margins["curated"] > 0),
        "reward_margin": diff(margins["raw"], margins["curated"]),
    }
    results["tuned_minus_base"] = {name: diff(prefers["base"], prefers[name]) for name in runs}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, default=OUT / "pairs", help="bench_pairs.py's output folder")
    ap.add_argument("--model", choices=["default", "tiny"], default="default", help="overhead: the model (curated vs raw: SmolLM2)")
    ap.add_argument("--steps", type=int, default=6, help="overhead: steps per run")
    ap.add_argument("--rounds", type=int, default=2, help="overhead: bare/curatune pairs of runs")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--train-pairs", type=int, default=48, help="curated vs raw: pairs drawn from each set")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--val-pairs", type=int, default=60)
    ap.add_argument("--eval-batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", choices=["overhead", "curated"], action="append", default=[])
    args = ap.parse_args()
    result: dict = {"command": " ".join(sys.argv), "settings": {k: str(v) for k, v in vars(args).items()}}
    if "overhead" not in args.skip:
        result["overhead"] = overhead(read_pairs(args.pairs / "raw_pairs.jsonl"), args)
        print(json.dumps(result["overhead"], indent=2), flush=True)
    if "curated" not in args.skip:
        result["curated_vs_raw"] = curated_vs_raw(args)
        print(json.dumps(result["curated_vs_raw"], indent=2), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "dpo.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
