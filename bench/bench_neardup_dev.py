"""Near-duplicate recall and precision of dedup.minhash on real records with edited copies: the development set
of issue 15 (continued), written down before any tuning and used to tune; bench/heldout is not used here.

Records: ../shared/data/alpaca_random_9k.json (9,229) and dolly_3k.json (2,996), read as Alpaca records
(instruction, input or context, output). Copies (seed 11): ``--copies`` sources drawn without replacement;
each gets one edited copy:

- kind, uniform: ``substitute`` (each word, with probability e, becomes a word drawn from every record's words),
  ``delete`` (each word dropped with probability e; one word at least stays), ``insert`` (after each word, with
  probability e, a drawn word), ``mixed`` (each word with probability e/3 each replaced, dropped, or followed
  by a drawn word), ``reorder`` (the text's sentences shuffled, then ``substitute`` at e/2), ``surface``
  (lower case, ASCII punctuation removed, and e of the words with two neighbouring letters swapped);
- edit rate e, uniform in [0.05, 0.35] (words are whitespace-separated tokens);
- part, uniform: the output only, the instruction and input only, or all three.

The records and copies are shuffled together (same seed) and run through ``dedup.minhash`` as a worker and the
main process would (prepare_batch in batches of 1,024, observe, finish, decide).

- recall: a copy counts as found when it and its source end in one cluster (one of them dropped);
- extra drops: originals dropped as near duplicates of other originals (the real data has some true near
  duplicates, and some records that only share a long context or a template): counted, and ``--show`` of them
  printed to read. A variant that finds more copies but drops many more originals is not better.

    .venv/bin/python bench/bench_neardup_dev.py                          # the default step
    .venv/bin/python bench/bench_neardup_dev.py -p verify=signature      # the 3-gram rule alone (before)
    .venv/bin/python bench/bench_neardup_dev.py --generator              # and the generator's clean records dropped
    .venv/bin/python bench/bench_neardup_dev.py --cost 50000             # CPU µs a record: prepare, observe, finish

``--generator`` also runs the step alone on bench_curation.py's file (``generate_noisy(n=20000, defect_rate=0.2,
seed=0)``) and counts the records planted as clean that it drops (the rule of issue 15: at most 0.1% of them), and
the planted near and exact duplicates it finds (dropped as a duplicate of their original), with ``--show`` of the
clean drops.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import time
from collections import Counter, defaultdict
from pathlib import Path

from curatune.curation.formats import FORMATS
from curatune.curation.record import Record
from curatune.curation.registry import build_step

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
KINDS = ("substitute", "delete", "insert", "mixed", "reorder", "surface")
PARTS = ("output", "prompt", "all")
_SENT = re.compile(r"(?<=[.!?])\s+")
_PUNCT = str.maketrans("", "", string.punctuation)


def _words_edit(text: str, kind: str, e: float, rng: random.Random, vocab: list[str]) -> str:
    words = text.split()
    if not words:
        return text
    out: list[str] = []
    for w in words:
        if kind == "substitute":
            out.append(rng.choice(vocab) if rng.random() < e else w)
        elif kind == "delete":
            if rng.random() >= e:
                out.append(w)
        elif kind == "insert":
            out.append(w)
            if rng.random() < e:
                out.append(rng.choice(vocab))
        elif kind == "mixed":
            r = rng.random()
            if r < e / 3:
                out.append(rng.choice(vocab))
            elif r < 2 * e / 3:
                continue
            elif r < e:
                out += [w, rng.choice(vocab)]
            else:
                out.append(w)
        elif kind == "surface":
            w = w.lower().translate(_PUNCT)
            if len(w) > 2 and rng.random() < e:
                i = rng.randrange(len(w) - 1)
                w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
            if w:
                out.append(w)
    return " ".join(out or words[:1])


def edit(text: str, kind: str, e: float, rng: random.Random, vocab: list[str]) -> str:
    if not text.strip():
        return text
    if kind == "reorder":
        sents = _SENT.split(text.strip())
        if len(sents) > 1:
            rng.shuffle(sents)
        return _words_edit(" ".join(sents), "substitute", e / 2, rng, vocab)
    return _words_edit(text, kind, e, rng, vocab)


def load_rows() -> list[tuple[str, dict]]:
    rows = []
    for name in ("alpaca_random_9k", "dolly_3k"):
        for i, d in enumerate(json.loads((DATA / f"{name}.json").read_text())):
            rows.append(
                (f"{name}:{i}", {"instruction": d["instruction"], "input": d.get("input") or d.get("context") or "", "output": d["output"]})
            )
    return rows


def build(copies: int, seed: int = 11) -> tuple[list[Record], dict[str, str], dict[str, tuple[str, float, str]]]:
    rng = random.Random(seed)
    rows = load_rows()
    vocab = [w for _, d in rows for w in d["output"].split()]
    sources = rng.sample(range(len(rows)), copies)
    out = list(rows)
    copy_of: dict[str, str] = {}
    how: dict[str, tuple[str, float, str]] = {}
    for k, i in enumerate(sources):
        rid, d = rows[i]
        kind, e, part = rng.choice(KINDS), rng.uniform(0.05, 0.35), rng.choice(PARTS)
        c = dict(d)
        if part in ("output", "all"):
            c["output"] = edit(d["output"], kind, e, rng, vocab)
        if part in ("prompt", "all"):
            c["instruction"] = edit(d["instruction"], kind, e, rng, vocab)
            c["input"] = edit(d["input"], kind, e, rng, vocab)
        cid = f"copy:{k}"
        out.append((cid, c))
        copy_of[cid] = rid
        how[cid] = (kind, e, part)
    rng.shuffle(out)
    fmt = FORMATS["alpaca"]
    return [fmt.parse(d, rid) for rid, d in out], copy_of, how


def run(recs: list[Record], params: dict) -> tuple[dict[str, str], float]:
    step = build_step("dedup.minhash", params)
    step.setup()
    t0 = time.process_time()
    for i in range(0, len(recs), 1024):
        batch = recs[i : i + 1024]
        for r, p in zip(batch, step.prepare_batch(batch)):
            step.observe(r, p)
    step.finish()
    dropped = {}
    for r in recs:
        v = step.decide(r)
        if v.action == "drop":
            dropped[r.id] = v.duplicate_of
    return dropped, time.process_time() - t0


def print_recall_tables(tables) -> None:
    """One markdown table per grouping: each group's copies found / planted (``{group: [found, planted]}``)."""
    for name, table in tables:
        print(f"| {name} | recall |\n|---|---:|")
        for k in sorted(table):
            f, n = table[k]
            print(f"| {k} | {f / n:.3f} ({f}/{n}) |")
        print()


