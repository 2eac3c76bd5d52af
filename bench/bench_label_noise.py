"""Label noise on IMDB: does curating (filter.label_errors + dedup.exact) beat training on everything, and on a random subset?

Data: ../shared/data/imdb_train_10k.jsonl (10,000 reviews, label pos/neg); skipped with a
message when absent, never copied. A fixed split (seed 12345) holds out 2,000 clean reviews
as the test part; the other 8,000 are the training pool. Every text is embedded once with
the packaged all-MiniLM-L6-v2 (``curatune.embed.load_embedder()``, cached on disk, so
reruns do not embed again; reviews are truncated at the model's 256 tokens).

Per seed (the flips, the duplicates, the fold split, the random subset and the heads'
initialisation all change with it):

- noise: 15% of the pool's labels flipped; 5% of the pool copied once more (exact text,
  the source's possibly flipped label), each copy's label then flipped with probability 15%;
  records are shuffled. A record is a *planted label error* when its label is not the
  review's true label.
- training sets: (a) ``full``: the noisy pool with its copies; (b) ``curated``: dedup.exact
  (default: the text and the label) then :func:`find_label_errors` (5-fold out-of-fold
  logistic regression on the embeddings + cleanlab, the step's defaults) removes what they
  flag; (c) ``random``: a random subset of (a) of the size of (b); (d) ``oracle``: the pool
  records whose label was not flipped, copies removed.
- heads on the frozen embeddings, each trained on every set and scored by accuracy on the
  clean test part: ``logreg`` (scikit-learn LogisticRegression, C=1, its default) and
  ``mlp`` (MLPClassifier, one hidden layer of 256, adam, 100 epochs, no early stopping: what
  a user training a small head to convergence gets). Neither head's settings were tuned on
  the test part; both are reported.

Reported: mean accuracy with a 95% t-interval over seeds; the paired differences
curated - full and curated - random with 95% t-intervals (target: >= 1 point, interval
above 0); the label-error step's precision and recall against the planted errors that
reach it (after dedup), for the default method and for cleanlab's other ``filter_by``
methods on the same out-of-fold probabilities (this, not test accuracy, is what the
default method is chosen on). Table to stdout, JSON to bench/out/label_noise.json.

    .venv/bin/python bench/bench_label_noise.py             # 5 seeds
    .venv/bin/python bench/bench_label_noise.py --seeds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from curatune.curation.dedup.exact import ExactDedup
from curatune.curation.filter.label_errors import find_label_errors, rank_label_issues
from curatune.curation.record import Record
from curatune.embed import load_embedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb_train_10k.jsonl"
OUT = Path(__file__).resolve().parent / "out" / "label_noise.json"
TEST_SIZE, SPLIT_SEED = 2000, 12345
FLIP_RATE, DUP_RATE = 0.15, 0.05
METHODS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
SETS = ("full", "curated", "random", "oracle")


def heads(seed: int) -> dict:
    return {
        "logreg": lambda: LogisticRegression(C=1.0, max_iter=2000),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(256,), max_iter=100, random_state=seed),
    }


def ci95(values) -> tuple[float, float, float]:
    """Mean and the 95% t-interval of the mean."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def noisy_pool(y_pool: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the noisy training set: (pool index of the text, given label, true label, is a copy), shuffled."""
    n = len(y_pool)
    given = y_pool.copy()
    flip = rng.choice(n, int(round(FLIP_RATE * n)), replace=False)
    given[flip] = 1 - given[flip]
    src = rng.choice(n, int(round(DUP_RATE * n)), replace=False)
    copy_label = given[src].copy()
    again = rng.random(len(src)) < FLIP_RATE
    copy_label[again] = 1 - copy_label[again]
    idx = np.r_[np.arange(n), src]
    lab = np.r_[given, copy_label]
    is_copy = np.r_[np.zeros(n, bool), np.ones(len(src), bool)]
    order = rng.permutation(len(idx))
    return idx[order], lab[order], y_pool[idx[order]], is_copy[order]


def exact_dedup_keep(texts: list[str], labels: list[str]) -> np.ndarray:
    """dedup.exact with its defaults (text and label, keep the first), as the pipeline would run it."""
    step = ExactDedup()
    recs = [Record(str(i), text=t, label=lab) for i, (t, lab) in enumerate(zip(texts, labels))]
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    return np.array([step.decide(r).kept for r in recs])


