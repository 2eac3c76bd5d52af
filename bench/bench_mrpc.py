"""Calibrating dedup.minhash: similarity ROC AUC on MRPC, and recall on the generator's planted near duplicates.

Configurations: word n-grams n = 1..5 (``shingle: word``, the default being
n = 3) and character n-grams n = 3..5 (``shingle: char``).

1. MRPC (../shared/data/mrpc_train.tsv, 4,080 human-labelled sentence pairs,
   Quality 1 = paraphrase): ROC AUC of the exact shingle Jaccard and of the
   Jaccard estimated from dedup.minhash's signatures as the step computes it
   (``num_perm`` 128 and 256, 16-bit values as the step keeps them), the mean
   absolute and signed error of the estimate, and the cut on the estimate that
   best separates the classes (max Youden's J). AUC >= 0.75 is the target.
2. Planted duplicates (``curatune.generate.generate_noisy(path, n=6000,
   seed=0)``; truth in ``<name>.truth.jsonl``): for each configuration and
   threshold, the share of planted near and exact duplicates that dedup.minhash
   drops with the right ``duplicate_of``, and its false drops: records planted
   as clean that it drops (``false_drops_clean``) plus planted duplicates whose
   ``duplicate_of`` is not the planted one (``false_drops_wrong_target``).
   Records planted with another defect (empty answer, off topic, ...) that it
   drops are counted apart (``dropped_other_defect``, and how many of them have
   the same normalised text as their kept record: the generator plants, for
   example, two empty answers to one prompt, true duplicates it does not label).
   The best threshold of a configuration is the one with the fewest false drops
   among those reaching near-duplicate recall 0.95; if none does, the one with
   the highest recall (then fewest false drops).
3. Speed: records/s of ``MinHashDedup.prepare`` (normalise, shingle, MinHash
   128, band) on the generator's records, one process, best of 5 interleaved
   passes (the configurations take turns, so that load from other processes
   hits them alike).
4. Length: the mean and largest exact Jaccard between unrelated documents
   (MRPC first sentences drawn at random and joined up to 150 to 8,000
   characters). Character 3-grams of a language are few, so unrelated long
   texts share many: a fixed threshold means less as texts grow.

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
import time
from pathlib import Path

import numpy as np
import orjson
from scipy.stats import rankdata

from curatune.curation.dedup.exact import dedup_text, normalise
from curatune.curation.dedup.lsh import band_hashes
from curatune.curation.dedup.minhash import MinHashDedup, compact
from curatune.curation.dedup.shingle import exact_jaccard
from curatune.curation.record import Record
from curatune.curation.step import KEEP

MRPC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrpc_train.tsv"
OUT = Path(__file__).resolve().parent / "out" / "mrpc.json"
CONFIGS = [("word", n) for n in (1, 2, 3, 4, 5)] + [("char", n) for n in (3, 4, 5)]
DEFAULT = ("word", 3, 0.7)  # dedup.minhash's defaults: the baseline for false drops
NUM_PERMS = (128, 256)
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
DOC_LENGTHS = (150, 500, 2000, 8000)
AUC_TARGET, RECALL_TARGET = 0.75, 0.95


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


def mrpc_table() -> tuple[list[dict], dict[tuple[str, int], np.ndarray], np.ndarray]:
    """The rows, the MinHash-128 estimates per configuration, and the labels."""
    pairs, y = load_mrpc()
    out, estimates = [], {}
    for shingle, n in CONFIGS:
        exact = np.array([exact_jaccard(a, b, n, shingle) for a, b in pairs])
        row = {
            "shingle": shingle,
            "ngram": n,
            "pairs": int(y.size),
            "auc_exact_jaccard": round(roc_auc(exact, y), 4),
            "mean_jaccard_paraphrase": round(float(exact[y == 1].mean()), 3),
            "mean_jaccard_other": round(float(exact[y == 0].mean()), 3),
        }
        for num_perm in NUM_PERMS:
            step = MinHashDedup(ngram=n, shingle=shingle, num_perm=num_perm)
            est = np.array([(compact(step.signature(a)) == compact(step.signature(b))).mean() for a, b in pairs])
            row[f"auc_estimated_{num_perm}"] = round(roc_auc(est, y), 4)
            row[f"mean_abs_error_{num_perm}"] = round(float(np.abs(est - exact).mean()), 4)
            row[f"mean_error_{num_perm}"] = round(float((est - exact).mean()), 4)
            if num_perm == 128:
                estimates[(shingle, n)] = est
                t_best, youden = best_threshold(est, y)
                row["best_threshold_estimated_128"] = round(t_best, 3)
                row["youden_j_128"] = round(youden, 3)
        row["reaches_target"] = row["auc_exact_jaccard"] >= AUC_TARGET and all(row[f"auc_estimated_{p}"] >= AUC_TARGET for p in NUM_PERMS)
        out.append(row)
    return out, estimates, y


def load_generated(n_records: int, workdir: Path) -> tuple[list[Record], dict[str, dict]] | None:
    try:
        from curatune.curation.read.records import read_records
        from curatune.generate import generate_noisy, truth_path_for
    except ImportError:
        return None
    path = workdir / "noisy.jsonl"
    generate_noisy(path, n=n_records, seed=0)
    truth = {t["id"]: t for t in map(orjson.loads, truth_path_for(path).read_bytes().splitlines())}
    recs = [r for r in read_records([str(path)], "auto") if isinstance(r, Record)]
    return recs, truth


def run_threshold(shingle: str, n: int, th: float, recs: list[Record], sigs: list[np.ndarray], lengths: list[int]) -> dict[str, object]:
    """The step's verdicts at ``th``, reusing the signatures (they do not depend on the threshold)."""
    step = MinHashDedup(threshold=th, ngram=n, shingle=shingle)
    b, r = step.band_params
    for rec, sig, length in zip(recs, sigs, lengths):
        step.observe(rec, (band_hashes(sig, b, r, step.seed).tobytes(), compact(sig).tobytes(), length))
    step.finish()
    return {rec.id: step.decide(rec) for rec in recs}