def generator_check(params: dict, show: int) -> None:
    import tempfile

    import orjson

    from curatune.curation.read.records import read_records
    from curatune.generate import generate_noisy, truth_path_for

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noisy.jsonl"
        generate_noisy(path, n=20000, defect_rate=0.2, fmt="alpaca", seed=0)
        truth = [orjson.loads(x) for x in truth_path_for(path).read_bytes().splitlines()]
        recs = [r for r in read_records([str(path)], "auto") if isinstance(r, Record)]
    dropped, cpu = run(recs, params)
    by_id = {r.id: r for r in recs}
    clean = [t["id"] for t in truth if t["defect"] == "clean"]
    clean_dropped = [i for i in clean if i in dropped]
    found = {}
    for kind in ("near_duplicate", "exact_duplicate"):
        items = [t for t in truth if t["defect"] == kind]
        found[kind] = f"{sum(dropped.get(t['id']) == t['duplicate_of'] for t in items)}/{len(items)}"
    print(f"generator (20,000, seed 0), {cpu:.1f} s CPU: clean dropped {len(clean_dropped)} of {len(clean):,}; found {found}")
    for i in random.Random(0).sample(clean_dropped, min(show, len(clean_dropped))):
        a, b = by_id[i].all_text[:240], by_id[dropped[i]].all_text[:240]
        print(f"--- clean {i} dropped as a duplicate of {dropped[i]}\n  A: {a!r}\n  B: {b!r}")


