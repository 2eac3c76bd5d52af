"""MinHash near-duplicate dedup: records/s and agreement against datasketch and datatrove, and memory at 1M.

Records: ../shared/data/alpaca_random_9k.json, then seeded copies of random
originals up to ``--n`` records: 20% verbatim, the rest with 2-20% of their
words replaced, deleted or inserted, so near duplicates of every strength
exist. Each tool runs end to end over the records in one process (wall and
CPU seconds are both shown: CPU time is steadier on a busy machine): shingling,
MinHash, LSH, verification and clustering, and the per-record decision.

- curatune: ``dedup.minhash`` (prepare_batch in batches of 1,024 -> observe -> finish -> decide), with
  the numpy MinHash kernel and with rensa's; and the same step run by
  curatune's Pipeline with 2 worker processes (signatures in the workers,
  records spooled to disk between the passes; its CPU column counts the main
  process only);
- datasketch: ``MinHash.update_batch`` over the same word 5-gram shingles
  (same tokenisation) + ``MinHashLSH`` with the same bands x rows; candidates
  verified by estimated Jaccard >= threshold; union-find, first kept;
- datatrove (if installed): its four MinHash stages (signatures, buckets,
  cluster, filter) with the same n-gram size and bands x rows, on local temp
  folders. datatrove does not verify candidates and normalises text its own
  way (digits, punctuation), so its drop count differs somewhat.

Truth: a copy is a planted near duplicate when the exact Jaccard of its
shingles to its original is >= threshold; recall is the share of those
dropped. Agreement: Jaccard of the dropped-id sets.

Memory: ``dedup.minhash`` state for ``--memory-n`` records (1,000,000) with
synthetic signatures (10% planted duplicates), measured with tracemalloc
(peak while observing and finishing) and as an RSS delta.

    .venv/bin/python bench/bench_dedup.py            # 60,000 records, memory at 1M
    .venv/bin/python bench/bench_dedup.py --quick    # 15,000 records, memory at 200k
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil

from curatune.curation.dedup.exact import dedup_text
from curatune.curation.dedup.minhash import MinHashDedup
from curatune.curation.dedup.shingle import exact_jaccard, words
from curatune.curation.pipeline import Sink
from curatune.curation.record import Record
from curatune.curation.step import KEEP

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_random_9k.json"
OUT = Path(__file__).resolve().parent / "out" / "dedup.json"


def _edit(text: str, frac: float, rng: random.Random, vocab: list[str]) -> str:
    toks = text.split()
    out = []
    for t in toks:
        u = rng.random()
        if u < frac / 3:
            continue  # delete
        if u < 2 * frac / 3:
            out.append(rng.choice(vocab))  # replace
            continue
        out.append(t)
        if u < frac:
            out.append(rng.choice(vocab))  # insert
    return " ".join(out)


def build_records(n: int, seed: int = 0) -> tuple[list[Record], dict[str, str]]:
    """Alpaca originals then seeded copies; returns the records and ``copy id -> original id``."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    vocab = sorted({w for d in data[:500] for w in d["output"].split()})
    recs, origin = [], {}
    for i, d in enumerate(data[:n]):
        prompt = d["instruction"] + ("\n" + d["input"] if d["input"] else "")
        recs.append(Record(id=f"o{i}", messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": d["output"]}]))
    base = len(recs)
    for i in range(n - base):
        src = recs[rng.randrange(base)]
        msgs = [dict(m) for m in src.messages]
        if rng.random() >= 0.2:
            frac = rng.uniform(0.02, 0.2)
            msgs = [{"role": m["role"], "content": _edit(m["content"], frac, rng, vocab)} for m in msgs]
        rid = f"c{i}"
        recs.append(Record(id=rid, messages=msgs))
        origin[rid] = src.id
    return recs, origin


def run_curatune(recs: list[Record], threshold: float, ngram: int, backend: str) -> tuple[float, set[str]]:
    step = MinHashDedup(threshold=threshold, ngram=ngram, backend=backend)
    t0 = time.perf_counter()
    # Batches of 1,024, as the pipeline hands them to prepare_batch (rensa: one record at a time).
    for start in range(0, len(recs), 1024):
        batch = recs[start : start + 1024]
        for r, prepared in zip(batch, step.prepare_batch(batch)):
            step.observe(r, prepared)
    step.finish()
    dropped = {r.id for r in recs if step.decide(r) is not KEEP}
    return time.perf_counter() - t0, dropped


class _DropSink(Sink):
    def __init__(self):
        self.dropped: set[str] = set()

    def keep(self, rec):
        pass

    def drop(self, item, event):
        self.dropped.add(item.id)

    def event(self, event):
        pass


def run_pipeline(recs: list[Record], threshold: float, ngram: int, workers: int) -> tuple[float, set[str]]:
    """The step inside curatune's Pipeline: signatures in worker processes, records spooled to disk and read back."""
    from curatune.curation.pipeline import Pipeline, PipelineStep

    sink = _DropSink()
    t0 = time.perf_counter()
    Pipeline([PipelineStep(MinHashDedup(threshold=threshold, ngram=ngram))], workers=workers, batch_size=1024).run(recs, sink)
    return time.perf_counter() - t0, sink.dropped


def _shingles(text: str, ngram: int) -> list[bytes]:
    toks = words(text)
    if len(toks) < ngram:
        return [b" ".join(toks)]
    return [b" ".join(toks[i : i + ngram]) for i in range(len(toks) - ngram + 1)]


def run_datasketch(recs: list[Record], threshold: float, ngram: int, bands: int, rows: int) -> tuple[float, set[str]]:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    sigs = []
    for i, r in enumerate(recs):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch(_shingles(dedup_text(r, "record"), ngram))
        sigs.append(m)
        for j in lsh.query(m):
            if m.jaccard(sigs[j]) >= threshold:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the smaller index is the root: first kept
        lsh.insert(i, m)
    dropped = {recs[i].id for i in range(len(recs)) if root(i) != i}
    return time.perf_counter() - t0, dropped


def run_datatrove(recs: list[Record], ngram: int, bands: int, rows: int) -> tuple[float, set[str]]:
    import logging

    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig
    from loguru import logger

    logger.remove()
    logging.disable(logging.INFO)

    def drain(x):
        if x is not None:
            for _ in x:
                pass

    # datatrove 0.10.1's xxhash path passes str to xxhash 4, which wants bytes: use its sha1 hash instead.
    cfg = MinhashConfig(n_grams=ngram, num_buckets=bands, hashes_per_bucket=rows, hash_config=HashConfig(precision=64, hash_fc="sha1"))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        docs = [Document(text=dedup_text(r, "record"), id=r.id) for r in recs]
        drain(MinhashDedupSignature(f"{d}/sigs", config=cfg).run(iter(docs), 0, 1))
        for b in range(bands):
            drain(MinhashDedupBuckets(f"{d}/sigs", f"{d}/buckets", config=cfg).run(None, b, bands))
        drain(MinhashDedupCluster(f"{d}/buckets", f"{d}/remove_ids", config=cfg).run(None, 0, 1))
        kept = {doc.id for doc in MinhashDedupFilter(f"{d}/remove_ids").run(iter(docs), 0, 1)}
        seconds = time.perf_counter() - t0
    return seconds, {r.id for r in recs} - kept


def memory(n: int, dup_every: int = 10) -> dict:
    """Peak memory of the step's state for ``n`` records of synthetic signatures."""
    step = MinHashDedup()
    b, _ = step.band_params
    rng = np.random.default_rng(0)
    proc = psutil.Process()
    gc.collect()
    rss0 = proc.memory_info().rss
    tracemalloc.start()
    t0 = time.perf_counter()
    chunk = 10_000
    rec = Record(id="")
    for start in range(0, n, chunk):
        bands = rng.integers(0, 2**63, size=(chunk, b), dtype=np.uint64)
        sigs = rng.integers(0, 2**16, size=(chunk, step.num_perm), dtype=np.uint16)
        bands[::dup_every] = bands[1::dup_every][: bands[::dup_every].shape[0]]  # every 10th repeats its neighbour
        sigs[::dup_every] = sigs[1::dup_every][: sigs[::dup_every].shape[0]]
        for i in range(chunk):
            rec.id = f"r{start + i}"
            step.observe(rec, (bands[i].tobytes(), sigs[i].tobytes(), 100))
    del bands, sigs
    observed = tracemalloc.get_traced_memory()[0]
    rss_observed = proc.memory_info().rss - rss0
    step.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "records": n,
        "state_after_observe_mb": round(observed / 2**20, 1),
        "peak_observe_and_finish_mb": round(peak / 2**20, 1),
        "rss_delta_after_observe_mb": round(rss_observed / 2**20, 1),
        "rss_delta_after_finish_mb": round((proc.memory_info().rss - rss0) / 2**20, 1),
        "near_duplicates_found": len(step._verdicts),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="15,000 records and memory at 200,000")
    ap.add_argument("--n", type=int, default=None, help="records (default 60,000; --quick 15,000)")
    ap.add_argument("--memory-n", type=int, default=None, help="records for the memory test (default 1,000,000)")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--ngram", type=int, default=3)
    ap.add_argument("--no-datatrove", action="store_true")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: this benchmark needs ../shared/data/alpaca_random_9k.json")
    n = args.n or (15_000 if args.quick else 60_000)
    mem_n = args.memory_n or (200_000 if args.quick else 1_000_000)

    recs, origin = build_records(n)
    texts = {r.id: dedup_text(r, "record") for r in recs}
    true_jac = {c: exact_jaccard(texts[c], texts[o], args.ngram) for c, o in origin.items()}
    planted = {c for c, j in true_jac.items() if j >= args.threshold}
    bands, rows = MinHashDedup(threshold=args.threshold, ngram=args.ngram).band_params

    results: dict[str, dict] = {}
    runs = [
        ("curatune (numpy)", lambda: run_curatune(recs, args.threshold, args.ngram, "numpy")),
        ("curatune (rensa)", lambda: run_curatune(recs, args.threshold, args.ngram, "rensa")),
        ("curatune Pipeline, 2 workers", lambda: run_pipeline(recs, args.threshold, args.ngram, 2)),
        ("datasketch", lambda: run_datasketch(recs, args.threshold, args.ngram, bands, rows)),
    ]
    if not args.no_datatrove:
        runs.append(("datatrove", lambda: run_datatrove(recs, args.ngram, bands, rows)))
    dropped_sets = {}
    for name, fn in runs:
        cpu0 = time.process_time()
        try:
            seconds, dropped = fn()
        except ImportError as e:
            results[name] = {"error": f"not installed: {e}"}
            continue
        cpu = time.process_time() - cpu0
        dropped_sets[name] = dropped
        results[name] = {
            "records": n,
            "seconds": round(seconds, 3),
            "records_per_s": round(n / seconds),
            "cpu_seconds": round(cpu, 3),
            "records_per_cpu_s": round(n / cpu),
            "dropped": len(dropped),
            "recall_planted": round(len(dropped & planted) / len(planted), 4) if planted else None,
            "dropped_not_planted": len(dropped - planted),
        }
    ref = dropped_sets.get("datasketch")
    for name, res in results.items():
        if name in dropped_sets and ref is not None:
            d = dropped_sets[name]
            res["agreement_with_datasketch"] = round(len(d & ref) / max(1, len(d | ref)), 4)
            res["speed_vs_datasketch"] = round(res["records_per_s"] / results["datasketch"]["records_per_s"], 2)
            res["cpu_speed_vs_datasketch"] = round(res["records_per_cpu_s"] / results["datasketch"]["records_per_cpu_s"], 2)

    print(
        f"\n{n:,} records ({len(origin):,} copies, {len(planted):,} planted near duplicates with exact {args.ngram}-gram Jaccard >= "
        f"{args.threshold}); bands x rows = {bands} x {rows}; one core\n"
    )
    print(
        "| tool | records | seconds | records/s | x datasketch | records/CPU-s | x datasketch (CPU) | dropped | recall on planted | "
        "dropped, not planted | agreement with datasketch |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | {r['error']} |||||||||")
            continue
        print(
            f"| {name} | {r['records']:,} | {r['seconds']:.2f} | {r['records_per_s']:,} | {r.get('speed_vs_datasketch', '')} "
            f"| {r['records_per_cpu_s']:,} | {r.get('cpu_speed_vs_datasketch', '')} | {r['dropped']:,} "
            f"| {r['recall_planted']} | {r['dropped_not_planted']:,} | {r.get('agreement_with_datasketch', '')} |"
        )

    mem = memory(mem_n)
    print(f"\nMemory of dedup.minhash state, {mem['records']:,} synthetic signatures (128 perms, {bands} bands):\n")
    print(
        "| records | state after observe (MB) | peak observe+finish (MB) | RSS delta after observe (MB) | RSS delta after finish (MB) | "
        "seconds |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {mem['records']:,} | {mem['state_after_observe_mb']} | {mem['peak_observe_and_finish_mb']} | "
        f"{mem['rss_delta_after_observe_mb']} | {mem['rss_delta_after_finish_mb']} | {mem['seconds']} |"
    )

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"args": vars(args), "n": n, "planted": len(planted), "bands": bands, "rows": rows, "results": results, "memory": mem}, indent=2
        )
    )
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
