"""Speed and verdict counts of the quality, OCR, language, harmful-content and token-length steps.

On the real alpaca_random_9k (and dolly_3k): records/s of each step on one
core (CPU time of the process, setup excluded; the language steps share a
cache of detections, so each is timed cold, on its own), how many records each step fails and with which
reason. On a generated noisy set (curatune.generate, planted defects): recall
of filter.ocr_noise on `ocr_noise` and filter.harmful on `toxic`, and clean
records failed by any of these steps. For filter.token_length: how often the
fast count (template overhead per role sequence + per-message counts) differs
from rendering the chat template per record.

    .venv/bin/python bench/bench_quality_filters.py            # everything
    .venv/bin/python bench/bench_quality_filters.py --quick    # 2,000 real records, 2,000 generated
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from curatune.curation.filter._langid import _predict  # noqa: E402
from curatune.curation.read.records import read_records  # noqa: E402
from curatune.curation.registry import build_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
STEPS = [
    ("filter.gopher_quality", {}),
    ("filter.gopher_repetition", {}),
    ("filter.c4_quality", {}),
    ("filter.fineweb_quality", {}),
    ("filter.ocr_noise", {}),
    ("filter.language", {}),
    ("filter.answer_language", {}),
    ("filter.harmful", {}),
    ("filter.token_length", {}),
]
# Which planted defect each step is meant to catch (for recall on the generated set).
TARGET = {"filter.ocr_noise": "ocr_noise", "filter.harmful": "toxic", "filter.token_length": "empty_answer"}


def real_records(limit: int | None) -> dict[str, list]:
    out = {}
    for name in ("alpaca_random_9k.json", "dolly_3k.json"):
        path = SHARED / name
        if not path.is_file():
            sys.exit(f"{path} is missing: this benchmark reads ../shared/data (never copied into the repository).")
        recs = [r for r in read_records([path]) if hasattr(r, "messages")]
        out[name] = recs[:limit] if limit else recs
    return out


def timed(step, recs) -> tuple[float, Counter]:
    reasons: Counter = Counter()
    # CPU time of this process: the machine is shared, and wall time would charge other jobs to the step.
    t0 = time.process_time()
    for r in recs:
        v = step.keep(r)
        if v.action != "keep":
            reasons[v.reason] += 1
    return time.process_time() - t0, reasons


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 records of each set")
    ap.add_argument("--n-generated", type=int, default=6000)
    args = ap.parse_args()
    limit = 2000 if args.quick else None
    n_gen = 2000 if args.quick else args.n_generated

    data = real_records(limit)
    alpaca = data["alpaca_random_9k.json"]
    both = alpaca + data["dolly_3k.json"]

    from curatune.generate import generate_noisy

    tmp = Path(tempfile.mkdtemp(prefix="bench_quality_"))
    summary = generate_noisy(tmp / "noisy.jsonl", n=n_gen, defect_rate=0.3, fmt="alpaca", seed=7)
    truth = {}
    with open(summary.truth_path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            truth[t["id"]] = t["defect"]
    generated = [r for r in read_records([summary.path]) if hasattr(r, "messages")]
    planted = Counter(truth[r.id] for r in generated)

    rows = []
    clean_failed: set[str] = set()
    for name, params in STEPS:
        step = build_step(name, params)
        t0 = time.perf_counter()
        step.setup()
        setup_s = time.perf_counter() - t0
        _predict.cache_clear()
        secs, _ = timed(step, alpaca)
        _, reasons = timed(step, both)
        caught: Counter = Counter()
        for r in generated:
            v = step.keep(r)
            if v.action != "keep":
                caught[truth[r.id]] += 1
                if truth[r.id] == "clean":
                    clean_failed.add(r.id)
        target = TARGET.get(name)
        rows.append(
            {
                "step": name,
                "records_per_s_alpaca": round(len(alpaca) / secs, 1),
                "setup_s": round(setup_s, 2),
                "failed_real": sum(reasons.values()),
                "real_records": len(both),
                "reasons_real": dict(reasons.most_common()),
                "target_defect": target,
                "recall": round(caught[target] / planted[target], 3) if target and planted[target] else None,
                "clean_failed_generated": caught["clean"],
                "caught_generated": dict(caught.most_common()),
            }
        )

    # Token counts: the fast path against the chat template rendered per record.
    fast, exact = build_step("filter.token_length", {}), build_step("filter.token_length", {"exact": True})
    fast.setup()
    exact.setup()
    diffs = []
    for r in both:
        a, b = fast.record_tokens(r)[0], exact.record_tokens(r)[0]
        if a != b:
            diffs.append(abs(a - b))
    t0 = time.process_time()
    for r in alpaca:
        exact.keep(r)
    exact_rps = len(alpaca) / (time.process_time() - t0)

    print(
        f"| step | records/s (alpaca 9k, 1 core) | failed on real ({len(both)}) | recall on planted | clean generated failed "
        f"({planted['clean']}) |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        recall = f"{row['recall']:.2f} ({row['target_defect']})" if row["recall"] is not None else "-"
        print(f"| {row['step']} | {row['records_per_s_alpaca']:,.0f} | {row['failed_real']} | {recall} | {row['clean_failed_generated']} |")
    total_rps = 1 / sum(1 / r["records_per_s_alpaca"] for r in rows)
    print(f"\nAll nine in sequence: {total_rps:,.0f} records/s on one core (sum of per-step times).")
    print(f"Clean generated records failed by any step: {len(clean_failed)} of {planted['clean']}.")
    print(
        f"token_length fast vs exact template: {len(diffs)} of {len(both)} records differ (max {max(diffs, default=0)} tokens); exact mode "
        f"runs at {exact_rps:,.0f} records/s."
    )
    for row in rows:
        if row["reasons_real"]:
            print(f"  {row['step']}: {row['reasons_real']}")

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "quick": args.quick,
        "real_records": len(both),
        "generated": {"n": len(generated), "planted": dict(planted)},
        "steps": rows,
        "sequential_records_per_s": round(total_rps, 1),
        "clean_generated_failed_any": len(clean_failed),
        "token_length_fast_vs_exact": {
            "differ": len(diffs),
            "max_abs_diff": max(diffs, default=0),
            "exact_records_per_s": round(exact_rps, 1),
        },
    }
    path = out / "quality_filters.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
