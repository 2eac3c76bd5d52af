"""Selection to a budget: speed on 50,000 records, and what it chooses on real Alpaca data.

1. Speed: ``curatune.generate.generate_noisy`` writes ``--n`` (50,000) records;
   their embeddings are computed once (all-MiniLM-L6-v2, cached on disk; that
   time is reported apart), then ``curatune select``'s run (``score.quality``
   then ``select.budget`` with ``--budget`` 5,000) is timed end to end: reading,
   scoring, loading the cached embeddings, selection, writing the run folder.
   Target: under 60 s on 2 cores with embeddings cached.
2. On ../shared/data/alpaca_random_9k.json (skipped when absent): the default
   curation recipe with every step set to flag (nothing dropped), then the
   budget selector keeps 20%; the table shows, per flag the curation steps put
   on a record, how many records carry it and the share of them selected,
   against the 20% a random choice would give.

    .venv/bin/python bench/bench_select.py            # 50,000 records, budget 5,000, and Alpaca
    .venv/bin/python bench/bench_select.py --n 10000 --budget 1000 --no-alpaca
    .venv/bin/python bench/bench_select.py --embedder hashed --no-alpaca   # speed only, see below
    .venv/bin/python bench/bench_select.py --no-speed                      # Alpaca only

3. ``--mix`` (issue 18): ``curatune select`` on alpaca_random_9k with ``--budget 1000`` and ``0.2``,
   as a user runs it (the command in a subprocess, imports and model loading included): cold (an
   empty cache: the embedding model loads and embeds every instruction) and warm (``--force``, same
   cache). For each, the composition against the pool from ``artifacts/selection.json``: answers
   under 20 words, median answer words, share with an input, share with a defect, instructions
   starting "rewrite" / "classify", task clusters holding at least 1% of the pool whose share fell
   below a third of it, and the lowest selected/pool ratio among those clusters. ``--variant NAME=
   -s ...`` rows rerun warm with overrides (the variants tried).

    .venv/bin/python bench/bench_select.py --mix --no-speed --no-alpaca       # the issue 18 tables

``--embedder hashed`` fills the cache with a hashed bag-of-words stand-in
(384 dimensions, like MiniLM) instead of MiniLM. The timed selection reads
cached vectors either way, so its time does not depend on which model made
them; what it saves is the first embedding pass, which for 50,000 generated
records (about 200 tokens each) takes MiniLM hours on 2 busy CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

from curatune.config.recipe import apply_overrides, default_steps, parse_recipe
from curatune.curation.dedup.exact import dedup_text
from curatune.curation.read.records import Reject, read_records
from curatune.embed import load_embedder
from curatune.generate import generate_noisy
from curatune.stages.curate import curate
from curatune.stages.select import select, selection_recipe

ALPACA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_random_9k.json"


def use_hashed_embedder() -> None:
    """Make every semantic step embed with a hashed bag of words (384-d), cached under its own key."""
    import re

    import numpy as np
    import xxhash

    from curatune.embed import model as embed_model

    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"\w+", text.lower()):
                out[i, xxhash.xxh32_intdigest(w.encode()) % 384] += 1.0
            out[i, 0] += 1e-3
        return out

    embedder = embed_model.Embedder(encode, "hashed-bow-384")
    embed_model.load_embedder = lambda *a, **k: embedder
    globals()["load_embedder"] = embed_model.load_embedder


def warm_embeddings(path: Path) -> tuple[float, int]:
    # The texts curatune select embeds: the prompt, cut to max_chars (the stage's defaults).
    texts = [dedup_text(r, "prompt")[:512] for r in read_records([path]) if not isinstance(r, Reject)]
    embedder = load_embedder()
    t0 = time.perf_counter()
    embedder(texts)
    return time.perf_counter() - t0, embedder.embedded


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (the worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def speed(n: int, budget: int, tmp: Path) -> dict:
    data = tmp / "noisy.jsonl"
    generate_noisy(data, n=n, seed=0)
    embed_s, embedded = warm_embeddings(data)
    recipe = selection_recipe(str(data), budget, name="bench-select", overrides=[f"runs_dir={tmp}/runs"])
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    result = select(recipe, force=True)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    steps = {s["step"]: round(s["seconds"], 2) for s in result.stats["steps"]}
    summary = json.loads((result.run_dir / "artifacts" / "selection.json").read_text())
    return {
        "n": n,
        "budget": budget,
        "embed_seconds_first_run": round(embed_s, 1),
        "texts_embedded": embedded,
        "select_seconds": round(seconds, 1),
        "select_cpu_seconds": round(cpu, 1),
        "kept": result.stats["kept"],
        "step_seconds": steps,
        "reasons": summary["reasons"],
    }


def alpaca(tmp: Path, fraction: float) -> dict:
    steps = [{"step": s.step, "on_fail": "flag", **s.params} for s in default_steps()]
    raw = apply_overrides(
        {"name": "alpaca-flags", "data": {"path": str(ALPACA)}, "runs_dir": str(tmp / "runs"), "curate": {"steps": steps}}, []
    )
    flagged = curate(parse_recipe(raw), force=True)
    warm_embeddings(flagged.run_dir / "data" / "kept.jsonl")
    result = select(selection_recipe(str(flagged.run_dir), fraction, name="alpaca-select", overrides=[f"runs_dir={tmp}/runs"]), force=True)
    kept_ids = {orjson.loads(line)["id"] for line in (result.run_dir / "data" / "kept.jsonl").read_bytes().splitlines()}
    total, chosen = Counter(), Counter()
    for rec in read_records([flagged.run_dir / "data" / "kept.jsonl"]):
        flags = {f.split(":")[0] for f in rec.meta.get("flags", [])} or {"(no flag)"}
        for f in flags:
            total[f] += 1
            chosen[f] += rec.id in kept_ids
    rows = [
        {"flag": f, "records": total[f], "selected": chosen[f], "share_selected": round(chosen[f] / total[f], 3)}
        for f in sorted(total, key=lambda f: -total[f])
    ]
    summary = json.loads((result.run_dir / "artifacts" / "selection.json").read_text())
    return {
        "input": sum(1 for _ in read_records([ALPACA])),
        "selected": len(kept_ids),
        "by_flag": rows,
        "reasons": summary["reasons"],
        "profile": profile(result.run_dir),
    }


def profile(run_dir: Path) -> dict:
    """Quality score and answer length (words) of the selected records against the rest: median and quartiles."""
    import numpy as np

    def stats(path: Path) -> dict:
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        q = np.array([(r.get("meta", {}).get("scores") or {}).get("quality", np.nan) for r in rows], dtype=float)
        words = np.array(
            [sum(len((m.get("content") or "").split()) for m in r.get("messages") or [] if m.get("role") == "assistant") for r in rows]
        )
        pct = lambda a: [round(float(x), 3) for x in np.nanpercentile(a, [25, 50, 75])] if len(a) else []  # noqa: E731
        return {"records": len(rows), "quality_q25_q50_q75": pct(q), "answer_words_q25_q50_q75": pct(words)}

    return {"selected": stats(run_dir / "data" / "kept.jsonl"), "not_selected": stats(run_dir / "data" / "dropped.jsonl")}


# ---- issue 18: the selection's composition against the pool, cold and warm --------------------------

VARIANTS = {
    # name: overrides (on top of the defaults); the default is the selection the issue asked for
    "default (task clusters x input, rank within 20 length buckets, defects out)": [],
    "score only (no strata, raw quality)": ["select.stratify=null", "select.length_buckets=0"],
    "5 length buckets": ["select.length_buckets=5"],
    "no defect exclusion": ["select.exclude_defects=false"],
}


def run_cli(args: list[str], cache: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds (user + system, children) of one ``curatune`` command, and its exit code."""
    env = {**os.environ, "CURATUNE_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from curatune.cli import main; main()", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(wall, 1), round(cpu, 1), proc.returncode


def mix_row(run_dir: Path) -> dict:
    comp = json.loads((run_dir / "artifacts" / "selection.json").read_text())["composition"]
    big = [c for c in comp["clusters"] if c["pool_share"] >= 0.01]
    row = {}
    for side in ("pool", "selected"):
        p = comp[side]
        row[side] = {
            "records": p["records"],
            "under_20_words": p["share_under_20_words"],
            "median_words": p["answer_words_median"],
            "with_input": p["share_with_input"],
            "defective": p["share_defective"],
            "rewrite": comp["verbs"]["rewrite"][side],
            "classify": comp["verbs"]["classify"][side],
            "histogram": p["answer_words_histogram"],
        }
    row["clusters"] = len(comp["clusters"])
    row["clusters_1pct"] = len(big)
    row["below_a_third"] = comp["clusters_below_a_third"]
    row["lowest_ratio_1pct"] = min((c["ratio"] for c in big), default=None)
    return row


def mix(tmp: Path, budgets: list[float], variants: dict[str, list[str]]) -> list[dict]:
    rows = []
    for budget in budgets:
        cache = tmp / f"cache-{budget}"  # empty: the first run is cold
        base = ["select", str(ALPACA), "--budget", f"{budget:g}", "--runs-dir", str(tmp / "runs")]
        for i, (name, overrides) in enumerate(variants.items()):
            sets = [a for o in overrides for a in ("-s", o)]
            run_name = f"mix-{budget:g}-{i}"
            timings = {}
            if i == 0:
                timings["cold"] = run_cli([*base, "--name", run_name, *sets], cache)
            timings["warm"] = run_cli([*base, "--name", run_name, "--force", *sets], cache)
            rows.append({"budget": budget, "variant": name, "overrides": overrides, "timings": timings, **mix_row(tmp / "runs" / run_name)})
    return rows


def print_mix(rows: list[dict]) -> None:
    pct = lambda x: f"{x:.1%}"  # noqa: E731
    print("\n### Composition against the pool\n")
    print("| budget | variant | selected | under 20 words | median words | with input | defective | 'rewrite' | 'classify' |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    seen_pool = False
    for r in rows:
        if not seen_pool:
            p = r["pool"]
            print(
                f"| pool | | {p['records']:,} | {pct(p['under_20_words'])} | {p['median_words']:.0f} | {pct(p['with_input'])} | "
                f"{pct(p['defective'])} | {pct(p['rewrite'])} | {pct(p['classify'])} |"
            )
            seen_pool = True
        s = r["selected"]
        print(
            f"| {r['budget']:g} | {r['variant']} | {s['records']:,} | {pct(s['under_20_words'])} | {s['median_words']:.0f} | "
            f"{pct(s['with_input'])} | {pct(s['defective'])} | {pct(s['rewrite'])} | {pct(s['classify'])} |"
        )
    print("\n### Task clusters and answer lengths\n")
    edges = list(rows[0]["pool"]["histogram"])
    print(
        "| budget | variant | clusters (>=1% of pool) | below a third of pool share | lowest ratio (>=1%) | "
        + " | ".join(f"{e} words" for e in edges)
        + " |"
    )
    print("|---|---|---:|---|---:|" + "---:|" * len(edges))
    print("| pool | | | | | " + " | ".join(pct(rows[0]["pool"]["histogram"][e]) for e in edges) + " |")
    for r in rows:
        below = (
            ", ".join(
                f"{c['name']} {c['pool_share']:.1%}->{c['selected_share']:.1%}{' (defective)' if c['defective'] else ''}"
                for c in r["below_a_third"]
            )
            or "none"
        )
        print(
            f"| {r['budget']:g} | {r['variant']} | {r['clusters']} ({r['clusters_1pct']}) | {below or 'none'} | {r['lowest_ratio_1pct']} | "
            + " | ".join(pct(r["selected"]["histogram"][e]) for e in edges)
            + " |"
        )
    print("\n### Time (wall s / CPU s, the command end to end)\n")
    print("| budget | variant | cold (empty cache) | warm (--force, cached) |")
    print("|---|---|---:|---:|")
    for r in rows:
        t = r["timings"]
        cold = f"{t['cold'][0]} / {t['cold'][1]}" if "cold" in t else ""
        print(f"| {r['budget']:g} | {r['variant']} | {cold} | {t['warm'][0]} / {t['warm'][1]} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--budget", type=int, default=5_000)
    ap.add_argument("--fraction", type=float, default=0.2)
    ap.add_argument("--no-alpaca", action="store_true")
    ap.add_argument("--no-speed", action="store_true", help="only the Alpaca part")
    ap.add_argument("--mix", action="store_true", help="issue 18: composition and time of curatune select on Alpaca")
    ap.add_argument("--budgets", default="1000,0.2", help="--mix budgets, comma separated")
    ap.add_argument("--variants", default="all", help="--mix: 'all', or 'default' for the default selection only")
    ap.add_argument("--out", default="bench/out/select.json")
    ap.add_argument(
        "--embedder", choices=["minilm", "hashed"], default="minilm", help="what fills the embedding cache before the timed run"
    )
    args = ap.parse_args()
    if args.embedder == "hashed":
        use_hashed_embedder()
    report = {}
    with tempfile.TemporaryDirectory() as d:
        if not args.no_speed:
            report["speed"] = s = speed(args.n, args.budget, Path(d))
            s["embedder"] = args.embedder
            print(f"\n## Selection of {s['budget']:,} from {s['n']:,} records\n")
            print("| embedding (first run, cached after) | texts embedded | select end to end (cached) | CPU s | kept | per step s |")
            print("|---:|---:|---:|---:|---:|---|")
            print(
                f"| {s['embed_seconds_first_run']} s | {s['texts_embedded']:,} | {s['select_seconds']} s | {s['select_cpu_seconds']} | "
                f"{s['kept']:,} | {s['step_seconds']} |"
            )
        if not args.no_alpaca and ALPACA.is_file():
            report["alpaca"] = a = alpaca(Path(d), args.fraction)
            print(f"\n## Alpaca: {a['selected']:,} of {a['input']:,} selected ({args.fraction:.0%}); not selected: {a['reasons']}\n")
            print("| flag from curation | records | selected | share selected |")
            print("|---|---:|---:|---:|")
            for r in a["by_flag"]:
                print(f"| {r['flag']} | {r['records']} | {r['selected']} | {r['share_selected']:.1%} |")
            print("\n| | records | quality (quartiles) | answer words (quartiles) |")
            print("|---|---:|---|---|")
            for name, p in a["profile"].items():
                print(f"| {name.replace('_', ' ')} | {p['records']:,} | {p['quality_q25_q50_q75']} | {p['answer_words_q25_q50_q75']} |")
        if args.mix and ALPACA.is_file():
            variants = VARIANTS if args.variants == "all" else dict(list(VARIANTS.items())[:1])
            report["mix"] = rows = mix(Path(d), [float(b) for b in args.budgets.split(",")], variants)
            print_mix(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
