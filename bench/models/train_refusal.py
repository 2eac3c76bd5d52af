"""Train the refusal model that ``filter.refusal`` ships (src/curatune/curation/filter/resources/refusal_model.json).

A logistic regression on word 1-3-gram presence (curatune.curation.text.linear: the same features at run
time) over single sentences: refusals and canned AI disclaimers written for it (refusal_data.py) against
sentences of IMDB reviews, MRPC news and hand-written hard negatives; since round 6 of issue 15 also "broad"
sentences (refusal frames crossed with varied verbs and objects read from MRPC and IMDB, and the same verbs and
objects in sentences that refuse nothing), with function words ("it", "and", "of") counted only inside n-grams.
Training data and provenance: bench/models/refusal_data.py. Variants and their figures: bench/models/sweep_refusal.py
and bench/RESULTS.md ("Issue 15 (round 6)"). Weights under ``--min-weight`` are dropped so the file stays small and
readable. The threshold (0.8, filter.refusal's ``model_threshold``) was chosen from the dev answers and
the false-positive check below.

Checks printed (none of them tuned on bench/heldout): the model's recall on bench/models/refusal_dev.jsonl
(answers written apart from the training templates) and how many records of alpaca_random_9k and
dolly_3k it fires on (false-positive check; the filter's own count, patterns included, is in
bench/RESULTS.md).

    .venv/bin/python bench/models/train_refusal.py            # writes the model
    .venv/bin/python bench/models/train_refusal.py --dry-run  # only the checks
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import refusal_data  # noqa: E402  (beside this script)

from curatune.curation.text.linear import LinearModel, ngram_features, tokens  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "src/curatune/curation/filter/resources/refusal_model.json"
NGRAM = 3


# Function words that count only inside n-grams (default; --function-unigrams keeps them): on their own they measure
# a sentence's length and register (a long review sentence has many "and", "of", "the") more than what it says.
# Pronouns and "was"/"were" stay: who acts and when are what separates "she couldn't book it" from a refusal.
FUNCTION_UNIGRAMS = frozenset(
    "the a an and of in on at to for with which what that this these those is are be been am so or but as by from if "
    "whether there here then than".split()
)


def featurize(texts: list[str], drop: frozenset[str] = frozenset()) -> list[dict[str, int]]:
    return [dict.fromkeys(ngram_features(tokens(t), NGRAM) - drop, 1) for t in texts]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positives", type=int, default=6000)
    ap.add_argument("--imdb", type=int, default=12000)
    ap.add_argument("--mrpc", type=int, default=4000)
    ap.add_argument("--C", type=float, default=0.5)
    ap.add_argument("--min-weight", type=float, default=0.05)
    ap.add_argument("--threshold", type=float, default=0.8)
    # Round 6 (issue 15): the shipped model adds the broad sentences and drops function-word unigrams;
    # "--broad-positives 0 --broad-negatives 0 --function-unigrams" retrains the model before it, weight for weight.
    ap.add_argument("--broad-positives", type=int, default=6000, help="refusals from refusal_data.broad_positives")
    ap.add_argument("--broad-negatives", type=int, default=6000, help="look-alikes from refusal_data.broad_negatives")
    ap.add_argument(
        "--function-unigrams",
        dest="no_function_unigrams",
        action="store_false",
        help="let function words count on their own too (the model before round 6)",
    )
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    model, weights, _, (n_pos, n_neg) = train(args)
    threshold = args.threshold
    dev = [json.loads(line) for line in (Path(__file__).parent / "refusal_dev.jsonl").read_text().splitlines() if line.strip()]
    for label in (True, False):
        rows = [d for d in dev if d["refusal"] is label]
        hits = [d["answer"] for d in rows if max_sentence_probability(model, d["answer"]) >= threshold]
        print("   probabilities:", sorted(round(max_sentence_probability(model, d["answer"]), 2) for d in rows))
        print(f"dev {'refusals' if label else 'clean'}: {len(hits)} of {len(rows)} fire")
        for h in hits if not label else [d["answer"] for d in rows if d["answer"] not in hits]:
            print("   ", "FP" if not label else "missed", h[:100])
    for name in ("alpaca_random_9k.json", "dolly_3k.json"):
        rows = json.loads((refusal_data.SHARED / name).read_text())
        fired = [r["output"] for r in rows if max_sentence_probability(model, r["output"]) >= threshold]
        print(f"{name}: fires on {len(fired)} of {len(rows)}")
        for f in fired[:40]:
            print("   ", round(max_sentence_probability(model, f), 3), f[:110].replace("\n", " "))
    if not args.dry_run:
        top = sorted(weights.items(), key=lambda kv: -kv[1])[:15]
        data = {
            "about": "filter.refusal's sentence model; trained by bench/models/train_refusal.py (provenance: bench/models/refusal_data.py)",
            "ngram": NGRAM,
            "bias": round(model.bias, 4),
            "threshold": round(threshold, 4),
            "training": {
                "positives": n_pos,
                "negatives": n_neg,
                "broad_positives": args.broad_positives,
                "broad_negatives": args.broad_negatives,
                "no_function_unigrams": args.no_function_unigrams,
                "C": args.C,
                "min_weight": args.min_weight,
            },
            "top_features": [f for f, _ in top],
            "weights": dict(sorted(weights.items())),
        }
        OUT.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")
    return 0


def train(args: argparse.Namespace) -> tuple[LinearModel, dict[str, float], list[str], tuple[int, int]]:
    """Fit the model on the training sentences ``args`` asks for; print its figures on the held-back fifth."""
    pos = refusal_data.positives(args.positives, seed=1) + refusal_data.broad_positives(args.broad_positives, seed=1)
    neg = (
        refusal_data.real_negatives(args.imdb, args.mrpc, seed=1)
        + refusal_data.HARD_NEGATIVES * 5
        + refusal_data.topic_negatives(2500, seed=1)
        + refusal_data.broad_negatives(args.broad_negatives, seed=1)
    )
    texts, y = pos + neg, np.array([1] * len(pos) + [0] * len(neg))
    tr, te = train_test_split(np.arange(len(texts)), test_size=0.2, random_state=0, stratify=y)
    vec = DictVectorizer()
    x = vec.fit_transform(featurize(texts, FUNCTION_UNIGRAMS if args.no_function_unigrams else frozenset()))
    clf = LogisticRegression(C=args.C, max_iter=3000, class_weight="balanced")
    clf.fit(x[tr], y[tr])
    names = [str(n) for n in vec.get_feature_names_out()]
    weights = {n: round(float(w), 4) for n, w in zip(names, clf.coef_[0]) if abs(w) >= args.min_weight}
    model = LinearModel(float(clf.intercept_[0]), weights, NGRAM)
    # The threshold filter.refusal uses (DEFAULT_THRESHOLD): chosen from the dev answers and the false-positive
    # check below, not from the training fold (its templates are too easy to say anything about the threshold).
    threshold = args.threshold
    probs = np.array([model.probability(tokens(texts[i])) for i in te])
    neg_fpr = float(np.mean(probs[y[te] == 0] >= threshold))
    print(
        f"features kept {len(weights)} of {len(names)}; "
        f"training-fold recall {np.mean(probs[y[te] == 1] >= threshold):.3f}, false-positive rate {neg_fpr:.4f}"
    )
    return LinearModel(model.bias, weights, NGRAM, threshold), weights, names, (len(pos), len(neg))


def max_sentence_probability(model: LinearModel, text: str) -> float:
    """The highest probability over the text's sentences (what filter.refusal scores, without its cue-word gate)."""
    from curatune.curation.filter._instruct_text import sentences

    return max((model.probability(tokens(s)) for s in sentences(text) or [text]), default=0.0)


if __name__ == "__main__":
    raise SystemExit(main())
