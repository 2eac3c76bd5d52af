"""filter.refusal on a written dev set of refusals and look-alikes, by where the refusal sits (the whole answer, a
prefix, a suffix, a sentence inside), with its false positives, its misses (whether the gate ``_may_refuse`` let each
through and the model's best sentence probability) and its drops on real Alpaca and Dolly records.

Default set: bench/models/refusal_dev3.jsonl (issue 15 round 6: 68 refusals and 42 look-alikes written fresh and
committed before the model was retrained; the untuned check). Any set of the same form can be named:

    .venv/bin/python bench/models/eval_refusal_dev3.py                                  # dev3, then real records
    .venv/bin/python bench/models/eval_refusal_dev3.py --no-real                        # dev3 only
    .venv/bin/python bench/models/eval_refusal_dev3.py --dev bench/models/refusal_dev.jsonl --threshold 0.5
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from curatune.curation.filter.refusal import _may_refuse, _model_hit
from curatune.curation.formats import FORMATS
from curatune.curation.registry import build_step

DEV3 = Path(__file__).with_name("refusal_dev3.jsonl")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
INSTRUCTION = "Please help with the following request."


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=Path, default=DEV3)
    ap.add_argument("--threshold", type=float, default=None, help="model_threshold (default: the step's)")
    ap.add_argument("--no-real", action="store_true", help="skip the pass over alpaca_random_9k and dolly_3k")
    args = ap.parse_args()
    rows = [json.loads(x) for x in args.dev.read_text().splitlines() if x.strip()]
    step = build_step("filter.refusal", {} if args.threshold is None else {"model_threshold": args.threshold})
    step.setup()
    fmt = FORMATS["alpaca"]
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp, misses = [], []
    for i, r in enumerate(rows):
        v = step.keep(fmt.parse({"instruction": INSTRUCTION, "input": "", "output": r["answer"]}, f"dev:{i}"))
        caught = not v.kept
        if r["refusal"]:
            w = r.get("where", "whole")
            hits[w][0] += caught
            hits[w][1] += 1
            if not caught:
                misses.append(r["answer"])
        elif caught:
            fp.append((r["answer"], v.reason, v.value))
    total = [sum(h[0] for h in hits.values()), sum(h[1] for h in hits.values())]
    print(f"{args.dev.name}\n| where | recall |\n|---|---:|")
    for w in ("whole", "prefix", "suffix", "inline"):
        if hits[w][1]:
            print(f"| {w} | {hits[w][0]}/{hits[w][1]} |")
    print(f"| all | {total[0]}/{total[1]} ({total[0] / total[1]:.3f}) |")
    negatives = sum(1 for r in rows if not r["refusal"])
    print(f"\nlook-alikes flagged: {len(fp)} of {negatives}")
    for a, reason, value in fp:
        print(f"  FP {reason} {value}: {a}")
    print("\nmissed (gate passes?, best model probability):")
    for a in misses:
        print(f"  {_may_refuse(a)!s:5} {_model_hit(a, 2.0)[0] if _may_refuse(a) else 0.0:.2f}  {a}")
    if args.no_real:
        return 0
    real = 0
    for name in ("alpaca_random_9k", "dolly_3k"):
        for j, d in enumerate(json.loads((SHARED / f"{name}.json").read_text())):
            rec = fmt.parse({"instruction": d["instruction"], "input": d.get("input") or "", "output": d["output"]}, f"{name}:{j}")
            v = step.keep(rec)
            if not v.kept:
                real += 1
                print(f"  REAL {name}:{j} {v.reason} {v.value}: {d['output'][:150]!r}")
    print(f"real records dropped: {real}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