def cost(n: int, params: dict) -> None:
    """CPU µs a record of the step's three phases on the generator's records (the best of 3): ``prepare_batch`` (the
    workers), ``observe`` and ``finish`` (the main process). Run it with another tree's src first on PYTHONPATH to
    compare versions (the step's interface is all it uses)."""
    import tempfile

    from curatune.curation.read.records import read_records
    from curatune.generate import generate_noisy

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noisy.jsonl"
        generate_noisy(path, n=n, defect_rate=0.2, fmt="alpaca", seed=0)
        recs = [r for r in read_records([str(path)], "auto") if isinstance(r, Record)]
    best = [float("inf")] * 3
    for _ in range(3):
        step = build_step("dedup.minhash", params)
        step.setup()
        t0 = time.process_time()
        prepared = [p for i in range(0, len(recs), 1024) for p in step.prepare_batch(recs[i : i + 1024])]
        t1 = time.process_time()
        for r, p in zip(recs, prepared):
            step.observe(r, p)
        t2 = time.process_time()
        step.finish()
        t3 = time.process_time()
        best = [min(b, x) for b, x in zip(best, (t1 - t0, t2 - t1, t3 - t2))]
    per = [1e6 * b / len(recs) for b in best]
    print(f"| {len(recs):,} records | prepare_batch {per[0]:.1f} | observe {per[1]:.1f} | finish {per[2]:.1f} | total {sum(per):.1f} µs |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=1200)
    ap.add_argument("--show", type=int, default=12, help="extra drops to print")
    ap.add_argument("-p", action="append", default=[], help="a dedup.minhash parameter, key=value (YAML value)")
    ap.add_argument("--generator", action="store_true", help="also count the generator's clean records dropped")
    ap.add_argument("--cost", type=int, metavar="N", help="only the CPU cost a record on N generator records")
    args = ap.parse_args()
    import yaml

    params = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.p)}
    if args.cost:
        cost(args.cost, params)
        return 0
    if args.generator:
        generator_check(params, args.show)
    recs, copy_of, how = build(args.copies)
    by_id = {r.id: r for r in recs}
    dropped, cpu = run(recs, params)

    def root(x: str) -> str:
        while x in dropped:
            x = dropped[x]
        return x

    found = {c for c, s in copy_of.items() if root(c) == root(s) and (c in dropped or s in dropped)}
    extra = [
        r
        for r in dropped
        if not r.startswith("copy:") and not (r in copy_of.values() and any(root(c) == root(r) for c in copy_of if copy_of[c] == r))
    ]
    print(f"\ndedup.minhash {params or '(defaults)'}: {len(recs):,} records, {len(copy_of)} planted copies, {cpu:.1f} s CPU\n")
    print("| recall | found | extra drops among originals |\n|---:|---:|---:|")
    print(f"| {len(found) / len(copy_of):.3f} | {len(found)} | {len(extra)} |\n")
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_rate: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_part: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c, (kind, e, part) in how.items():
        for table, key in ((by_kind, kind), (by_rate, f"{int(e * 20) / 20:.2f}-{int(e * 20) / 20 + 0.05:.2f}"), (by_part, part)):
            table[key][0] += c in found
            table[key][1] += 1
    print_recall_tables((("kind", by_kind), ("edit rate", by_rate), ("part edited", by_part)))
    sources = Counter(r.split(":")[0] for r in extra)
    print(f"extra drops by source: {dict(sources)}\n")
    rng = random.Random(0)
    for r in rng.sample(extra, min(args.show, len(extra))):
        a, b = by_id[r], by_id[dropped[r]]
        print(f"--- {r} dropped as a duplicate of {b.id}\n  A: {a.all_text[:300]!r}\n  B: {b.all_text[:300]!r}")
    missed = [c for c in copy_of if c not in found]
    print(f"\nmissed copies: {len(missed)}")
    for c in rng.sample(missed, min(5, len(missed))):
        print(f"  {c} {how[c]} of {copy_of[c]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
