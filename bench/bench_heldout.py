"""Defect checks on the held-out evaluation of issue 15: data the checks were not written from.

Two parts, both under bench/heldout/ (README.md there has the procedure and the rules):

- the planted set: bench/heldout/plant.py plants defects with its own phrasings into real
  Alpaca/Dolly records (seeded; re-planted at every run, its sha256 checked against the
  committed manifest.json); its ``main`` and ``mirror`` parts are curated as two datasets;
- the hand-labelled real records: bench/heldout/real_defects.jsonl, indices into
  ../shared/data/alpaca_random_9k.json and dolly_3k.json read and labelled by hand; both files
  are curated whole (as one dataset) and the labelled records are scored.

A run's ledger is joined with the truth through bench/heldout/expected.json: which ``step:reason``
prefixes count as catching which defect. A new check adds its step there; the truth is never
edited. Per defect: planted, caught (a drop, flag or modify decision with one of its prefixes),
recall, how many records its steps caught in all and the precision of those, and the clean
records its steps dropped or flagged. Per clean group: records wrongly dropped, flagged, and
modified by PII redaction.

    .venv/bin/python bench/bench_heldout.py                         # default recipe
    .venv/bin/python bench/bench_heldout.py --recipe my.yaml        # its data.path is replaced
    .venv/bin/python bench/bench_heldout.py --out bench/out/heldout.json --skip-real
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from curatune.config.recipe import apply_overrides, load_recipe, parse_recipe
from curatune.stages.curate import curate

HERE = Path(__file__).resolve().parent
HELDOUT = HERE / "heldout"
sys.path.insert(0, str(HELDOUT))

import plant  # noqa: E402  (bench/heldout/plant.py is a script beside this one, importable once its folder is on the path)

ACTED = ("drop", "flag", "modify")


# ---- running ------------------------------------------------------------------------------


def run_recipe(data: Path, runs: Path, name: str, recipe_path: str | None, workers: str) -> Path:
    overrides = [f"data.path={data}", f"runs_dir={runs}", f"curate.workers={workers}", f"name={name}"]
    if recipe_path:
        recipe = load_recipe(recipe_path, overrides)
    else:
        recipe = parse_recipe(apply_overrides({"name": name, "data": {"path": str(data)}}, overrides[1:]))
    return curate(recipe, force=True).run_dir


def events_by_id(run_dir: Path) -> dict[str, list[dict]]:
    by_id: dict[str, list[dict]] = defaultdict(list)
    for row in pq.read_table(run_dir / "ledger.parquet").to_pylist():
        by_id[row["id"]].append(row)
    return by_id


def real_dataset(data_dir: Path, out: Path) -> Path:
    """Both source files as one JSONL with ids 'file:index', so the ledger joins with real_defects.jsonl."""
    with out.open("w", encoding="utf-8") as f:
        for name in plant.SOURCES:
            for i, row in enumerate(json.loads((data_dir / name).read_text(encoding="utf-8"))):
                f.write(json.dumps({"id": f"{name}:{i}", **{k: row.get(k) or "" for k in ("instruction", "input", "output")}}) + "\n")
    return out


# ---- scoring ------------------------------------------------------------------------------


class Mapping:
    """expected.json: which step:reason prefixes catch which defect."""

    def __init__(self, path: Path = HELDOUT / "expected.json"):
        spec = json.loads(path.read_text(encoding="utf-8"))
        self.catch: dict[str, list[str]] = spec["catch"]
        self.family: dict[str, str] = spec.get("family", {})
        self.damage: dict[str, list[str]] = spec.get("damage", {})

    def fam(self, defect: str) -> str:
        return self.family.get(defect, defect)

    def caught_by(self, defect: str, keys: list[str]) -> bool:
        prefixes = self.catch.get(defect, [])
        return any(k.startswith(p) for k in keys for p in prefixes)


def decisions(events: list[dict]) -> list[tuple[str, str, dict]]:
    """(action, 'step:reason', event) for every drop/flag/modify of a record (the final 'output' row left out)."""
    return [(e["action"], f"{e['step']}:{e['reason']}", e) for e in events if e["action"] in ACTED and e["step"] != "output"]


def score(items: list[dict], by_id: dict[str, list[dict]], mapping: Mapping) -> dict:
    """items: {'id', 'labels' (defect types or ['clean']), 'group'}. Returns per-defect and per-clean-group figures."""
    acts = {it["id"]: decisions(by_id.get(it["id"], [])) for it in items}
    swapped = _swapped_duplicates(items, acts)
    labels = {it["id"]: it["labels"] for it in items}
    defects = sorted({lab for it in items for lab in it["labels"] if lab != "clean"})
    per_defect = []
    for d in defects:
        planted = [it for it in items if d in it["labels"]]

        def keys(i):
            return [k for _, k, _ in acts[i]]

        caught = [it for it in planted if mapping.caught_by(d, keys(it["id"])) or it["id"] in swapped]
        hits = [it for it in items if mapping.caught_by(d, keys(it["id"]))]
        right = [it for it in hits if any(mapping.fam(lab) == mapping.fam(d) for lab in labels[it["id"]])]
        clean_hits = [it for it in hits if labels[it["id"]] == ["clean"]]
        row = {
            "defect": d,
            "planted": len(planted),
            "caught": len(caught),
            "recall": _div(len(caught), len(planted)),
            "caught_by_its_steps": len(hits),
            "precision": _div(len(right), len(hits)),
            "clean_dropped_by_its_steps": sum(1 for it in clean_hits if _dropped_by(acts[it["id"]], mapping.catch.get(d, []))),
            "clean_flagged_or_modified_by_its_steps": sum(
                1 for it in clean_hits if not _dropped_by(acts[it["id"]], mapping.catch.get(d, []))
            ),
            "missed_examples": [it["id"] for it in planted if it not in caught][:10],
            "dropped_or_flagged_by_any_step": sum(1 for it in planted if any(a in ("drop", "flag") for a, _, _ in acts[it["id"]])),
            "targeted": bool(mapping.catch.get(d)),
        }
        if d in mapping.damage:
            damaged = [it for it in planted if _damaged(acts[it["id"]], mapping.damage[d], mapping.catch.get(d, []))]
            row["damaged"] = len(damaged)
            row["handled"] = len(planted) - len(damaged)
            row["handled_rate"] = _div(len(planted) - len(damaged), len(planted))
        per_defect.append(row)
    clean = [it for it in items if it["labels"] == ["clean"]]
    groups = defaultdict(list)
    for it in clean:
        groups[it.get("group") or "base"].append(it)
    per_group = []
    for g, its in sorted(groups.items()):
        dropped = [it for it in its if any(a == "drop" for a, _, _ in acts[it["id"]]) and it["id"] not in swapped]
        flagged = [it for it in its if it not in dropped and any(a == "flag" for a, _, _ in acts[it["id"]])]
        modified = [it for it in its if _modified_by(acts[it["id"]], mapping.damage.get("clean", []))]
        by = Counter(k for it in dropped + flagged for a, k, _ in acts[it["id"]] if a in ("drop", "flag"))
        per_group.append(
            {
                "group": g,
                "records": len(its),
                "dropped": len(dropped),
                "flagged": len(flagged),
                "pii_modified": len(modified),
                "by": dict(by.most_common(6)),
                "dropped_examples": [it["id"] for it in dropped][:10],
            }
        )
    n_clean = len(clean)
    n_dropped = sum(r["dropped"] for r in per_group)
    n_flagged = sum(r["flagged"] for r in per_group)
    return {
        "per_defect": per_defect,
        "per_clean_group": per_group,
        "clean_records": n_clean,
        "clean_dropped": n_dropped,
        "clean_dropped_rate": _div(n_dropped, n_clean),
        "clean_flagged": n_flagged,
        "clean_flagged_rate": _div(n_flagged, n_clean),
        "clean_dropped_by": dict(
            Counter(k for it in clean if it["id"] not in swapped for a, k, _ in acts[it["id"]] if a == "drop").most_common()
        ),
    }


def _swapped_duplicates(items: list[dict], acts: dict) -> set[str]:
    """Copies whose original was dropped as a duplicate *of the copy* (a dedup that keeps the later or
    the better record): the pair was caught, and the original's drop is not a wrongly dropped clean record."""
    out = set()
    for it in items:
        orig = it.get("duplicate_of")
        if not orig or orig not in acts:
            continue
        if any(a == "drop" and e.get("duplicate_of") == it["id"] for a, _, e in acts[orig]):
            out |= {it["id"], orig}
    return out


