"""filter.truncated_answer on real answers cut at random word boundaries against the same answers intact (issue 15).

Data: alpaca_random_9k and dolly_3k (../shared/data, read at run time). Answers of 20 words or more that end
with . ! or ? (no code) are cut at a random word boundary (a fraction U(0.15, 0.95) of the characters kept,
moved back to a space not after . ! ? : ; or a line break), seed 2024 (bench/heldout uses its own procedure
and seed 0; this benchmark was written apart from it and is what the step's settings were chosen on). Three
sets: the cut answers (truncated), the same answers intact (clean), and the answers of 8 words or more that
end without punctuation in the data as it is (clean, mostly human answers without the last full stop: the
hard part). Variants: the rules alone (the default), the rules with the language-model signal
(``lm: default``, the packaged SmolLM2-135M-Instruct: the probability of the end of the turn or of a full
stop right after the answer), on ``--lm-sample`` records per set (a forward pass each).

    .venv/bin/python bench/bench_truncation.py                 # 1500 per set; the LM on 200 per set
    .venv/bin/python bench/bench_truncation.py --lm-sample 0   # no LM
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from curatune.curation.formats import FORMATS
from curatune.curation.registry import build_step

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def cut(out: str, rng: random.Random) -> str | None:
    keep = int(len(out) * rng.uniform(0.15, 0.95))
    i = out.rfind(" ", 0, keep)
    while i > 0 and (out[i - 1] in ".!?:;" or out[i - 1] == "\n"):
        i = out.rfind(" ", 0, i - 1)
    return out[:i] if i > 0 else None


def sets(n: int, seed: int = 2024) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    rows = []
    for name in ("alpaca_random_9k.json", "dolly_3k.json"):
        rows += json.loads((SHARED / name).read_text(encoding="utf-8"))
    complete = [r for r in rows if len(r["output"].split()) >= 20 and r["output"].rstrip()[-1:] in ".!?" and "```" not in r["output"]]
    bare = [r for r in rows if len(r["output"].split()) >= 8 and r["output"].rstrip()[-1:].isalnum()]
    rng.shuffle(complete)
    rng.shuffle(bare)
    cuts = []
    for r in complete[:n]:
        c = cut(r["output"].rstrip(), rng)
        if c:
            cuts.append({**r, "output": c})
    return {"cut (truncated)": cuts, "intact (clean)": complete[: len(cuts)], "unpunctuated as found (clean)": bare[:n]}


def flagged(step, rows: list[dict]) -> int:
    parse = FORMATS["alpaca"].parse
    return sum(step.keep(parse({k: r.get(k) or "" for k in ("instruction", "input", "output")}, "t:1")).action != "keep" for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--lm-sample", type=int, default=200)
    ap.add_argument("--out", default="bench/out/truncation.json")
    args = ap.parse_args()
    data = sets(args.n)
    variants = [("rules (default)", {}, None)]
    if args.lm_sample:
        variants.append(("rules + language model", {"lm": "default"}, args.lm_sample))
    results = []
    print("| variant | records per set | cut caught (recall) | intact flagged | unpunctuated clean flagged | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, params, sample in variants:
        step = build_step("filter.truncated_answer", params)
        step.setup()
        t0 = time.perf_counter()
        counts = {k: (flagged(step, v[:sample] if sample else v), len(v[:sample] if sample else v)) for k, v in data.items()}
        secs = time.perf_counter() - t0
        (c, nc), (i, ni), (u, nu) = counts.values()
        print(f"| {label} | {nc} | {c} ({c / nc:.3f}) | {i} ({i / ni:.3f}) | {u} ({u / nu:.3f}) | {secs:.0f} |")
        results.append({"variant": label, "counts": counts, "seconds": secs})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
