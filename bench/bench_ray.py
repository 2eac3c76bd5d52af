"""The Ray executor against the local one, and curation's peak memory as the data grows (issue 19).

Two measurements, each on generated records:

- ``throughput``: the same recipe and input curated by the local executor (``workers`` processes),
  the Ray executor with ``workers`` Ray CPUs (exact and MinHash dedup finished on the cluster, then on the
  driver as before round 6), and the Ray executor with 1; records/s of each, the
  Ray overhead as a ratio in one sitting, and whether the decisions are identical (kept records,
  dropped records and ledger rows, order aside). Also the bytes each record costs between the driver
  and the cluster (records out, verdicts and the global steps' prepared state back).
- ``memory``: peak RSS of one local curation (one process, ``workers: 1``) at each size, in a fresh
  child process per size; growth per record between sizes. ``--src`` puts another checkout's
  ``src`` first on the child's path (``--src /work/main/src``: the code before the compact state).

Records: ``--data noisy`` is curatune.generate's noisy Alpaca set (planted defects, the default
recipe's input); ``--data words`` is a faster generator for large sizes: 60-word texts from a
5,000-word vocabulary, 5% exact copies and 5% near copies (3 words changed) of earlier records' answers
(each with its own instruction); ``--data dups`` the same with each copy's instruction its original's, so that
the copies are exact and near duplicates of whole records.
``--recipe default`` is the default recipe; ``--recipe dedup`` three light steps then exact and
MinHash dedup (what keeps per-record state); MINHASH_VERIFY=signature|parts in the environment
sets dedup.minhash's verify (the default is parts).

    python bench/bench_ray.py throughput --n 100000 --data noisy --recipe default
    python bench/bench_ray.py throughput --n 1000000 --data words --recipe dedup
    python bench/bench_ray.py memory --sizes 100000 1000000 4000000 --data words --recipe dedup
    python bench/bench_ray.py memory --sizes 100000 400000 --data noisy --recipe default --src /work/main/src
    python bench/bench_ray.py exact-speed      # dedup.exact's observe + decide (PYTHONPATH=<other tree>/src to compare)
    python bench/bench_ray.py finish-speed --n 100000 --save /tmp/v.pkl   # MinHash's finish, CPU; --compare /tmp/v.pkl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("BENCH_RAY_CACHE", "/tmp/bench_ray"))

DEDUP_STEPS = [
    {"step": "clean.whitespace"},
    {"step": "filter.empty_answer"},
    {"step": "filter.min_length", "min_chars": 20},
    {"step": "dedup.exact"},
    {"step": "dedup.minhash", **({"verify": os.environ["MINHASH_VERIFY"]} if os.environ.get("MINHASH_VERIFY") else {})},
]


def words_data(path: Path, n: int, seed: int = 0, copy_prompt: bool = False) -> None:
    """``n`` Alpaca records of 60 random words; 5% exact and 5% near copies (3 words changed) of earlier ones' answers.
    ``copy_prompt`` (``--data dups``): a copy has its original's instruction too (an exact or near duplicate of the whole
    record); otherwise its own, so that only the answers repeat."""
    import orjson

    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    texts: list[str] = []
    asked: list[str] = []  # the instruction of each text in texts
    with open(path, "wb") as f:
        for i in range(n):
            r = rng.random()
            prompt = f"Question {i % 1000}?"
            if i > 10 and r < 0.05:
                j = rng.randrange(len(texts))
                text = texts[j]
                prompt = asked[j] if copy_prompt else prompt
            elif i > 10 and r < 0.10:
                j = rng.randrange(len(texts))
                words = texts[j].split()
                for _ in range(3):
                    words[rng.randrange(len(words))] = rng.choice(vocab)
                text = " ".join(words)
                prompt = asked[j] if copy_prompt else prompt
            else:
                text = " ".join(rng.choices(vocab, k=60))
            if len(texts) < 200_000:
                texts.append(text)
                asked.append(prompt)
            else:
                j = rng.randrange(200_000)
                texts[j], asked[j] = text, prompt
            f.write(orjson.dumps({"id": f"w{i}", "instruction": prompt, "input": "", "output": text}) + b"\n")


def dataset(kind: str, n: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{kind}-{n}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp.jsonl")
        if kind == "noisy":
            from curatune.generate import generate_noisy

            generate_noisy(tmp, n=n, seed=0)
        else:
            words_data(tmp, n, copy_prompt=kind == "dups")
        tmp.rename(path)
    return path


def recipe(data: Path, recipe_kind: str, executor: str, workers: int, runs: Path, name: str):
    from curatune.config.recipe import parse_recipe

    curate: dict = {"workers": workers}
    if executor != "local":
        curate["executor"] = executor  # (left out for local: --src may be code from before the executor setting)
    if recipe_kind == "dedup":
        curate["steps"] = DEDUP_STEPS
    return parse_recipe({"name": name, "runs_dir": str(runs), "data": {"path": str(data)}, "curate": curate})


def digest(run_dir: Path) -> dict[str, str]:
    """Order-free digests of the kept records, the dropped records and the ledger rows."""
    import orjson
    import pyarrow.parquet as pq

    out = {}
    for name in ("kept", "dropped"):
        lines = (run_dir / "data" / f"{name}.jsonl").read_bytes().splitlines()
        out[name] = hashlib.sha256(b"\n".join(sorted(lines))).hexdigest()[:16]
    rows = sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in pq.read_table(run_dir / "ledger.parquet").to_pylist())
    out["ledger"] = hashlib.sha256(b"\n".join(rows)).hexdigest()[:16]
    return out


def throughput(args: argparse.Namespace) -> None:
    import ray.data  # noqa: F401  (imported before the first timed row: its import is not the first Ray row's cost)

    import curatune.stages.curate as stage
    from curatune.curation.pipeline.ray_executor import RayExecutor

    data = dataset(args.data, args.n)
    runs = CACHE / "runs"
    made: list[RayExecutor] = []
    real = stage.build_executor

    on_cluster = [True]

    def keep_ref(r):
        ex = real(r)
        if isinstance(ex, RayExecutor):
            ex.global_on_cluster = on_cluster[0]
            made.append(ex)
        return ex

    stage.build_executor = keep_ref
    rows = []
    rows_of = {"local": ("local", args.workers, None), "cluster": ("ray", args.workers, True), "driver": ("ray", args.workers, False)}
    rows_of["cluster1"] = ("ray", 1, True)
    runs_of = [rows_of[name] for name in args.rows.split(",")]
    for executor, workers, global_on_cluster in runs_of:
        on_cluster[0] = bool(global_on_cluster)
        r = recipe(data, args.recipe, executor, workers, runs, f"{executor}-{workers}")
        t0, c0 = time.perf_counter(), time.process_time()
        res = stage.curate(r, force=True)
        seconds, driver_cpu = time.perf_counter() - t0, time.process_time() - c0
        ex = made[-1] if executor == "ray" else None
        rows.append(
            {
                "executor": executor,
                "workers": workers,
                # where exact and MinHash dedup finish: on the cluster (issue 19, round 6) or on the driver
                "global_steps": "-"
                if ex is None
                else ("cluster: " + "+".join(ex.finished_on_cluster) if ex.finished_on_cluster else "driver"),
                "seconds": round(seconds, 1),
                "records_per_s": round(res.stats["input"] / seconds),
                # CPU of this process (the driver; for local, the main process): its records per CPU-second bound a run
                "driver_cpu_s": round(driver_cpu, 1),
                "kept": res.stats["kept"],
                "dropped": res.stats["dropped"],
                "digest": digest(res.run_dir),
                "bytes_out_per_record": round(ex.bytes_out / max(1, ex.records)) if ex else None,
                "bytes_back_per_record": round(ex.bytes_back / max(1, ex.records)) if ex else None,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    print(f"\n{args.n:,} {args.data} records, recipe {args.recipe}")
    print(
        "| executor | Ray CPUs / workers | global steps finish on | seconds | records/s | time / local | bytes to cluster per record "
        "| bytes back per record | driver CPU s | kept | dropped | same decisions |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        same = "yes" if row["digest"] == base["digest"] else "**no**"
        ratio = row["seconds"] / base["seconds"]
        print(
            f"| {row['executor']} | {row['workers']} | {row['global_steps']} | {row['seconds']} | {row['records_per_s']:,} | {ratio:.2f} | "
            f"{row['bytes_out_per_record'] or '-'} | {row['bytes_back_per_record'] or '-'} | {row['driver_cpu_s']} | {row['kept']:,} | "
            f"{row['dropped']:,} | {same} |"
        )


def memory_child(args: argparse.Namespace) -> None:
    from curatune.stages.curate import curate

    data = Path(args.path)
    t0 = time.perf_counter()
    res = curate(recipe(data, args.recipe, "local", 1, CACHE / "runs-mem", f"mem-{args.n}"), force=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"n": res.stats["input"], "peak_mb": round(peak), "seconds": round(seconds, 1), "kept": res.stats["kept"]}))


def memory(args: argparse.Namespace) -> None:
    results = []
    for n in args.sizes:
        path = dataset(args.data, n)
        env = dict(os.environ)
        if args.src:
            env["PYTHONPATH"] = args.src + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, __file__, "_memory_child", str(path), "--n", str(n), "--recipe", args.recipe]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results.append(json.loads(out))
        print(out, flush=True)
    print(f"\nlocal curation, one process, recipe {args.recipe}, {args.data} records, code from {args.src or 'this checkout'}")
    print("| records | peak RSS MB | seconds | growth since the previous size (bytes/record) |")
    print("|---|---|---|---|")
    prev = None
    for r in results:
        growth = f"{(r['peak_mb'] - prev['peak_mb']) * 2**20 / (r['n'] - prev['n']):.0f}" if prev else "-"
        print(f"| {r['n']:,} | {r['peak_mb']} | {r['seconds']} | {growth} |")
        prev = r


def exact_speed(args: argparse.Namespace) -> None:
    """``dedup.exact``'s observe and decide in this process over 200,000 records (10% repeats): best of 3."""
    from curatune.curation.dedup.exact import ExactDedup
    from curatune.curation.record import Record

    rng = random.Random(0)
    recs = [Record(f"id-{i}", text=f"text {rng.randrange(180_000)}") for i in range(200_000)]
    best = []
    for _ in range(3):
        step = ExactDedup()
        prepared = [step.prepare(r) for r in recs]
        t0 = time.perf_counter()
        for r, p in zip(recs, prepared):
            step.observe(r, p)
            step.decide(r)
        best.append(time.perf_counter() - t0)
    print(f"dedup.exact observe + decide, 200,000 records: best of 3 {min(best):.3f} s")


