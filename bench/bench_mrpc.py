"""Calibrating dedup.minhash: similarity ROC AUC on MRPC, and recall on the generator's planted near duplicates.

1. MRPC (../shared/data/mrpc_train.tsv, 4,080 human-labelled sentence pairs,
   Quality 1 = paraphrase): ROC AUC of the exact word n-gram Jaccard and of the
   Jaccard estimated from dedup.minhash's signatures (128 permutations, 16-bit
   values as the step keeps them), for n = 1..5, with curatune's tokenisation
   (NFKC, casefold, ASCII punctuation removed). Also the threshold that best
   separates the classes (max Youden's J) for each n.
2. Planted near duplicates (curatune.generate, word 5-gram Jaccard 0.75-0.95
   to their original): for each n-gram size and threshold, the share of planted
   near and exact duplicates that dedup.minhash drops with the right
   ``duplicate_of``, and how many records it drops whose exact n-gram Jaccard
   to the kept record is below 0.5 (clearly not near duplicates).

AUC is the Mann-Whitney statistic (ties count half), computed with numpy/scipy.

    .venv/bin/python bench/bench_mrpc.py            # generator with 6,000 records
    .venv/bin/python bench/bench_mrpc.py --quick    # generator with 2,000 records
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import orjson
from scipy.stats import rankdata

from curatune.data.dedup.exact import dedup_text
from curatune.data.dedup.minhash import MinHashDedup, compact
from curatune.data.dedup.shingle import exact_jaccard
from curatune.data.record import Record
from curatune.data.step import KEEP

MRPC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrpc_train.tsv"
OUT = Path(__file__).resolve().parent / "out" / "mrpc.json"
NGRAMS = (1, 2, 3, 4, 5)
THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    ranks = rankdata(score)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def best_threshold(score: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The cut with the highest true positive rate minus false positive rate, and that value."""
    best = (0.0, -1.0)
    for t in np.unique(score):
        tpr = (score[y == 1] >= t).mean()
        fpr = (score[y == 0] >= t).mean()
        if tpr - fpr > best[1]:
            best = (float(t), float(tpr - fpr))
    return best


def load_mrpc() -> tuple[list[tuple[str, str]], np.ndarray]:
    with open(MRPC, encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][1:]
    rows = [r for r in rows if len(r) == 5]
    return [(r[3], r[4]) for r in rows], np.array([int(r[0]) for r in rows])


def mrpc_table() -> list[dict]:
    pairs, y = load_mrpc()
    out = []
    for n in NGRAMS:
        step = MinHashDedup(ngram=n)
        exact = np.array([exact_jaccard(a, b, n) for a, b in pairs])
        est = np.array([(compact(step.signature(a)) == compact(step.signature(b))).mean() for a, b in pairs])
        t_best, youden = best_threshold(est, y)
        out.append(
            {
                "ngram": n,
                "pairs": int(y.size),
                "auc_exact_jaccard": round(roc_auc(exact, y), 4),
                "auc_estimated_jaccard": round(roc_auc(est, y), 4),
                "mean_abs_error_estimate": round(float(np.abs(est - exact).mean()), 4),
                "mean_jaccard_paraphrase": round(float(exact[y == 1].mean()), 3),
                "mean_jaccard_other": round(float(exact[y == 0].mean()), 3),
                "best_threshold_estimated": round(t_best, 3),
                "youden_j": round(youden, 3),
            }
        )
    return out


def generator_table(n_records: int) -> list[dict] | None:
    try:
        from curatune.data.read.records import read_records
        from curatune.generate import generate_noisy, truth_path_for
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "noisy.jsonl"
        generate_noisy(path, n=n_records, defect_rate=0.3, fmt="alpaca", seed=0)
        truth = [orjson.loads(line) for line in truth_path_for(path).read_bytes().splitlines()]
        recs = [r for r in read_records([str(path)], "auto") if isinstance(r, Record)]
    by_id = {r.id: r for r in recs}
    text = {r.id: dedup_text(r, "record") for r in recs}
    planted = {k: [t for t in truth if t["defect"] == k and t["id"] in by_id] for k in ("near_duplicate", "exact_duplicate")}
    out = []
    for n in NGRAMS:
        for th in THRESHOLDS:
            step = MinHashDedup(threshold=th, ngram=n)
            for r in recs:
                step.observe(r, step.prepare(r))
            step.finish()
            v = {r.id: step.decide(r) for r in recs}
            row = {"ngram": n, "threshold": th}
            for kind, items in planted.items():
                hit = sum(1 for t in items if v[t["id"]] is not KEEP and v[t["id"]].duplicate_of == t["duplicate_of"])
                row[f"recall_{kind}"] = round(hit / len(items), 4) if items else None
            drops = [(i, x) for i, x in v.items() if x is not KEEP]
            row["dropped"] = len(drops)
            row["dropped_exact_jaccard_below_0.5"] = sum(1 for i, x in drops if exact_jaccard(text[i], text[x.duplicate_of], n) < 0.5)
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="generator with 2,000 records instead of 6,000")
    args = ap.parse_args()
    if not MRPC.exists():
        sys.exit(f"{MRPC} is absent: this benchmark needs ../shared/data/mrpc_train.tsv")

    mrpc = mrpc_table()
    print(f"\nMRPC train, {mrpc[0]['pairs']:,} pairs: ROC AUC of word n-gram Jaccard (paraphrase vs not)\n")
    print("| n-gram | AUC exact Jaccard | AUC estimated (MinHash 128) | mean abs error of estimate | mean J paraphrase | mean J other | best threshold (Youden) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in mrpc:
        print(
            f"| {r['ngram']} | {r['auc_exact_jaccard']} | {r['auc_estimated_jaccard']} | {r['mean_abs_error_estimate']} | "
            f"{r['mean_jaccard_paraphrase']} | {r['mean_jaccard_other']} | {r['best_threshold_estimated']} (J={r['youden_j']}) |"
        )

    gen = generator_table(2000 if args.quick else 6000)
    if gen is None:
        print("\ncuratune.generate is not available: planted near-duplicate table skipped")
    else:
        print("\nPlanted duplicates (curatune.generate, defect_rate 0.3): recall with the right duplicate_of, and clear false drops\n")
        print("| n-gram | threshold | recall near dup | recall exact dup | dropped | dropped with exact Jaccard < 0.5 to kept |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in gen:
            print(f"| {r['ngram']} | {r['threshold']} | {r['recall_near_duplicate']} | {r['recall_exact_duplicate']} | {r['dropped']} | {r['dropped_exact_jaccard_below_0.5']} |")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"mrpc": mrpc, "generator": gen}, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
