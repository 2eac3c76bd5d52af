"""Variants of filter.refusal's sentence model, each trained in this process and run through the step itself (the
gate, clause splitting, persona bar and keep_justified as shipped) on the written dev sets and on real records.

For each variant: recall by position and look-alikes flagged on refusal_dev.jsonl, refusal_dev2.jsonl (used to tune
issue 15 continued) and refusal_dev3.jsonl (round 6, written before retraining), and the records of
alpaca_random_9k + dolly_3k the step drops (each printed with ``--show``, to be read). Nothing is written; the
shipped model is made by train_refusal.py.

    .venv/bin/python bench/models/sweep_refusal.py                          # the variants of the round-6 table
    .venv/bin/python bench/models/sweep_refusal.py --only "broad, 0.65 (shipped)" --show   # one variant, its drops printed
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_refusal  # noqa: E402

from curatune.curation.filter import refusal  # noqa: E402
from curatune.curation.formats import FORMATS  # noqa: E402
from curatune.curation.registry import build_step  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
INSTRUCTION = "Please help with the following request."
BASE = {"positives": 6000, "imdb": 12000, "mrpc": 4000, "C": 0.5, "min_weight": 0.05, "threshold": 0.8}
# Words a variant adds to the gate's sets (``_may_refuse``: refusal.py's gate is p3-speed's to change; these variants
# measure what the gate costs, they are not shipped).
GATE_WORDS = {
    "_WITH_I": b"way means reach available possible something within".split(),
    "_FIRST_PERSON": [b"myself"],
}
BROAD = {"broad_positives": 6000, "broad_negatives": 6000, "no_function_unigrams": True}
# name: (training arguments over BASE or None for the model in resources/ as it is, model_threshold, persona_threshold,
# gate words added or None).
VARIANTS: dict[str, tuple] = {
    "main's model (retrained as before), 0.6": ({}, 0.6, 0.95, None),
    "broad, function unigrams kept, 0.6": ({**BROAD, "no_function_unigrams": False}, 0.6, 0.95, None),
    "broad, 0.6": (BROAD, 0.6, 0.95, None),
    "broad, 0.65 (shipped)": (None, 0.65, 0.99, None),
    "broad, 0.7": (BROAD, 0.7, 0.99, None),
    "broad, 0.5": (BROAD, 0.5, 0.99, None),
    "broad 6k+9k, 0.65": ({**BROAD, "broad_negatives": 9000}, 0.65, 0.99, None),
    "broad, C 0.2, 0.65": ({**BROAD, "C": 0.2}, 0.65, 0.99, None),
    "main's model + gate words, 0.6": ({}, 0.6, 0.95, GATE_WORDS),
    "broad, 0.65 + gate words": (BROAD, 0.65, 0.99, GATE_WORDS),
}


def evaluate(step, show: bool) -> dict:
    fmt = FORMATS["alpaca"]
    out: dict = {}
    for name in ("refusal_dev", "refusal_dev2", "refusal_dev3"):
        rows = [json.loads(x) for x in (HERE / f"{name}.jsonl").read_text().splitlines() if x.strip()]
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        fp = []
        for i, r in enumerate(rows):
            v = step.keep(fmt.parse({"instruction": INSTRUCTION, "input": "", "output": r["answer"]}, f"dev:{i}"))
            if r["refusal"]:
                hits[r.get("where", "whole")][0] += not v.kept
                hits[r.get("where", "whole")][1] += 1
            elif not v.kept:
                fp.append(r["answer"])
        out[name] = (dict(hits), fp)
    real = []
    for name in ("alpaca_random_9k", "dolly_3k"):
        for j, d in enumerate(json.loads((SHARED / f"{name}.json").read_text())):
            rec = fmt.parse({"instruction": d["instruction"], "input": d.get("input") or "", "output": d["output"]}, f"{name}:{j}")
            v = step.keep(rec)
            if not v.kept:
                real.append(f"{name}:{j} {v.reason} {v.value}: {d['output'][:140]!r}")
    out["real"] = real
    if show:
        for name in ("refusal_dev", "refusal_dev2", "refusal_dev3"):
            for a in out[name][1]:
                print(f"  FP {name}: {a}")
        for r in real:
            print("  REAL", r)
    return out


def row(name: str, res: dict) -> str:
    cells = [name]
    for dev in ("refusal_dev", "refusal_dev2", "refusal_dev3"):
        hits, fp = res[dev]
        got, total = sum(h[0] for h in hits.values()), sum(h[1] for h in hits.values())
        where = " ".join(f"{w[0]}{hits[w][0]}/{hits[w][1]}" for w in ("whole", "prefix", "suffix", "inline") if w in hits)
        cells.append(f"{got / total:.3f} ({where})" if dev != "refusal_dev" else f"{got}/{total}")
        cells.append(str(len(fp)))
    cells.append(str(len(res["real"])))
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="variant name (repeatable)")
    ap.add_argument("--show", action="store_true", help="print look-alikes flagged and real records dropped")
    args = ap.parse_args()
    print("| variant | dev | FP | dev2 | FP | dev3 | FP | real drops |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    shipped = refusal.refusal_model()
    sets = {k: getattr(refusal, k) for k in GATE_WORDS}
    for name, (params, threshold, persona, gate) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        for k, v in sets.items():
            setattr(refusal, k, v | frozenset(gate[k]) if gate else v)
        if params is None:
            model = shipped
        else:
            ns = argparse.Namespace(**{**BASE, "broad_positives": 0, "broad_negatives": 0, "no_function_unigrams": False, **params})
            model = train_refusal.train(ns)[0]
        refusal.refusal_model = _fixed(model)  # the step reads the module's name at each call
        step = build_step("filter.refusal", {"model_threshold": threshold, "persona_threshold": persona})
        print(row(name, evaluate(step, args.show)), flush=True)
    return 0


def _fixed(model):
    return lambda: model


if __name__ == "__main__":
    raise SystemExit(main())
