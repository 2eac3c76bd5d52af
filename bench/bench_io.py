"""Reading + writing throughput and memory: Alpaca JSONL in, chat ``messages`` JSONL out, one process.

The issue's figure: at least 50,000 Alpaca records per second per core, and peak memory flat (under
500 MB) as the input grows from 100 MB to 2 GB.

Input: ../shared/data/alpaca_random_9k.json (9,229 records) written as JSONL and repeated until the
file reaches each size, in a temporary folder under /tmp that is deleted afterwards. Each size runs in
a fresh child process (so one size's memory cannot hide another's) doing exactly

    with RecordWriter(out, "messages") as w:
        for item in read_records(path):
            w.write(item)

The child reports wall seconds, user and system CPU seconds (``resource.getrusage``) and its peak RSS
(``ru_maxrss``); the parent also polls the child's RSS with psutil. Records per CPU second (user +
system) is the figure that survives a busy machine; wall-clock records/s is printed beside it.

    .venv/bin/python bench/bench_io.py            # 100 MB, 500 MB, 2 GB
    .venv/bin/python bench/bench_io.py --quick    # 100 MB, 500 MB
    .venv/bin/python bench/bench_io.py --sizes 50 --profile   # cProfile of the hot path, top 25
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "alpaca_random_9k.json"
OUT = ROOT / "bench" / "out" / "io.json"
TARGET_RATE = 50_000
TARGET_RSS_MB = 500


def build_input(path: Path, size_mb: int) -> int:
    """Repeat the Alpaca records as JSONL until the file holds ``size_mb`` MB; returns the record count."""
    rows = orjson.loads(DATA.read_bytes())
    block = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    target = size_mb * 1_000_000
    n_blocks, rest = divmod(target, len(block))
    lines = block.splitlines(keepends=True)
    tail, written = [], 0
    for line in lines:
        if written + len(line) > rest:
            break
        tail.append(line)
        written += len(line)
    with open(path, "wb") as f:
        for _ in range(n_blocks):
            f.write(block)
        f.write(b"".join(tail))
    return n_blocks * len(rows) + len(tail)


def child(inp: str, out: str, profile: bool) -> None:
    """One measured run; prints a JSON line with its figures."""
    from curatune.curation.read.records import read_records
    from curatune.curation.write.writers import RecordWriter

    def work() -> int:
        with RecordWriter(out, "messages") as w:
            for item in read_records(inp):
                w.write(item)
        return w.count

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        n = prof.runcall(work)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    else:
        n = work()
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "records": n,
                "seconds": seconds,
                "user_s": r1.ru_utime - r0.ru_utime,
                "sys_s": r1.ru_stime - r0.ru_stime,
                "maxrss_mb": r1.ru_maxrss / 1024,  # kilobytes on Linux
            }
        )
    )


def measure(inp: Path, out: Path, profile: bool) -> dict:
    import psutil

    cmd = [sys.executable, __file__, "--child", str(inp), str(out)] + (["--profile"] if profile else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the child run failed with exit code {proc.returncode}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    result["polled_peak_rss_mb"] = peak / 2**20
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 MB and 500 MB only")
    ap.add_argument("--sizes", type=int, nargs="*", help="input sizes in MB (default 100 500 2000)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of each run to stderr")
    ap.add_argument("--child", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.profile)
        return
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is absent: this benchmark needs ../shared/data/alpaca_random_9k.json")
    sizes = args.sizes or ([100, 500] if args.quick else [100, 500, 2000])
    tmp = Path(tempfile.mkdtemp(prefix="curatune-bench-io-", dir="/tmp"))
    results = []
    try:
        for size in sizes:
            inp, out = tmp / f"alpaca_{size}mb.jsonl", tmp / "out.jsonl"
            n = build_input(inp, size)
            r = measure(inp, out, args.profile)
            assert r["records"] == n, (r["records"], n)
            with open(out, "rb") as f:
                out_lines = sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 24), b""))
            assert out_lines == n, (out_lines, n)
            cpu = r["user_s"] + r["sys_s"]
            row = {
                "input_mb": round(inp.stat().st_size / 1e6, 1),
                "output_mb": round(out.stat().st_size / 1e6, 1),
                "records": n,
                "seconds": round(r["seconds"], 2),
                "user_cpu_s": round(r["user_s"], 2),
                "sys_cpu_s": round(r["sys_s"], 2),
                "records_per_s_wall": round(n / r["seconds"]),
                "records_per_cpu_s": round(n / cpu) if cpu else None,
                "peak_rss_mb": round(max(r["maxrss_mb"], r["polled_peak_rss_mb"]), 1),
                "ru_maxrss_mb": round(r["maxrss_mb"], 1),
                "polled_rss_mb": round(r["polled_peak_rss_mb"], 1),
            }
            results.append(row)
            print(f"done {size} MB: {row}", file=sys.stderr)
            inp.unlink()
            out.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("\n| input MB | records | seconds | user CPU s | records/s (wall) | records/CPU-s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['input_mb']:,.0f} | {r['records']:,} | {r['seconds']:.1f} | {r['user_cpu_s']:.1f} | "
            f"{r['records_per_s_wall']:,} | {r['records_per_cpu_s']:,} | {r['peak_rss_mb']:.0f} |"
        )
    rate = min(r["records_per_cpu_s"] for r in results)
    rss = max(r["peak_rss_mb"] for r in results)
    growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
    print(
        f"\nslowest: {rate:,} records per CPU second (target {TARGET_RATE:,}): {'PASS' if rate >= TARGET_RATE else 'FAIL'}; "
        f"peak RSS {rss:.0f} MB (target < {TARGET_RSS_MB}), growth {growth:+.0f} MB from smallest to largest input: "
        f"{'PASS' if rss < TARGET_RSS_MB else 'FAIL'}"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "what": "read_records(alpaca JSONL) -> RecordWriter(messages JSONL), one process",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
        "target_records_per_cpu_s": TARGET_RATE,
        "target_peak_rss_mb": TARGET_RSS_MB,
        "pass_rate": rate >= TARGET_RATE,
        "pass_memory": rss < TARGET_RSS_MB,
    }
    OUT.write_text(json.dumps(summary, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