def run_seed(seed: int, x_pool, y_pool, texts_pool, x_test, y_test) -> dict:
    rng = np.random.default_rng(1000 + seed)
    idx, given, true, is_copy = noisy_pool(y_pool, rng)
    wrong = given != true
    names = np.array(["neg", "pos"])
    x = x_pool[idx]

    t0 = time.perf_counter()
    keep = exact_dedup_keep([texts_pool[i] for i in idx], names[given].tolist())
    k = np.flatnonzero(keep)
    res = find_label_errors(x[k], names[given[k]].tolist(), folds=5, seed=seed)
    curated = np.zeros(len(idx), bool)
    curated[k] = True
    curated[k[res.issues]] = False
    seconds = time.perf_counter() - t0

    # Precision and recall of each cleanlab method on the same out-of-fold probabilities, after dedup.
    y_k = np.searchsorted(res.classes, names[given[k]])
    detection = {}
    for m in METHODS:
        flagged = k[rank_label_issues(y_k, res.pred_probs, m)]
        hits = int(wrong[flagged].sum())
        detection[m] = {"flagged": len(flagged), "precision": hits / max(1, len(flagged)), "recall": hits / max(1, int(wrong[k].sum()))}

    sets = {
        "full": np.ones(len(idx), bool),
        "curated": curated,
        "random": np.isin(np.arange(len(idx)), rng.choice(len(idx), int(curated.sum()), replace=False)),
        "oracle": ~wrong & ~is_copy,
    }
    acc = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP stops at 100 epochs on purpose
        for head, make in heads(seed).items():
            for name, mask in sets.items():
                model = make().fit(x[mask], given[mask])
                acc[f"{head}/{name}"] = float((model.predict(x_test) == y_test).mean())
    return {
        "seed": seed,
        "records": len(idx),
        "planted_errors": int(wrong.sum()),
        "copies": int(is_copy.sum()),
        "dedup_dropped": int((~keep).sum()),
        "errors_after_dedup": int(wrong[k].sum()),
        "folds": res.folds,
        "label_issues": len(res.issues),
        "curate_seconds": round(seconds, 1),
        "sizes": {n: int(m.sum()) for n, m in sets.items()},
        "errors_left": {n: int(wrong[m].sum()) for n, m in sets.items()},
        "detection": detection,
        "accuracy": acc,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent (the benchmark needs the shared IMDB sample; it is never copied into the repo)")
        return

    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    texts = [r["text"] for r in rows]
    y = np.array([r["label"] == "pos" for r in rows], dtype=np.int64)
    t0 = time.perf_counter()
    emb = load_embedder()(texts)
    embed_seconds = time.perf_counter() - t0
    print(f"embedded {len(texts)} texts in {embed_seconds:.0f}s (cached after the first run)", file=sys.stderr)

    order = np.random.default_rng(SPLIT_SEED).permutation(len(rows))
    test, pool = order[:TEST_SIZE], order[TEST_SIZE:]
    runs = []
    for seed in range(args.seeds):
        r = run_seed(seed, emb[pool], y[pool], [texts[i] for i in pool], emb[test], y[test])
        runs.append(r)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in r["accuracy"].items()), file=sys.stderr)

    summary: dict = {"accuracy": {}, "paired": {}, "detection": {}}
    for key in runs[0]["accuracy"]:
        summary["accuracy"][key] = ci95([r["accuracy"][key] for r in runs])
    for head in heads(0):
        for other in ("full", "random", "oracle"):
            diff = [r["accuracy"][f"{head}/curated"] - r["accuracy"][f"{head}/{other}"] for r in runs]
            summary["paired"][f"{head}: curated - {other}"] = ci95(diff)
    for m in METHODS:
        summary["detection"][m] = {f: ci95([r["detection"][m][f] for r in runs]) for f in ("flagged", "precision", "recall")}

    pct = lambda t: f"{100 * t[0]:.2f} [{100 * t[1]:.2f}, {100 * t[2]:.2f}]"  # noqa: E731
    setup = f"{len(pool)} training pool + {len(test)} clean test, {FLIP_RATE:.0%} flips + {DUP_RATE:.0%} copies"
    print(f"\nIMDB, {setup}, {len(runs)} seeds; mean [95% CI]\n")
    sizes = {n: np.mean([r["sizes"][n] for r in runs]) for n in SETS}
    left = {n: np.mean([r["errors_left"][n] for r in runs]) for n in SETS}
    print("| training set | records | wrong labels | " + " | ".join(f"{h} accuracy %" for h in heads(0)) + " |")
    print("|---|---:|---:|" + "---:|" * len(heads(0)))
    for n in SETS:
        print(f"| {n} | {sizes[n]:.0f} | {left[n]:.0f} | " + " | ".join(pct(summary["accuracy"][f"{h}/{n}"]) for h in heads(0)) + " |")
    print("\n| paired difference | accuracy points |\n|---|---:|")
    for key, t in summary["paired"].items():
        print(f"| {key} | {pct(t)} |")
    print("\n| label-error method (after dedup) | flagged | precision % | recall % |\n|---|---:|---:|---:|")
    for m in METHODS:
        d = summary["detection"][m]
        print(f"| {m}{' (default)' if m == METHODS[0] else ''} | {d['flagged'][0]:.0f} | {pct(d['precision'])} | {pct(d['recall'])} |")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "data": str(DATA.name),
                "test_size": TEST_SIZE,
                "pool_size": len(pool),
                "flip_rate": FLIP_RATE,
                "dup_rate": DUP_RATE,
                "seeds": len(runs),
                "embed_seconds": round(embed_seconds, 1),
                "summary": summary,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
