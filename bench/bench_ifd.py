"""IFD (score.ifd) throughput on CPU with the packaged SmolLM2-135M-Instruct, per batch size.

On the first ``--n`` records with an answer of ../shared/data/alpaca_random_9k.json
(already a random sample; skipped when absent): model load time (the GGUF
conversion, when the converted copy is not cached yet, is timed on its own), then
records/s for each batch size, as wall time and as CPU time of this process
(the machine is shared: CPU time does not charge other jobs to the model). With
OMP_NUM_THREADS=1 the two agree on a quiet machine. The scores of every batch size
are compared with batch size 1, and the 5 highest and lowest IFD pairs printed.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ifd.py                      # 200 records, batch sizes 1, 8, 16
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ifd.py --n 50 --batch-sizes 8

Writes bench/out/ifd.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from curatune.curation.read.records import read_records  # noqa: E402
from curatune.curation.score.ifd import answer_pair, ifd_scores, load_lm  # noqa: E402
from curatune.models.causal_lm import converted_gguf  # noqa: E402
from curatune.models.packaged import smollm2_gguf  # noqa: E402
from curatune.models.tokenizer import cache_dir, gguf_cache_key  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "alpaca_random_9k.json"


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="records with an answer to score")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    ap.add_argument("--max-tokens", type=int, default=512)
    args = ap.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent (this benchmark reads ../shared/data and never copies it)")
        return

    recs = [r for r in read_records([DATA]) if hasattr(r, "messages")]
    pairs, ids = [], []
    for r in recs:
        p = answer_pair(r)
        if p is not None:
            pairs.append(p)
            ids.append(r.id)
        if len(pairs) == args.n:
            break

    gguf = smollm2_gguf()
    cached = (cache_dir() / "models" / gguf_cache_key(gguf) / "config.json").is_file()
    # Only a first run converts; a cached run times what every later run pays (imports included).
    convert_wall = convert_cpu = 0.0
    if not cached:
        _, convert_wall, convert_cpu = timed(lambda: converted_gguf(gguf))
    lm, load_wall, load_cpu = timed(lambda: load_lm("default"))
    tok = lm.tokenizer
    n_tokens = sum(len(tok(a, add_special_tokens=False)["input_ids"]) for _, a in pairs)

    rows, results = [], {}
    for bs in args.batch_sizes:
        scores, wall, cpu = timed(lambda bs=bs: ifd_scores(pairs, lm, max_tokens=args.max_tokens, batch_size=bs))
        results[bs] = scores
        rows.append(
            {
                "batch_size": bs,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "records_per_s_wall": round(len(pairs) / wall, 2),
                "records_per_s_cpu": round(len(pairs) / cpu, 2),
            }
        )
        print(f"batch {bs}: {len(pairs) / wall:.2f} records/s wall, {len(pairs) / cpu:.2f} per CPU second", file=sys.stderr, flush=True)

    ref = results[args.batch_sizes[0]]
    for row in rows:
        got = results[row["batch_size"]]
        row["max_rel_diff_ifd"] = max((abs(g["ifd"] - r["ifd"]) / r["ifd"] for g, r in zip(got, ref) if g and r), default=0.0)

    scored = [(s["ifd"], s["answer_ppl"], i) for i, s in enumerate(ref) if s is not None]
    scored.sort()
    above_one = sum(1 for x in scored if x[0] > 1)

    print(f"\nIFD with SmolLM2-135M-Instruct (packaged GGUF, float32), {len(pairs)} Alpaca records ({n_tokens:,} answer tokens), "
          f"max_tokens {args.max_tokens}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}\n")  # fmt: skip
    conv = "cached" if cached else f"{convert_wall:.1f} s wall ({convert_cpu:.1f} s CPU), first run only"
    print(f"Model load: {load_wall:.1f} s wall ({load_cpu:.1f} s CPU); GGUF conversion: {conv}\n")
    print(
        "| batch size (sequences; 2 per record) | records/s (wall) | records/s (CPU time) | seconds (wall) | max rel. IFD diff vs batch 1 |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        speed = f"{row['records_per_s_wall']:.2f} | {row['records_per_s_cpu']:.2f} | {row['wall_s']:.1f}"
        print(f"| {row['batch_size']} | {speed} | {row['max_rel_diff_ifd']:.1e} |")
    print(f"\nIFD > 1 (Cherry LLM drops these): {above_one} of {len(scored)}")
    for title, chosen in (("Highest IFD", scored[::-1][:5]), ("Lowest IFD", scored[:5])):
        print(f"\n{title}:")
        for ifd, ppl, i in chosen:
            prompt = " / ".join(m["content"] for m in pairs[i][0] if m["role"] == "user")
            print(f"- {ifd:.3f} (answer ppl {ppl:.1f}) {ids[i]}: Q: {short(prompt)!r} A: {short(pairs[i][1])!r}")

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "records": len(pairs),
        "answer_tokens": n_tokens,
        "max_tokens": args.max_tokens,
        "omp_num_threads": os.environ["OMP_NUM_THREADS"],
        "conversion": None if cached else {"wall_s": round(convert_wall, 2), "cpu_s": round(convert_cpu, 2)},
        "load": {"wall_s": round(load_wall, 2), "cpu_s": round(load_cpu, 2)},
        "batches": rows,
        "ifd_above_one": above_one,
        "highest": [{"id": ids[i], "ifd": ifd, "answer_ppl": ppl} for ifd, ppl, i in scored[::-1][:5]],
        "lowest": [{"id": ids[i], "ifd": ifd, "answer_ppl": ppl} for ifd, ppl, i in scored[:5]],
    }
    path = out / "ifd.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
