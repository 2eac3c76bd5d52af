"""filter.refusal on bench/models/refusal_dev2.jsonl (written for issue 15 continued before tuning): recall by where the
refusal sits (the whole answer, a prefix, a suffix, a sentence inside), false positives on look-alikes, and for each
miss whether the model's gate (``_may_refuse``) let it through and the model's best sentence probability.

    .venv/bin/python bench/models/eval_refusal_dev2.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from curatune.curation.filter.refusal import _may_refuse, _model_hit
from curatune.curation.formats import FORMATS
from curatune.curation.registry import build_step

DEV = Path(__file__).with_name("refusal_dev2.jsonl")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
INSTRUCTION = "Please help with the following request."


def main() -> int:
    rows = [json.loads(x) for x in DEV.read_text().splitlines() if x.strip()]
    import sys

    step = build_step("filter.refusal", {"model_threshold": float(sys.argv[1])} if len(sys.argv) > 1 else {})
    step.setup()
    fmt = FORMATS["alpaca"]
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp, misses = [], []
    for i, r in enumerate(rows):
        v = step.keep(fmt.parse({"instruction": INSTRUCTION, "input": "", "output": r["answer"]}, f"dev:{i}"))
        caught = not v.kept
        if r["refusal"]:
            hits[r["where"]][0] += caught
            hits[r["where"]][1] += 1
            if not caught:
                misses.append(r["answer"])
        elif caught:
            fp.append((r["answer"], v.reason, v.value))
    total = [sum(h[0] for h in hits.values()), sum(h[1] for h in hits.values())]
    print("| where | recall |\n|---|---:|")
    for w in ("whole", "prefix", "suffix", "inline"):
        print(f"| {w} | {hits[w][0]}/{hits[w][1]} |")
    print(f"| all | {total[0]}/{total[1]} ({total[0] / total[1]:.3f}) |")
    negatives = sum(1 for r in rows if not r["refusal"])
    print(f"\nlook-alikes flagged: {len(fp)} of {negatives}")
    for a, reason, value in fp:
        print(f"  FP {reason} {value}: {a}")
    print("\nmissed (gate passes?, best model probability):")
    for a in misses:
        print(f"  {_may_refuse(a)!s:5} {_model_hit(a, 2.0)[0] if _may_refuse(a) else 0.0:.2f}  {a}")
    # The same step on real Alpaca and Dolly records (the false-positive check; each flag is to be read)
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
