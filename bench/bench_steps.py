"""Per-step cost of the default recipe's streaming steps, in one process, and a verdict fingerprint.

Generates the noisy Alpaca set (curatune.generate, seed 0), reads it, and runs the default recipe's
streaming steps over it in batches exactly as a worker does (``run_segment``), one process, no
contention: microseconds per record for each step, largest first.

``--save F`` writes every record's ledger events and final content; ``--compare F`` checks them against
a saved run. A speed change that gives the same verdicts leaves them identical:

    .venv/bin/python bench/bench_steps.py --save /tmp/before.pkl          # on the old code
    .venv/bin/python bench/bench_steps.py --compare /tmp/before.pkl       # on the new code

The host's speed drifts; compare two versions in alternating runs (a git worktree of the old commit on
PYTHONPATH), not against a number from another hour.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import sys
import tempfile
import time
from pathlib import Path

from curatune.config.recipe import parse_recipe
from curatune.curation.pipeline import run_segment
from curatune.curation.read.records import RecordReader, Reject
from curatune.curation.step import GlobalStep
from curatune.generate import generate_noisy
from curatune.stages.curate import build_pipeline_steps, resolve


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000, help="records to generate (default 50,000)")
    ap.add_argument("--save", type=Path, help="write every record's events and content here")
    ap.add_argument("--compare", type=Path, help="a file written by --save: report records whose events or content differ")
    ap.add_argument(
        "--alone",
        help="comma-separated steps (a+b: two steps record by record, as the pipeline runs them): CPU µs a record of each "
        "over the records as read (not cleaned), the best of three passes, and nothing else",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "noisy.jsonl"
        generate_noisy(data, n=args.n, defect_rate=0.2, seed=0)
        recipe = resolve(parse_recipe({"name": "bench", "data": {"path": str(data)}}))
        steps = [ps for ps in build_pipeline_steps(recipe) if not isinstance(ps.step, GlobalStep)]
        for ps in steps:
            ps.step.setup()
        reader = RecordReader(recipe.data.path, recipe.data.format, recipe.data.file_type, recipe.data.id_field)
        records = [r for r in reader if not isinstance(r, Reject)]

    if args.alone:
        return alone(args.alone, {ps.step.name: ps.step for ps in steps}, records)

    gc.collect()
    seconds = [0.0] * len(steps)
    fingerprint = []
    cpu0 = time.process_time()
    for i in range(0, len(records), 256):
        results, counts = run_segment(steps, records[i : i + 256], [])
        seconds = [a + b for a, b in zip(seconds, counts.seconds)]
        for rec, events, _, _ in results:
            content = rec.to_dict()
            content["meta"] = {k: v for k, v in rec.meta.items() if k != "source"}  # the temporary file's path
            fingerprint.append((rec.id, [(e.step, e.action, e.reason, e.value, e.detail) for e in events], content))
    cpu = time.process_time() - cpu0

    n = len(records)
    print(f"\n{n:,} records, default recipe's {len(steps)} streaming steps, one process\n")
    print("| step | µs a record |")
    print("|---|---:|")
    for ps, s in sorted(zip(steps, seconds), key=lambda x: -x[1]):
        print(f"| {ps.step.name} | {1e6 * s / n:.1f} |")
    print(f"| all steps | {1e6 * sum(seconds) / n:.1f} |")
    print(f"\nCPU of the loop, steps and batching: {1e6 * cpu / n:.1f} µs a record")

    if args.save:
        args.save.write_bytes(pickle.dumps(fingerprint))
        print(f"saved the verdicts of {n:,} records to {args.save}")
    if args.compare:
        before = pickle.loads(args.compare.read_bytes())
        if len(before) != len(fingerprint):
            print(f"DIFFERENT: {len(before):,} records before, {len(fingerprint):,} now")
            return 1
        differ = [(a, b) for a, b in zip(before, fingerprint) if a != b]
        print(f"{len(differ):,} of {n:,} records differ in events or content")
        for a, b in differ[:5]:
            print(f"  {a[0]}: {a[1]}\n    now {b[1]}")
        return 1 if differ else 0
    return 0


def alone(spec: str, by_name: dict, records: list) -> int:
    """Each listed step (or pair a+b) alone over the records: the steadier figure on a loaded machine."""
    print("| step | CPU µs a record (best of 3) |\n|---|---:|")
    for item in spec.split(","):
        chosen = [by_name[name] for name in item.split("+")]
        best = float("inf")
        for _ in range(3):
            gc.collect()
            t0 = time.process_time()
            for r in records:
                for step in chosen:
                    step.keep(r)
            best = min(best, time.process_time() - t0)
        print(f"| {item} | {1e6 * best / len(records):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
