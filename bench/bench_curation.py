"""Curation quality and speed on planted defects.

Generates a noisy Alpaca dataset with known defects (curatune.generate), runs a
recipe (the default recipe unless --recipe), and joins the run's ledger with
the ground truth:

- per planted defect: recall (planted records that a step meant for that defect
  caught: dropped, flagged or repaired with one of the expected reasons) and
  precision (of the records those reasons caught, how many had that defect);
- clean records wrongly dropped (any drop of a record planted as clean);
- malformed lines: reported with the exact line number and reason;
- end-to-end records per second.

    .venv/bin/python bench/bench_curation.py                 # 20,000 records, 20% defective
    .venv/bin/python bench/bench_curation.py --n 100000 --speed-only
    .venv/bin/python bench/bench_curation.py --n 100000 --speed-only --timeline   # when each pass ends
    .venv/bin/python bench/bench_curation.py --n 100000 --speed-only --repeat 5   # five runs, the median
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from curatune.config.recipe import load_recipe, parse_recipe
from curatune.generate import generate_noisy
from curatune.stages.curate import curate

# Which ledger reasons count as catching each planted defect (prefix match on "step:reason").
EXPECTED = {
    "exact_duplicate": ("dedup.exact:exact_duplicate", "dedup.minhash:near_duplicate"),
    "near_duplicate": ("dedup.minhash:near_duplicate", "dedup.exact:exact_duplicate"),
    "empty_answer": ("filter.empty_answer:",),
    "placeholder_answer": ("filter.placeholder_answer:", "filter.empty_answer:"),
    "truncated_answer": ("filter.truncated_answer:",),
    "refusal": ("filter.refusal:",),
    "mojibake": ("clean.unicode:",),
    "ocr_noise": ("filter.ocr_noise:",),
    "off_topic": ("filter.domain", "select.domain"),
    "pii": ("clean.pii:", "filter.pii:"),
    "toxic": ("filter.harmful:",),
    "malformed": ("read:",),
}
# A duplicate is a duplicate, and an empty answer a useless answer, whichever step caught it:
# precision counts a catch as right when the record's planted defect is in the same family.
FAMILY = {"exact_duplicate": "duplicate", "near_duplicate": "duplicate", "empty_answer": "no_answer", "placeholder_answer": "no_answer"}


def evaluate(run_dir: Path, truth_path: Path) -> dict:
    truth = [orjson.loads(line) for line in truth_path.read_bytes().splitlines()]
    ledger = pq.read_table(run_dir / "ledger.parquet").to_pylist()
    by_id: dict[str, list[dict]] = defaultdict(list)
    by_line: dict[int, list[dict]] = defaultdict(list)
    for row in ledger:
        by_id[row["id"]].append(row)
        if row["step"] == "read":
            by_line[row["line"]].append(row)

    def events(t: dict) -> list[dict]:
        return by_line.get(t["line"], []) if t["defect"] == "malformed" else by_id.get(t["id"], [])

    caught_by: dict[str, set[int]] = defaultdict(set)  # defect -> truth indices caught by that defect's reasons
    planted: dict[str, set[int]] = defaultdict(set)
    clean_dropped, clean_total, malformed_exact = [], 0, 0
    for i, t in enumerate(truth):
        planted[t["defect"]].add(i)
        acted = [e for e in events(t) if e["action"] in ("drop", "flag", "modify")]
        keys = [f"{e['step']}:{e['reason']}" for e in acted]
        for defect, prefixes in EXPECTED.items():
            if any(k.startswith(p) for k in keys for p in prefixes):
                caught_by[defect].add(i)
        if t["defect"] == "clean":
            clean_total += 1
            drops = [k for k, e in zip(keys, acted) if e["action"] == "drop"]
            if drops:
                clean_dropped.append((t["id"], drops))
        if t["defect"] == "malformed":
            reads = by_line.get(t["line"], [])
            if any(r["reason"] == t["detail"] and r["line"] == t["line"] for r in reads):
                malformed_exact += 1

    rows = []
    for defect in sorted(planted):
        if defect == "clean":
            continue
        hits = caught_by.get(defect, set())
        tp = len(hits & planted[defect])
        right = len([i for i in hits if FAMILY.get(truth[i]["defect"], truth[i]["defect"]) == FAMILY.get(defect, defect)])
        recall = tp / len(planted[defect]) if planted[defect] else float("nan")
        precision = right / len(hits) if hits else float("nan")
        rows.append(
            {
                "defect": defect,
                "planted": len(planted[defect]),
                "caught": tp,
                "recall": recall,
                "flagged_by_its_steps": len(hits),
                "precision": precision,
            }
        )
    return {
        "per_defect": rows,
        "clean_total": clean_total,
        "clean_dropped": len(clean_dropped),
        "clean_dropped_rate": len(clean_dropped) / clean_total if clean_total else 0.0,
        "clean_dropped_examples": clean_dropped[:20],
        "clean_dropped_by": dict(Counter(k for _, ks in clean_dropped for k in ks).most_common()),
        "malformed_planted": len(planted.get("malformed", ())),
        "malformed_exact_line_and_reason": malformed_exact,
    }


def machine_speed() -> float:
    """CPU seconds of a fixed pure-Python loop: this shared machine's speed drifts by up to 2x within minutes."""
    t0 = time.process_time()
    x = 0
    for i in range(5_000_000):
        x += i
    return round(time.process_time() - t0, 2)


