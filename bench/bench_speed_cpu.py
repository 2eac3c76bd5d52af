"""CPU time of the default recipe, for comparing two versions on a loaded machine (issue 15's speed target).

Wall-clock figures on a shared host move by 20% within minutes; CPU time moves less. Two measures, each runnable
against the code of any commit since f93fce2 (the module paths changed in between: both are tried), so run this
file from this tree with PYTHONPATH pointing at the tree under test, alternating versions:

    PYTHONPATH=<tree>/src .venv/bin/python bench/bench_speed_cpu.py steps --n 20000     # per step, pipeline order
    PYTHONPATH=<tree>/src .venv/bin/python bench/bench_speed_cpu.py curate --n 100000   # end to end, workers=2

``steps``: the streaming steps over the generator's records in batches of 256, as a worker runs them
(``run_segment``), the best of ``--repeat`` passes: the loop's CPU (``process_time``) per record, and each step's
CPU per record (the segment's timer made ``process_time``; the records each step sees in the pipeline, so a
step after a drop sees fewer). ``curate``: ``curate()`` with 2 workers; the main process's CPU (the curation only,
not the generation before it) and the workers' CPU per input record, and the wall time.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import types
from pathlib import Path

from curatune.config.recipe import apply_overrides, parse_recipe
from curatune.generate import generate_noisy

try:  # the layout since issue 14
    from curatune.curation.pipeline import run_segment
    from curatune.curation.read.records import RecordReader, Reject
    from curatune.curation.step import GlobalStep
    from curatune.stages.curate import build_pipeline_steps, curate, resolve
except ImportError:  # f93fce2
    from curatune.curate import build_pipeline_steps, curate, resolve  # type: ignore[no-redef]
    from curatune.data.pipeline import run_segment  # type: ignore[no-redef]
    from curatune.data.read.records import RecordReader, Reject  # type: ignore[no-redef]
    from curatune.data.step import GlobalStep  # type: ignore[no-redef]


def steps(n: int, repeat: int, label: str) -> None:
    # The segment times each step with time.perf_counter, looked up at each call: process_time instead.
    sys.modules[run_segment.__module__].time = types.SimpleNamespace(perf_counter=time.process_time)  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "noisy.jsonl"
        generate_noisy(data, n=n, defect_rate=0.2, seed=0)
        recipe = resolve(parse_recipe({"name": "bench", "data": {"path": str(data)}}))
        pipeline_steps = [ps for ps in build_pipeline_steps(recipe) if not isinstance(ps.step, GlobalStep)]
        for ps in pipeline_steps:
            ps.step.setup()
        best_loop, best = float("inf"), [float("inf")] * len(pipeline_steps)
        for _ in range(repeat):
            # Read afresh: a flag is written into the record's meta.
            records = [
                r
                for r in RecordReader(recipe.data.path, recipe.data.format, recipe.data.file_type, recipe.data.id_field)
                if not isinstance(r, Reject)
            ]
            gc.collect()
            seconds = [0.0] * len(pipeline_steps)
            t0 = time.process_time()
            for i in range(0, len(records), 256):
                _, counts = run_segment(pipeline_steps, records[i : i + 256], [])
                seconds = [a + b for a, b in zip(seconds, counts.seconds)]
            best_loop = min(best_loop, time.process_time() - t0)
            best = [min(a, b) for a, b in zip(best, seconds)]
    m = len(records)
    print(f"| {label}: the loop, steps and batching | {1e6 * best_loop / m:.1f} |")
    for ps, s in zip(pipeline_steps, best):
        print(f"| {label}: {ps.step.name} | {1e6 * s / m:.1f} |")


def _cpu(who: int) -> float:
    u = resource.getrusage(who)
    return u.ru_utime + u.ru_stime


def curate_cpu(n: int, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "noisy.jsonl"
        generate_noisy(data, n=n, defect_rate=0.2, seed=0)
        overrides = [f"runs_dir={tmp}/runs", "curate.workers=2"]
        recipe = parse_recipe(apply_overrides({"name": "bench", "data": {"path": str(data)}}, overrides))
        m0, c0, t0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
        result = curate(recipe, force=True)
        wall = time.perf_counter() - t0
        main, workers = _cpu(resource.RUSAGE_SELF) - m0, _cpu(resource.RUSAGE_CHILDREN) - c0
    k = result.stats["input"]
    print(
        f"| {label} | {1e6 * main / k:.1f} | {1e6 * workers / k:.1f} | {1e6 * (main + workers) / k:.1f} | {wall:.1f} "
        f"| {k / wall:,.0f} | {result.stats.get('kept')} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["steps", "curate"])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3, help="steps: passes over the records, the best counts")
    ap.add_argument("--label", default="this tree")
    args = ap.parse_args()
    if args.what == "steps":
        steps(args.n, args.repeat, args.label)
    else:
        curate_cpu(args.n, args.label)


if __name__ == "__main__":
    main()