def finish_speed(args: argparse.Namespace) -> None:
    """dedup.exact + dedup.minhash observing ``--n`` words records (prepared first, not timed), then MinHash's
    ``finish``: CPU seconds of observe and finish, best of ``--rounds``; ``--save F`` / ``--compare F`` the verdicts and
    clusters (PYTHONPATH=<other tree>/src to compare two versions, alternating)."""
    import gc
    import pickle

    import orjson

    from curatune.curation.dedup.exact import ExactDedup
    from curatune.curation.dedup.minhash import MinHashDedup
    from curatune.curation.record import Record

    path = dataset("words", args.n)
    recs = []
    with open(path, "rb") as f:
        for line in f:
            d = orjson.loads(line)
            recs.append(
                Record(d["id"], messages=[{"role": "user", "content": d["instruction"]}, {"role": "assistant", "content": d["output"]}])
            )
    verify = os.environ.get("MINHASH_VERIFY") or None
    prepared = None
    best_observe, best_finish = float("inf"), float("inf")
    for _ in range(args.rounds):
        exact, near = ExactDedup(), MinHashDedup(verify=verify)
        if prepared is None:
            prepared = [
                (exact.prepare(r), p)
                for i in range(0, len(recs), 256)
                for r, p in zip(recs[i : i + 256], near.prepare_batch(recs[i : i + 256]))
            ]
        gc.collect()
        t0 = time.process_time()
        for r, (pe, pm) in zip(recs, prepared):
            exact.observe(r, pe)
            if exact.decide(r).action == "keep":
                near.observe(r, pm)
        t1 = time.process_time()
        near.finish()
        t2 = time.process_time()
        best_observe, best_finish = min(best_observe, t1 - t0), min(best_finish, t2 - t1)
    out = {"verdicts": near._verdicts, "clusters": near._clusters}
    print(
        f"{args.n:,} words records, verify {near._verify}: observe {best_observe:.2f} s, MinHash finish {best_finish:.2f} s CPU "
        f"(best of {args.rounds}); {len(near._verdicts):,} near duplicates"
    )
    if args.save:
        Path(args.save).write_bytes(pickle.dumps(out))
    if args.compare:
        before = pickle.loads(Path(args.compare).read_bytes())
        print("same verdicts and clusters" if before == out else "**DIFFERENT verdicts or clusters**")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--n", type=int, default=100_000)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument(
        "--rows",
        default="local,cluster,driver,cluster1",
        help="which runs, in order (the first is the reference): local, cluster (Ray, dedup finished on the cluster), "
        "driver (Ray, every global step on the driver), cluster1 (cluster with 1 Ray CPU)",
    )
    m = sub.add_parser("memory")
    m.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    m.add_argument("--src", default=None)
    sub.add_parser("exact-speed")
    f = sub.add_parser("finish-speed")
    f.add_argument("--n", type=int, default=100_000)
    f.add_argument("--rounds", type=int, default=3)
    f.add_argument("--save", default=None)
    f.add_argument("--compare", default=None)
    c = sub.add_parser("_memory_child")
    c.add_argument("path")
    c.add_argument("--n", type=int)
    for p in (t, m, c):
        p.add_argument("--data", choices=("noisy", "words", "dups"), default="words")
        p.add_argument("--recipe", choices=("default", "dedup"), default="dedup")
    args = ap.parse_args()
    {"throughput": throughput, "memory": memory, "exact-speed": exact_speed, "finish-speed": finish_speed, "_memory_child": memory_child}[
        args.cmd
    ](args)


if __name__ == "__main__":
    main()
