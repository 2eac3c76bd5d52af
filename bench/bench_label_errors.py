"""filter.label_errors against two baselines on IMDB with planted label flips (issue 15).

Data: ../shared/data/imdb_train_10k.jsonl (10,000 reviews, pos/neg; read at run time, never copied). Flips:
``--flip-rate`` of the labels (10%) flipped, seeded (``--seed``, default 1). Real errors: reviews whose own
"x/10" rating contradicts their label were read by hand (20 candidates, ``REAL_CANDIDATES``); one is a label
error (imdb-train-4359: "My personal rating is 10/10", labelled neg). It is reported apart: whether it is flagged.

Methods, each out-of-fold over the same 5 stratified folds:

- ``naive Bayes``: MultinomialNB on word counts (CountVectorizer), records ranked by the out-of-fold
  probability of their label (self-confidence), the K lowest flagged;
- ``TF-IDF + CL``: scikit-learn's default TfidfVectorizer (words) and LogisticRegression, cleanlab's
  find_label_issues (prune_by_noise_rate): the baseline of confident learning as usually run;
- ``filter.label_errors`` (features ``tfidf``, the default; ``--ensemble`` adds ``ensemble``, which
  embeds every review with MiniLM: minutes).

Compared at the same number flagged K: K = what filter.label_errors flags (its confident learning), and
K = what the TF-IDF + CL baseline flags; a method's K flagged are its K lowest-ranked records (cleanlab's
own ranking for TF-IDF + CL when it flags at least K). Precision and recall against the planted flips.

``--time N``: times find_label_errors (tfidf) on N reviews: the 10,000, then copies of them with seeded
perturbation (each copy drops a random 10% of its words and swaps two random sentences, so no two texts are
equal) until N; wall time, and the phases as the step reports them.

    .venv/bin/python bench/bench_label_errors.py
    .venv/bin/python bench/bench_label_errors.py --time 25000
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from curatune.curation.filter.label_errors import Progress, find_label_errors

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb_train_10k.jsonl"
OUT = Path(__file__).resolve().parent / "out" / "label_errors.json"
REAL_ERRORS = {"imdb-train-4359"}
REAL_CANDIDATES = 20


def load() -> tuple[list[str], list[str], np.ndarray]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return (
        [r["id"] for r in rows],
        [r["text"].replace("<br />", " ") for r in rows],
        np.array([r["label"] == "pos" for r in rows], dtype=int),
    )


def lowest(quality: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(quality, kind="stable")[:k]


def score(flagged: np.ndarray, flips: np.ndarray) -> tuple[float, float]:
    tp = int(flips[flagged].sum())
    return tp / max(1, len(flagged)), tp / max(1, int(flips.sum()))


def perturbed(texts: list[str], n: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """``n`` texts: the originals, then perturbed copies of random ones; and the index of each text's source."""
    rng = random.Random(seed)
    out, source = list(texts), list(range(len(texts)))
    while len(out) < n:
        k = rng.randrange(len(texts))
        kept = [w for w in texts[k].split() if rng.random() >= 0.1]
        sents = re.split(r"(?<=[.!?])\s+", " ".join(kept))
        if len(sents) > 2:
            i, j = rng.sample(range(len(sents)), 2)
            sents[i], sents[j] = sents[j], sents[i]
        out.append(" ".join(sents))
        source.append(k)
    return out[:n], source[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flip-rate", type=float, default=0.10)
    ap.add_argument("--ensemble", action="store_true")
    ap.add_argument("--time", type=int, default=0, help="also time the tfidf step on this many reviews")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"{DATA} is absent: nothing to do")
        return 0
    warnings.filterwarnings("ignore")
    ids, texts, truth = load()
    rng = np.random.default_rng(args.seed)
    flips = rng.random(len(truth)) < args.flip_rate
    given = np.where(flips, 1 - truth, truth)
    names = np.array(["neg", "pos"])
    real = np.array([i in REAL_ERRORS for i in ids])

    from cleanlab.filter import find_label_issues
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.naive_bayes import MultinomialNB

    def oof(make, x):
        probs = np.zeros((len(given), 2))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(given)), given):
            m = make()
            m.fit(x[tr], given[tr])
            probs[te] = m.predict_proba(x[te])
        return probs

    rows = np.arange(len(given))
    t0 = time.perf_counter()
    nb_q = oof(MultinomialNB, CountVectorizer().fit_transform(texts))[rows, given]
    t_nb = time.perf_counter() - t0
    t0 = time.perf_counter()
    base_p = oof(lambda: LogisticRegression(max_iter=2000), TfidfVectorizer().fit_transform(texts))
    base_q = base_p[rows, given]
    base_cl = np.asarray(find_label_issues(given, base_p, filter_by="prune_by_noise_rate", return_indices_ranked_by="self_confidence"))
    t_base = time.perf_counter() - t0

    ours = {}
    for features in ["tfidf"] + (["ensemble"] if args.ensemble else []):
        t0 = time.perf_counter()
        res = find_label_errors(texts, names[given].tolist(), folds=5, seed=0, features=features, progress=Progress(lambda m: None))
        ours[features] = (res, time.perf_counter() - t0)

    def base_flags(k: int) -> np.ndarray:
        if len(base_cl) >= k:
            return base_cl[:k]
        rest = [i for i in lowest(base_q, len(given)) if i not in set(base_cl.tolist())]
        return np.r_[base_cl, rest[: k - len(base_cl)]].astype(int)

    out: dict = {"flips": int(flips.sum()), "reviews": len(given), "seed": args.seed, "tables": []}
    print(
        f"IMDB {len(given):,} reviews, {int(flips.sum())} labels flipped (seed {args.seed}); "
        f"real error candidates read: {REAL_CANDIDATES}, of which {len(REAL_ERRORS)} is a label error"
    )
    ks = [("filter.label_errors (tfidf) flags", len(ours["tfidf"][0].issues)), ("TF-IDF + CL flags", len(base_cl))]
    for title, k in ks:
        print(f"\nAt K = {k} ({title})\n")
        print("| method | K | precision | recall | real error flagged | seconds |")
        print("|---|---:|---:|---:|---|---:|")
        table = []
        cands = [("naive Bayes (5-fold, word counts)", lowest(nb_q, k), t_nb), ("TF-IDF + CL (cleanlab default)", base_flags(k), t_base)]
        for features, (res, secs) in ours.items():
            q = np.nan_to_num(res.self_confidence, nan=1.0)
            flagged = res.issues if len(res.issues) == k else lowest(q, k)
            cands.append((f"filter.label_errors ({features})", flagged, secs))
        for label, flagged, secs in cands:
            p, r = score(flagged, flips)
            hit = "yes" if real[flagged].any() else "no"
            print(f"| {label} | {k} | {p:.3f} | {r:.3f} | {hit} | {secs:.0f} |")
            table.append({"method": label, "k": k, "precision": p, "recall": r, "real_error_flagged": hit, "seconds": secs})
        out["tables"].append(table)
    if args.time:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
        big, source = perturbed(texts, args.time)
        labels = [names[given[k]] for k in source]  # a copy carries its source's (possibly flipped) label
        t0 = time.perf_counter()
        res = find_label_errors(big, labels, folds=5, seed=0, features="tfidf")
        secs = time.perf_counter() - t0
        print(f"\nfind_label_errors (tfidf) on {len(big):,} reviews: {secs:.0f} s wall, {len(res.issues)} flagged")
        out["timing"] = {"reviews": len(big), "seconds": secs}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
