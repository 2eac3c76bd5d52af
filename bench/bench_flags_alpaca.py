"""What each curation step flags on real instruction data (../shared/data/alpaca_random_9k.json).

Runs every registered step that builds with its defaults (selection steps
excluded) in flag mode, so each record meets every step, and prints how many
records each step and reason flags or modifies. Writes 50 flagged and 50
unflagged records, chosen with a fixed seed, to bench/out/alpaca_samples.md
for reading by eye.

    .venv/bin/python bench/bench_flags_alpaca.py [--data PATH] [--samples 50]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from curatune.config.recipe import Recipe
from curatune.curation.registry import all_steps, build_step
from curatune.stages.curate import curate

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_random_9k.json"


def flag_all_recipe(data: Path, runs_dir: str) -> Recipe:
    steps = []
    for name in all_steps():
        if name.startswith("select."):
            continue
        try:
            build_step(name, {})
        except Exception:
            continue  # needs parameters (eval sets, a model path): not part of this survey
        steps.append({"step": name, "on_fail": "flag", "params": {}})
    # Mappers first (as in a real recipe), global steps last.
    order = {"clean": 0, "filter": 1, "dedup": 2}
    steps.sort(key=lambda s: order.get(s["step"].split(".")[0], 1))
    return Recipe.model_validate({"name": "alpaca_flags", "runs_dir": runs_dir, "data": {"path": str(data)}, "curate": {"steps": steps}})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} is absent: this benchmark needs ../shared/data")

    with tempfile.TemporaryDirectory() as tmp:
        recipe = flag_all_recipe(args.data, tmp)
        t0 = time.perf_counter()
        result = curate(recipe, force=True)
        seconds = time.perf_counter() - t0
        ledger = pq.read_table(result.run_dir / "ledger.parquet").to_pylist()
        kept = {r["id"]: r for r in map(orjson.loads, (result.run_dir / "data" / "kept.jsonl").read_bytes().splitlines())}

    per_reason: Counter = Counter()
    records_per_step: dict[str, set] = {}
    reasons_of: dict[str, list[str]] = {}
    for row in ledger:
        if row["action"] in ("flag", "modify", "drop") and row["step"] != "read":
            key = f"{row['step']} | {row['action']}:{row['reason']}"
            per_reason[key] += 1
            records_per_step.setdefault(row["step"], set()).add(row["id"])
            reasons_of.setdefault(row["id"], []).append(f"{row['step']}:{row['reason']}" + (f" ({row['detail']})" if row["detail"] else ""))
    n = result.stats["input"]
    print(f"\n## Steps on {args.data.name}: {n:,} records, {seconds:.1f} s ({n / seconds:,.0f} records/s), all steps in flag mode\n")
    print("| step | records flagged or modified | share |")
    print("|---|---:|---:|")
    for step, ids in sorted(records_per_step.items(), key=lambda kv: -len(kv[1])):
        print(f"| {step} | {len(ids)} | {len(ids) / n:.1%} |")
    print("\n| step and reason | count |")
    print("|---|---:|")
    for key, c in per_reason.most_common():
        print(f"| {key} | {c} |")

    rng = random.Random(args.seed)
    # Records a check flagged (repairs alone, e.g. whitespace, are not what a reader needs to judge).
    flagged_ids = sorted({row["id"] for row in ledger if row["action"] in ("flag", "drop") and row["step"] != "read"})
    clean_ids = sorted(set(kept) - set(reasons_of))
    out = Path("bench/out/alpaca_samples.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for title, ids in (
            ("Flagged", rng.sample(flagged_ids, min(args.samples, len(flagged_ids)))),
            ("Unflagged", rng.sample(clean_ids, min(args.samples, len(clean_ids)))),
        ):
            f.write(f"# {title}\n\n")
            for rid in ids:
                rec = kept[rid]
                msgs = rec.get("messages") or []
                f.write(f"## {rid}: {'; '.join(reasons_of.get(rid, [])) or 'no flag'}\n\n")
                for m in msgs:
                    f.write(f"**{m['role']}**: {m['content'][:600]!r}\n\n")
    print(f"\nSamples to read: {out}")


if __name__ == "__main__":
    main()
