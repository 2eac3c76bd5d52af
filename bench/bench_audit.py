"""Speed of ``curatune audit`` on 100,000 Alpaca-style records, tokenizer included (target: under 60 s on 2 cores).

Builds the records from ../shared/data/alpaca_random_9k.json repeated with
seeded edits (two words swapped, numbers changed, a sentence appended), so the
copies differ; 2% are left as exact copies, to give the duplicate finder work.
The data goes to a temporary JSONL file; then ``run_audit`` runs once with the
default tokenizer (packaged SmolLM2) and languages, and the table shows the
wall time and the busy seconds of each phase (token counting runs in
background threads, overlapping the others, so the phases add up to more
than the wall time).

    .venv/bin/python bench/bench_audit.py            # 100,000 records
    .venv/bin/python bench/bench_audit.py --quick    # 20,000 records
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import orjson  # noqa: E402

from curatune.audit import run_audit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "alpaca_random_9k.json"
SENTENCES = [
    "Let me know if you need more detail.",
    "This is a common question.",
    "I hope this helps.",
    "There are other ways to see it, too.",
    "In short, that is the answer.",
]
_NUMBER = re.compile(r"\d+")


def _edit(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    if len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return _NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), " ".join(words))


def build(path: Path, n: int, seed: int = 0) -> None:
    base = orjson.loads(SOURCE.read_bytes())
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for i in range(n):
            row = dict(base[i % len(base)])
            if i >= len(base) and rng.random() >= 0.02:
                row["instruction"] = _edit(row["instruction"], rng)
                row["output"] = _edit(row["output"], rng) + " " + rng.choice(SENTENCES)
            f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="records to build")
    ap.add_argument("--quick", action="store_true", help="20,000 records")
    ap.add_argument("--token-threads", type=int, default=2, help="threads that run the tokenizer")
    ap.add_argument("--no-languages", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bench_audit.json")
    args = ap.parse_args()
    if not SOURCE.is_file():
        print(f"{SOURCE} is absent: this benchmark needs ../shared/data beside the repository.", file=sys.stderr)
        return 2
    n = 20_000 if args.quick else args.n
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        data = Path(tmp) / "alpaca_100k.jsonl"
        t0 = time.perf_counter()
        build(data, n)
        build_s = time.perf_counter() - t0
        size_mb = data.stat().st_size / 1e6
        t0 = time.perf_counter()
        report = run_audit(str(data), Path(tmp) / "audit", token_threads=args.token_threads, languages=not args.no_languages)
        seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    phases = report["phases"]
    result = {
        "records": report["records"],
        "file_mb": round(size_mb, 1),
        "seconds": round(seconds, 2),
        "records_per_second": round(report["records"] / seconds, 1),
        "phases": phases,
        "phases_cpu": report["phases_cpu"],
        "cpu_seconds": round(sum(os.times()[:2]), 1),
        "token_threads": args.token_threads,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "peak_rss_mb": round(peak_mb, 1),
        "duplicates": report["duplicates"]["record"]["duplicates"],
        "token_mode": report.get("tokens", {}).get("mode"),
        "preview": report["preview"].get("note", report["preview"].get("error")),
        "build_seconds": round(build_s, 2),
    }
    names = ("read", "profile", "tokens", "language", "preview", "report")
    cols = ["records", "measure", "total s", "records/s", *names, "peak RSS MB"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    wall = [f"{result['records']:,}", "wall s", f"{seconds:.1f}", f"{result['records_per_second']:,.0f}"]
    wall += [f"{phases[k]:.1f}" for k in names] + [f"{peak_mb:,.0f}"]
    cpu = ["", "CPU s", f"{result['cpu_seconds']:.1f}", ""] + [f"{report['phases_cpu'][k]:.1f}" for k in names] + [""]
    print("| " + " | ".join(wall) + " |")
    print("| " + " | ".join(cpu) + " |")
    print(
        f"\n{size_mb:.1f} MB JSONL, {result['cpus']} CPUs, {args.token_threads} tokenizer threads; "
        f"phases are busy seconds (tokens overlap the rest; CPU s of the process includes imports); preview on {result['preview']}; "
        f"{result['duplicates']:,} exact duplicates found; token mode {result['token_mode']}."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