def score_verdicts(verdicts: dict[str, object], truth: dict[str, dict], norm_text: dict[str, str]) -> dict:
    row = {}
    for kind in ("near_duplicate", "exact_duplicate"):
        items = [t for t in truth.values() if t["defect"] == kind and t["id"] in verdicts]
        hit = sum(1 for t in items if verdicts[t["id"]] is not KEEP and verdicts[t["id"]].duplicate_of == t["duplicate_of"])
        row[f"recall_{kind}"] = round(hit / len(items), 4) if items else None
    drops = {i: v.duplicate_of for i, v in verdicts.items() if v is not KEEP}
    clean = [i for i in drops if truth[i]["defect"] == "clean"]
    wrong = [i for i in drops if truth[i]["defect"] in ("near_duplicate", "exact_duplicate") and drops[i] != truth[i]["duplicate_of"]]
    other = [i for i in drops if truth[i]["defect"] not in ("clean", "near_duplicate", "exact_duplicate")]
    row["dropped"] = len(drops)
    row["false_drops_clean"] = len(clean)
    row["false_drops_wrong_target"] = len(wrong)
    row["false_drops"] = len(clean) + len(wrong)
    row["dropped_other_defect"] = len(other)
    row["dropped_other_defect_same_text"] = sum(1 for i in other if norm_text[i] == norm_text[drops[i]])
    row["false_drop_examples"] = [[i, drops[i]] for i in (clean + wrong)[:5]]
    return row


def pick_best(rows: list[dict]) -> dict:
    reach = [r for r in rows if r["recall_near_duplicate"] >= RECALL_TARGET]
    if reach:
        return min(reach, key=lambda r: (r["false_drops"], -r["recall_near_duplicate"], r["threshold"]))
    return max(rows, key=lambda r: (r["recall_near_duplicate"], -r["false_drops"], r["threshold"]))