def _dropped_by(acts, prefixes) -> bool:
    return any(a == "drop" and any(k.startswith(p) for p in prefixes) for a, k, _ in acts)


def _modified_by(acts, prefixes) -> bool:
    return any(a == "modify" and any(k.startswith(p) for p in prefixes) for a, k, _ in acts)


def _damaged(acts, damage, catch) -> bool:
    """Kept with a damaging modification, and neither dropped nor flagged by a catching step."""
    if not _modified_by(acts, damage):
        return False
    return not any(a in ("drop", "flag") and any(k.startswith(p) for p in catch) for a, k, _ in acts)


def _div(a: int, b: int) -> float | None:
    return a / b if b else None


# ---- the two parts ------------------------------------------------------------------------


def check_manifest(counts: dict) -> list[str]:
    manifest = HELDOUT / "manifest.json"
    if not manifest.exists():
        return [f"{manifest}: missing; the planted set cannot be checked against the committed one"]
    want = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    return [
        f"{name}: sha256 {counts['sha256'][name][:12]}... differs from manifest.json {want[name][:12]}..."
        for name in want
        if counts["sha256"].get(name) != want[name]
    ]


def planted_part(tmp: Path, args) -> dict:
    out = tmp / "planted"
    counts = plant.plant(out, seed=args.seed, data_dir=args.data)
    warnings = check_manifest(counts) if args.seed == 0 else [f"seed {args.seed}: not the committed set"]
    truth = [json.loads(ln) for ln in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id: dict[str, list[dict]] = {}
    seconds = {}
    for part in ("main", "mirror"):
        t0 = time.perf_counter()
        run_dir = run_recipe(out / f"{part}.jsonl", tmp / "runs", f"heldout-{part}", args.recipe, args.workers)
        seconds[part] = round(time.perf_counter() - t0, 1)
        by_id.update(events_by_id(run_dir))
    items = [
        {
            "id": t["id"],
            "labels": [t["defect"]],
            "group": t["group"] if t["defect"] == "clean" else None,
            "duplicate_of": t["detail"].get("duplicate_of"),
        }
        for t in truth
    ]
    result = score(items, by_id, Mapping())
    result["by_defect_group"] = _by_group(truth, by_id)
    result["warnings"] = warnings
    result["seconds"] = seconds
    result["records"] = counts["records"]
    return result


def _by_group(truth: list[dict], by_id: dict) -> list[dict]:
    """Recall per variant of each defect (refusal placement, near-duplicate level, truncation fraction...)."""
    mapping = Mapping()
    rows = defaultdict(lambda: [0, 0])
    for t in truth:
        if t["defect"] == "clean":
            continue
        group = t["group"]
        if t["defect"] == "truncated_answer":
            f = t["detail"]["kept_fraction"]
            group = "kept<0.4" if f < 0.4 else "kept 0.4-0.7" if f < 0.7 else "kept>=0.7"
        keys = [k for _, k, _ in decisions(by_id.get(t["id"], []))]
        rows[(t["defect"], group)][0] += 1
        rows[(t["defect"], group)][1] += mapping.caught_by(t["defect"], keys)
    return [{"defect": d, "group": g, "planted": n, "caught": c, "recall": _div(c, n)} for (d, g), (n, c) in sorted(rows.items())]


def real_part(tmp: Path, args) -> dict:
    labels = [json.loads(ln) for ln in (HELDOUT / "real_defects.jsonl").read_text(encoding="utf-8").splitlines()]
    data = real_dataset(args.data, tmp / "real.jsonl")
    t0 = time.perf_counter()
    run_dir = run_recipe(data, tmp / "runs", "heldout-real", args.recipe, args.workers)
    seconds = round(time.perf_counter() - t0, 1)
    by_id = events_by_id(run_dir)
    items = [{"id": f"{r['file']}:{r['index']}", "labels": r["labels"], "group": r.get("group")} for r in labels]
    result = score(items, by_id, Mapping())
    result["seconds"] = seconds
    result["note"] = "precision here is among the hand-labelled records only"
    return result


# ---- printing -----------------------------------------------------------------------------


def fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_tables(title: str, r: dict) -> None:
    print(f"\n### {title}\n")
    print(
        "| defect | planted | caught | recall | caught by its steps | precision | clean dropped by its steps | clean flagged or modified "
        "by its steps |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    untargeted = []
    for d in r["per_defect"]:
        if not d["targeted"]:
            untargeted.append(
                f"{d['defect']}: {d['planted']} labelled, {d['dropped_or_flagged_by_any_step']} dropped or flagged by some step"
            )
            continue
        extra = f" (handled {d['handled']}/{d['planted']} = {fmt(d['handled_rate'])}: not kept redacted)" if "handled" in d else ""
        print(
            f"| {d['defect']}{extra} | {d['planted']} | {d['caught']} | {fmt(d['recall'])} | {d['caught_by_its_steps']} | "
            f"{fmt(d['precision'])} "
            f"| {d['clean_dropped_by_its_steps']} | {d['clean_flagged_or_modified_by_its_steps']} |"
        )
    if untargeted:
        print("\nNo check targets these (expected.json lists no step for them): " + "; ".join(untargeted))
    print(
        f"\nClean records wrongly dropped: {r['clean_dropped']} of {r['clean_records']} ({fmt(r['clean_dropped_rate'])}); "
        f"wrongly flagged: {r['clean_flagged']} ({fmt(r['clean_flagged_rate'])}); drops by {r['clean_dropped_by']}"
    )
    print("\n| clean group | records | wrongly dropped | wrongly flagged | PII-modified | by (drops and flags) |")
    print("|---|---:|---:|---:|---:|---|")
    for g in r["per_clean_group"]:
        by = ", ".join(f"{k} {n}" for k, n in g["by"].items())
        print(f"| {g['group']} | {g['records']} | {g['dropped']} | {g['flagged']} | {g['pii_modified']} | {by} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", help="a recipe YAML (default: the default recipe); its data.path is replaced")
    ap.add_argument("--seed", type=int, default=0, help="planting seed; 0 is the committed set (manifest.json)")
    ap.add_argument("--data", type=Path, default=plant.DEFAULT_DATA, help="folder with alpaca_random_9k.json and dolly_3k.json")
    ap.add_argument("--workers", default="auto")
    ap.add_argument("--skip-real", action="store_true", help="the planted set only")
    ap.add_argument("--out", default="bench/out/heldout.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report = {"recipe": args.recipe or "default", "seed": args.seed, "planted": planted_part(Path(tmp), args)}
        if not args.skip_real:
            report["real"] = real_part(Path(tmp), args)

    print(f"\n## Held-out evaluation (issue 15), recipe: {report['recipe']}")
    for w in report["planted"]["warnings"]:
        print(f"\nWARNING: {w}")
    p = report["planted"]
    print_tables(
        f"Planted set: {p['records']['main']:,} + {p['records']['mirror']:,} records (main + truncation mirror), seed {args.seed}", p
    )
    print("\n| defect | variant | planted | caught | recall |")
    print("|---|---|---:|---:|---:|")
    for g in p["by_defect_group"]:
        print(f"| {g['defect']} | {g['group']} | {g['planted']} | {g['caught']} | {fmt(g['recall'])} |")
    if "real" in report:
        print_tables("Hand-labelled real records (alpaca_random_9k, dolly_3k; precision among the labelled records)", report["real"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
