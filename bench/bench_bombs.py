"""Decompression bombs: peak memory and time of `curatune curate` on small compressed files that hold huge records.

- a .jsonl.gz of about 4 MB holding one line of 4 GiB (and a good record before and after it);
- a .json.gz array of about 14 MB holding 14 GiB: good records around one element of 14 GiB.

Both are built in seconds from gzip members concatenated (a gzip stream may hold many; readers
read them as one): one member of 1 MiB of 'a' (about 1 KB compressed) repeated. Each bomb is
curated in a child process (`curatune curate FILE -s curate.steps=[]`, default limits: records
up to 64 MiB, .json parsed whole up to 64 MiB), and the table gives the child's peak resident
memory (ru_maxrss), its wall time, what was kept and what was dropped, with the reason.

    python bench/bench_bombs.py                 # the figures (about 4 + 14 GiB decompressed: a minute or two)
    python bench/bench_bombs.py --gib 0.25      # a quick check at a small scale
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

OUT = Path(__file__).resolve().parent / "out"


def gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def write_bomb(path: Path, before: bytes, fill_mib: int, after: bytes) -> None:
    """``before``, then ``fill_mib`` MiB of 'a', then ``after``, as concatenated gzip members."""
    block = gzip_member(b"a" * (1 << 20))
    with open(path, "wb") as f:
        f.write(gzip_member(before))
        for _ in range(fill_mib):
            f.write(block)
        f.write(gzip_member(after))


def baseline(folder: Path, gib: float) -> Path:
    """The same records without the huge one: what curating costs anyway (the interpreter, the imports)."""
    path = folder / "baseline.jsonl.gz"
    path.write_bytes(gzip_member(b"".join(orjson.dumps({"instruction": f"Q{i}?", "output": "A."}) + b"\n" for i in range(2))))
    return path


def jsonl_bomb(folder: Path, gib: float) -> Path:
    path = folder / "bomb.jsonl.gz"
    good = orjson.dumps({"instruction": "What is 2 + 2?", "output": "4."}) + b"\n"
    write_bomb(path, good + b'{"instruction": "huge", "output": "', int(gib * 1024), b'"}\n' + good.replace(b"2 + 2", b"3 + 3"))
    return path


def json_bomb(folder: Path, gib: float) -> Path:
    path = folder / "bomb.json.gz"
    good = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(3)]
    head = b"[" + b", ".join(orjson.dumps(g) for g in good) + b', {"instruction": "huge", "output": "'
    write_bomb(path, head, int(gib * 1024), b'"}, ' + orjson.dumps({"instruction": "Last?", "output": "Yes."}) + b"]")
    return path


_CHILD = """
import resource, sys, time
from curatune.cli import main
sys.argv = ["curatune", "curate", sys.argv[1], "--runs-dir", sys.argv[2], "-s", "curate.steps=[]", "-s", "curate.workers=1"]
t0 = time.perf_counter()
try:
    main()
except SystemExit:
    pass
print("RESULT", time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""


def measure(path: Path, runs: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(runs)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"curate failed on {path}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    _, seconds, rss_kib = line.split()
    run = runs / path.name.split(".")[0]
    stats = orjson.loads((run / "stats.json").read_bytes())
    return {
        "file": path.name,
        "compressed_mb": round(path.stat().st_size / 1e6, 1),
        "peak_rss_mib": round(int(rss_kib) / 1024),
        "seconds": round(float(seconds), 1),
        "wall_seconds": round(wall, 1),
        "input": stats["input"],
        "kept": stats["kept"],
        "dropped": stats["read_problems"],
        "examples": [(e["line"], e["reason"], e["detail"][:90]) for e in stats["read_problem_examples"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=float, default=None, help="GiB of each huge record (default: 4 in the .jsonl.gz, 14 in the .json.gz).")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for make, gib in ((baseline, 0), (jsonl_bomb, args.gib or 4), (json_bomb, args.gib or 14)):
            path = make(folder, gib)
            rows.append({**measure(path, folder / "runs"), "decompressed_gib": gib})
            path.unlink()
    print(f"load average {os.getloadavg()[0]:.1f} (timings mean little above 2.5)\n")
    print("| file | compressed | decompressed | peak RSS | time | records in | kept | dropped (reason) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['file']} | {r['compressed_mb']} MB | {r['decompressed_gib']} GiB | {r['peak_rss_mib']} MiB | {r['seconds']} s "
            f"| {r['input']} | {r['kept']} | {', '.join(f'{n} {k}' for k, n in r['dropped'].items()) or 'none'} |"
        )
    for r in rows:
        for line, reason, detail in r["examples"]:
            print(f"  {r['file']}:{line} {reason}: {detail}")
    OUT.mkdir(exist_ok=True)
    (OUT / "bombs.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