def generator_table(recs: list[Record], truth: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    texts = [dedup_text(r, "record") for r in recs]
    lengths = [len(t) for t in texts]
    norm_text = {r.id: normalise(t) for r, t in zip(recs, texts)}
    grid, speed = [], []
    for shingle, n in CONFIGS:
        sig_step = MinHashDedup(ngram=n, shingle=shingle)
        t0 = time.perf_counter()
        sigs = [sig_step.signature(t) for t in texts]
        dt = time.perf_counter() - t0
        speed.append(
            {"shingle": shingle, "ngram": n, "records": len(texts), "records_per_s": round(len(texts) / dt), "seconds": round(dt, 3)}
        )
        for th in THRESHOLDS:
            row = {"shingle": shingle, "ngram": n, "threshold": th}
            row.update(score_verdicts(run_threshold(shingle, n, th, recs, sigs, lengths), truth, norm_text))
            grid.append(row)
    return grid, speed


def prepare_speed(recs: list[Record], repeats: int = 5) -> list[dict]:
    """records/s of the whole per-record work of the step (prepare), best of ``repeats`` interleaved passes."""
    configs = [("word", 1), ("word", 3), ("word", 5), ("char", 3), ("char", 4), ("char", 5)]
    steps = [MinHashDedup(ngram=n, shingle=shingle) for shingle, n in configs]
    best = [float("inf")] * len(steps)
    for _ in range(repeats):
        for j, step in enumerate(steps):
            t0 = time.perf_counter()
            for r in recs:
                step.prepare(r)
            best[j] = min(best[j], time.perf_counter() - t0)
    chars = sum(len(dedup_text(r, "record")) for r in recs)
    return [
        {"shingle": sh, "ngram": n, "records": len(recs), "mean_chars": round(chars / len(recs)), "records_per_s": round(len(recs) / t)}
        for (sh, n), t in zip(configs, best)
    ]


def length_table(pairs_per_length: int = 30) -> list[dict]:
    """Exact Jaccard of unrelated documents made of random MRPC sentences, by document length."""
    sentences = [a for a, _ in load_mrpc()[0]]
    rng = np.random.default_rng(0)
    out = []
    for length in DOC_LENGTHS:
        docs = []
        for _ in range(2 * pairs_per_length):
            parts, size = [], 0
            while size < length:
                parts.append(sentences[rng.integers(len(sentences))])
                size += len(parts[-1]) + 1
            docs.append(" ".join(parts))
        for shingle, n in CONFIGS:
            js = np.array([exact_jaccard(docs[i], docs[i + 1], n, shingle) for i in range(0, len(docs), 2)])
            row = {"chars": length, "shingle": shingle, "ngram": n}
            out.append(row | {"mean_jaccard": round(float(js.mean()), 3), "max_jaccard": round(float(js.max()), 3)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="generator with 2,000 records instead of 6,000")
    args = ap.parse_args()
    if not MRPC.exists():
        sys.exit(f"{MRPC} is absent: this benchmark needs ../shared/data/mrpc_train.tsv")

    mrpc, estimates, labels = mrpc_table()
    print(f"\nMRPC train, {mrpc[0]['pairs']:,} pairs: ROC AUC of n-gram Jaccard, paraphrase vs not (target >= {AUC_TARGET})\n")
    print(
        "| shingle | n | AUC exact | AUC MinHash 128 | AUC MinHash 256 | mean abs err 128 / 256 | mean err 128 "
        "| mean J para / other | best cut 128 (Youden J) | >= 0.75 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in mrpc:
        print(
            f"| {r['shingle']} | {r['ngram']} | {r['auc_exact_jaccard']} | {r['auc_estimated_128']} | {r['auc_estimated_256']} | "
            f"{r['mean_abs_error_128']} / {r['mean_abs_error_256']} | {r['mean_error_128']} | "
            f"{r['mean_jaccard_paraphrase']} / {r['mean_jaccard_other']} | "
            f"{r['best_threshold_estimated_128']} ({r['youden_j_128']}) | {'yes' if r['reaches_target'] else 'no'} |"
        )
    winners = [f"{r['shingle']} {r['ngram']}" for r in mrpc if r["reaches_target"]]
    print(f"\nReach AUC >= {AUC_TARGET} exact and estimated (128 and 256): {', '.join(winners) or 'none'}")

    gen = base = best = speed = prep = None
    with tempfile.TemporaryDirectory() as d:
        loaded = load_generated(2000 if args.quick else 6000, Path(d))
    if loaded is None:
        print("\ncuratune.generate is not available: planted duplicate tables skipped")
    else:
        recs, truth = loaded
        gen, speed = generator_table(recs, truth)
        base = dict(next(r for r in gen if (r["shingle"], r["ngram"], r["threshold"]) == DEFAULT))
        best = []
        for shingle, n in CONFIGS:
            b = dict(pick_best([r for r in gen if (r["shingle"], r["ngram"]) == (shingle, n)]))
            auc = next(m for m in mrpc if (m["shingle"], m["ngram"]) == (shingle, n))
            b["auc_estimated_128"] = auc["auc_estimated_128"]
            # What the step would do to MRPC at that threshold: the AUC ranks pairs over the whole
            # range, but the step only drops pairs above its threshold.
            est = estimates[(shingle, n)]
            b["mrpc_paraphrases_at_or_above"] = round(float((est[labels == 1] >= b["threshold"]).mean()), 4)
            b["mrpc_others_at_or_above"] = round(float((est[labels == 0] >= b["threshold"]).mean()), 4)
            b["meets_rule"] = (
                b["recall_near_duplicate"] >= RECALL_TARGET and b["false_drops"] <= base["false_drops"] and auc["reaches_target"]
            )
            best.append(b)
        print(f"\nPlanted duplicates (generate_noisy n={len(truth):,}, seed 0), every configuration at its best threshold")
        base_est = estimates[DEFAULT[:2]]
        base["mrpc_paraphrases_at_or_above"] = round(float((base_est[labels == 1] >= DEFAULT[2]).mean()), 4)
        base["mrpc_others_at_or_above"] = round(float((base_est[labels == 0] >= DEFAULT[2]).mean()), 4)
        print(
            f"(baseline: the default word 3 at 0.7 has near recall {base['recall_near_duplicate']}, {base['false_drops']} false drops, "
            f"MRPC >= 0.7: {base['mrpc_paraphrases_at_or_above']} / {base['mrpc_others_at_or_above']})"
        )
        print(f"meets rule: near recall >= {RECALL_TARGET}, false drops <= the default's, MRPC AUC >= {AUC_TARGET} (exact, 128, 256);")
        print("MRPC >= threshold: share of MRPC paraphrase / other pairs whose MinHash-128 estimate reaches that threshold\n")
        print(
            "| shingle | n | best threshold | recall near dup | recall exact dup | dropped | false drops (clean + wrong target) "
            "| other defects dropped (same text) | AUC MinHash 128 | MRPC >= threshold: paraphrase / other | meets rule |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in best:
            print(
                f"| {r['shingle']} | {r['ngram']} | {r['threshold']} | {r['recall_near_duplicate']} | {r['recall_exact_duplicate']} | "
                f"{r['dropped']} | "
                f"{r['false_drops']} ({r['false_drops_clean']} + {r['false_drops_wrong_target']}) | "
                f"{r['dropped_other_defect']} ({r['dropped_other_defect_same_text']}) | {r['auc_estimated_128']} | "
                f"{r['mrpc_paraphrases_at_or_above']} / {r['mrpc_others_at_or_above']} | {'yes' if r['meets_rule'] else 'no'} |"
            )
        print("\nAll thresholds: recall near dup / false drops\n")
        print("| shingle | n | " + " | ".join(str(t) for t in THRESHOLDS) + " |")
        print("|---|---:|" + "---:|" * len(THRESHOLDS))
        for shingle, n in CONFIGS:
            cells = [f"{r['recall_near_duplicate']} / {r['false_drops']}" for r in gen if (r["shingle"], r["ngram"]) == (shingle, n)]
            print(f"| {shingle} | {n} | " + " | ".join(cells) + " |")

        prep = prepare_speed(recs)
        print("\nSpeed of MinHashDedup.prepare (normalise + shingle + MinHash 128 + bands), one process, best of 5 interleaved\n")
        print("| shingle | n | records | mean chars | records/s |")
        print("|---|---:|---:|---:|---:|")
        for r in prep:
            print(f"| {r['shingle']} | {r['ngram']} | {r['records']:,} | {r['mean_chars']} | {r['records_per_s']:,} |")

    lengths = length_table()
    print("\nUnrelated documents (random MRPC sentences): mean / largest exact Jaccard by length in characters\n")
    print("| shingle | n | " + " | ".join(f"{c:,} chars" for c in DOC_LENGTHS) + " |")
    print("|---|---:|" + "---:|" * len(DOC_LENGTHS))
    for shingle, n in CONFIGS:
        cells = [f"{r['mean_jaccard']} / {r['max_jaccard']}" for r in lengths if (r["shingle"], r["ngram"]) == (shingle, n)]
        print(f"| {shingle} | {n} | " + " | ".join(cells) + " |")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "mrpc": mrpc,
        "generator_default": base,
        "generator_best": best,
        "generator": gen,
        "signature_speed": speed,
        "prepare_speed": prep,
        "unrelated_by_length": lengths,
    }
    OUT.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
