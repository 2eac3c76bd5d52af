"""``curatune run``: one recipe, the whole loop, into one run folder.

```
curate ─► split ─► train ─► eval ─► report.html
```

Each stage writes into ``runs/<name>/`` and is skipped when its inputs and
settings are unchanged: curation by its run key (``run.json``), the split by
``split_key.json``, training by ``train/key.json``, the evaluation by
``eval/key.json``. A stage whose inputs changed reruns, and everything after
it reruns with it (a changed curation rebuilds the folder, so later stages find
nothing to reuse). The report is rebuilt every time: it only reads files.

Sections a recipe leaves out are stages skipped: without ``train:`` the loop
stops after the split; without ``split:`` training holds out
``train.val_set_size`` itself; without ``eval:`` nothing is evaluated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ..config.recipe import Recipe
from ..errors import InputError
from .runs import file_fingerprint, stored_key

Echo = Callable[[str], None]


@dataclass
class LoopResult:
    run_dir: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: Path | None = None


def _key(*parts: Any) -> str:
    return xxhash.xxh3_128(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def run_loop(recipe: Recipe, force: bool = False, echo: Echo = print, track: bool = True) -> LoopResult:
    from .curate import curate

    run_dir = Path(recipe.runs_dir) / str(recipe.name)
    result = LoopResult(run_dir)

    t0 = time.perf_counter()
    curated = curate(recipe, force=force)
    result.stages["curate"] = {
        "skipped": curated.skipped,
        "seconds": round(time.perf_counter() - t0, 1),
        "kept": curated.stats["kept"],
        "dropped": curated.stats["dropped"],
    }
    echo(
        f"curate: {curated.stats['input']} in, {curated.stats['kept']} kept, {curated.stats['dropped']} dropped"
        + (" (unchanged, skipped)" if curated.skipped else "")
    )

    train_data = str(run_dir)
    if recipe.split is not None:
        result.stages["split"] = split_stage(recipe, run_dir, force, echo)
        train_data = str(run_dir / "splits")
    if recipe.train is not None:
        result.stages["train"] = train_stage(recipe, train_data, force, echo, track)
        if recipe.eval is not None:
            result.stages["eval"] = eval_stage(recipe, run_dir, force, echo, track)
    from ..report.build import build_report

    result.report = build_report(run_dir)
    echo(f"report: {result.report}")
    return result


def split_stage(recipe: Recipe, run_dir: Path, force: bool, echo: Echo) -> dict:
    from ..curation.read.load import read_all
    from ..split import io as split_io
    from ..split import split_records

    cfg = recipe.split
    assert cfg is not None
    kept = run_dir / "data" / "kept.jsonl"
    key = _key("split", cfg.model_dump(mode="json"), file_fingerprint(kept))
    key_file = run_dir / "split_key.json"
    if not force and stored_key(key_file) == key and (run_dir / "splits" / "train.jsonl").is_file():
        echo("split: unchanged, skipped")
        return {"skipped": True}
    t0 = time.perf_counter()
    loaded = read_all([kept])
    res = split_records(loaded.records, cfg.val, cfg.test, cfg.stratify, cfg.seed, cfg.near_dup_threshold, None, "default", cfg.fields)
    files = split_io.write_split(res, run_dir, "messages" if _is_chat(loaded.records) else "curatune", [kept], loaded.rejects)
    key_file.write_bytes(orjson.dumps({"key": key}))
    sizes = {name: sum(1 for _ in path.open("rb")) for name, path in files.items()}
    echo("split: " + ", ".join(f"{n} {k}" for k, n in sizes.items()))
    return {"skipped": False, "sizes": sizes, "seconds": round(time.perf_counter() - t0, 1)}


def _is_chat(records) -> bool:
    return all(r.messages is not None for r in records[:100])


def train_stage(recipe: Recipe, data_path: str, force: bool, echo: Echo, track: bool) -> dict:
    from ..train.run import train

    staged = recipe.model_copy(deep=True)
    staged.data.path = data_path
    staged.data.format = "auto"
    res = train(staged, force=force, echo=lambda s: echo(f"train: {s}"), track=track)
    s = res.summary
    return {
        "skipped": res.skipped,
        "steps": s.get("steps"),
        "best_eval_loss": s.get("best_eval_loss"),
        "stopped_early": s.get("stopped_early"),
        "seconds": s.get("seconds_total"),
    }


def eval_stage(recipe: Recipe, run_dir: Path, force: bool, echo: Echo, track: bool) -> dict:
    from ..evaluate.run import evaluate_run

    cfg = recipe.eval
    assert cfg is not None
    data = Path(cfg.data) if cfg.data else run_dir / "splits" / "test.jsonl"
    if not data.exists():
        raise InputError(
            f"No held-out data to evaluate on: {data} does not exist. Set eval.data to a test file, or split.test above 0 so the split writes one."
        )
    summary = run_dir / "train" / "summary.json"
    key = _key("eval", cfg.model_dump(mode="json"), file_fingerprint(data), file_fingerprint(summary))
    key_file = run_dir / "eval" / "key.json"
    if not force and stored_key(key_file) == key and (run_dir / "eval" / "metrics.json").is_file():
        echo("eval: unchanged, skipped")
        return {"skipped": True}
    t0 = time.perf_counter()
    evaluate_run(
        run_dir,
        data,
        base=cfg.base,
        out_dir=run_dir / "eval",
        max_new_tokens=cfg.max_new_tokens,
        limit=cfg.limit,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        human_sheet=cfg.human_sheet,
        track=track,
        echo=lambda s: echo(f"eval: {s}"),
    )
    key_file.write_bytes(orjson.dumps({"key": key}))
    return {"skipped": False, "seconds": round(time.perf_counter() - t0, 1)}