def _cpu(who: str) -> float:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def watch_passes(t0: float) -> None:
    """Print the time and the main process's CPU each time a pass ends (its global steps have finished)."""
    from curatune.curation.pipeline.passes import PassRunner

    finish = PassRunner._finish

    def timed(self, p):
        finish(self, p)
        print(f"pass ends at {time.perf_counter() - t0:.1f} s; main process CPU so far {_cpu('self'):.1f} s", flush=True)

    PassRunner._finish = timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--defect-rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipe", help="a recipe YAML; its data.path is replaced by the generated file")
    ap.add_argument("--workers", default="auto")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="curate the generated file this many times; the median is reported")
    ap.add_argument("--timeline", action="store_true", help="print when each pass of the pipeline ends, and main-process and worker CPU")
    ap.add_argument("--out", default="bench/out/curation.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "noisy.jsonl"
        t0 = time.perf_counter()
        gen = generate_noisy(data, n=args.n, defect_rate=args.defect_rate, seed=args.seed)
        t_gen = time.perf_counter() - t0
        overrides = [f"data.path={data}", f"runs_dir={tmp}/runs", f"curate.workers={args.workers}"]
        if args.recipe:
            recipe = load_recipe(args.recipe, overrides)
        else:
            from curatune.config.recipe import apply_overrides

            recipe = parse_recipe(apply_overrides({"name": "bench", "data": {"path": str(data)}}, overrides[1:]))
        runs = []
        for _ in range(args.repeat):
            speed = machine_speed()
            t0 = time.perf_counter()
            if args.timeline:
                watch_passes(t0)
            result = curate(recipe, force=True)
            seconds = time.perf_counter() - t0
            if args.timeline:
                print(f"end {seconds:.1f} s; CPU: main process {_cpu('self'):.1f} s, workers {_cpu('children'):.1f} s")
            runs.append(
                {
                    "seconds": round(seconds, 2),
                    "records_per_second": round(result.stats["input"] / seconds),
                    "reference_loop_seconds": speed,
                }
            )
        if args.repeat > 1:
            # This machine's speed drifts (a shared host): each run comes with the time of a fixed Python loop.
            print("\n| run | reference loop (s, lower is a faster machine) | wall s | records/s |")
            print("|---:|---:|---:|---:|")
            for i, r in enumerate(runs, 1):
                print(f"| {i} | {r['reference_loop_seconds']} | {r['seconds']} | {r['records_per_second']:,} |")
            print(f"\nmedian: {statistics.median(r['records_per_second'] for r in runs):,.0f} records/s")
        seconds = statistics.median(r["seconds"] for r in runs)
        stats = result.stats
        report = {
            "n": args.n,
            "defect_rate": args.defect_rate,
            "generate_seconds": t_gen,
            "curate_seconds": seconds,
            "records_per_second": stats["input"] / seconds,
            "runs": runs,
            "stats": stats,
        }
        if not args.speed_only:
            report["quality"] = evaluate(result.run_dir, gen.truth_path)

    print(f"\n## Curation on {args.n:,} generated records ({args.defect_rate:.0%} defective), recipe: {args.recipe or 'default'}\n")
    print(
        f"End to end: {seconds:.1f} s, {report['records_per_second']:,.0f} records/s "
        f"(workers={args.workers}{', median of ' + str(args.repeat) + ' runs' if args.repeat > 1 else ''}); generation {t_gen:.1f} s\n"
    )
    print("| step | seen | dropped | flagged | modified | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in stats["steps"]:
        print(f"| {s['step']} | {s['seen']} | {s['dropped']} | {s['flagged']} | {s['modified']} | {s['seconds']:.2f} |")
    if "quality" in report:
        q = report["quality"]
        print(
            "\n(precision: of the records caught by a defect's steps, the share planted with that defect or its family: duplicates, "
            "missing answers)"
        )
        print("\n| planted defect | planted | caught | recall | caught by its steps | precision |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in q["per_defect"]:
            print(
                f"| {r['defect']} | {r['planted']} | {r['caught']} | {r['recall']:.3f} | {r['flagged_by_its_steps']} | "
                f"{r['precision']:.3f} |"
            )
        print(
            f"\nClean records wrongly dropped: {q['clean_dropped']} of {q['clean_total']} ({q['clean_dropped_rate']:.2%}); by "
            f"{q['clean_dropped_by']}"
        )
        print(f"Malformed lines reported with exact line and reason: {q['malformed_exact_line_and_reason']} of {q['malformed_planted']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
