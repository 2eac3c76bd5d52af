"""``curatune curate``: run a recipe's curation steps over its data into a run folder.

The curate stage owns the run folder's top: ``recipe.yaml``, ``run.json``, ``stats.json``,
``ledger.parquet``, ``data/`` and ``artifacts/`` (:class:`curatune.run_folder.RunFolder`). It is keyed
on the recipe's curation sections (``name``, ``runs_dir``, ``data``, ``curate``), the input files
and the engine's code; a changed curation builds the whole folder anew beside the old one and swaps
it in, so the stages after it find nothing stale to reuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config.recipe import CURATION_SECTIONS, Recipe, default_steps_for, recipe_to_yaml
from ..curation.pipeline import Executor, Pipeline, PipelineResult, PipelineStep, worker_count
from ..curation.pipeline.ray_executor import RayExecutor
from ..curation.read.records import RecordReader
from ..curation.registry import build_step
from ..curation.write.run_sink import RunSink
from ..run_folder import RunFolder
from .keys import CURATE_CODE, StageKey, staged


def resolve(recipe: Recipe) -> Recipe:
    """The recipe with defaults filled in: the default steps, and every step parameter written out."""
    recipe = recipe.model_copy(deep=True)
    if recipe.curate.steps is None:
        recipe.curate.steps = default_steps_for(recipe.data)
    for sc in recipe.curate.steps:
        sc.params = build_step(sc.step, sc.params).get_params()
    if recipe.name is None:
        recipe.name = "curate"
    return recipe


def build_pipeline_steps(recipe: Recipe) -> list[PipelineStep]:
    return [PipelineStep(build_step(sc.step, sc.params), sc.on_fail) for sc in recipe.curate.steps or []]


def build_executor(recipe: Recipe) -> Executor | None:
    """The executor ``curate.executor`` names: None for the local one (the pipeline's default), or a Ray executor."""
    cfg = recipe.curate
    if cfg.executor == "ray":
        return RayExecutor(workers=worker_count(cfg.workers), address=cfg.address, global_on_cluster=cfg.global_steps == "cluster")
    return None


def run_key(recipe_yaml: str, inputs: list[Path], run: RunFolder | None = None) -> StageKey:
    """A curation's key: its recipe's curation sections (as written to ``recipe.yaml``), its input files, the engine's code.

    Its outputs (kept, dropped, ledger, stats, recipe) are measured into ``run.json``, so a run damaged
    since (an emptied ``kept.jsonl``, a deleted ledger) is built again rather than skipped as unchanged.
    """
    outputs = (run.kept, run.dropped, run.ledger, run.stats, run.recipe) if run else ()
    return StageKey.compute("curate", recipe_yaml, inputs=inputs, code=CURATE_CODE, key_file=run.done if run else None, outputs=outputs)


@dataclass
class CurateResult:
    run_dir: Path
    skipped: bool
    stats: dict[str, Any]


def curate(recipe: Recipe, force: bool = False, progress: Callable[[int], None] | None = None) -> CurateResult:
    """Run the recipe's curation into ``runs_dir/name``; skip it when nothing changed since the last run."""
    recipe = resolve(recipe)
    recipe_yaml = recipe_to_yaml(recipe, CURATION_SECTIONS)  # the stages after curation are keyed apart
    run = RunFolder.of(recipe.runs_dir, recipe.name)  # a bad name fails before anything is read
    data = recipe.data
    reader = RecordReader(data.path, data.format, data.file_type, data.id_field, data.pairs.rule_object(), data.limits())
    with run.lock():
        key = run_key(recipe_yaml, reader.paths, run)
        if key.finished(force):
            return CurateResult(run.root, True, orjson.loads(run.stats.read_bytes()))
        stats = _curate_into(recipe, recipe_yaml, reader, key, run, progress)
    return CurateResult(run.root, False, stats)


def _curate_into(
    recipe: Recipe, recipe_yaml: str, reader: RecordReader, key: StageKey, run: RunFolder, progress: Callable[[int], None] | None
) -> dict[str, Any]:
    """The curation built in a staging folder and swapped in whole as ``run``."""
    with staged(run.root) as folder:
        new = RunFolder(folder)
        sink = RunSink(new.root, recipe.curate.output_format)
        steps = build_pipeline_steps(recipe)
        pipeline = Pipeline(
            steps,
            workers=worker_count(recipe.curate.workers),
            batch_size=recipe.curate.batch_size,
            spool_dir=new.root,
            executor=build_executor(recipe),
        )
        t0 = time.time()
        try:
            result = pipeline.run(reader, sink, progress)
        finally:
            sink.close()
        artifacts = []
        for ps in steps:
            if hasattr(ps.step, "write_artifacts"):
                artifacts += ps.step.write_artifacts(new.artifacts)
        stats = _stats(result, reader, artifacts)
        new.recipe.write_text(recipe_yaml, encoding="utf-8")
        new.stats.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2))
        key.record(new.done, name=recipe.name, inputs=key.inputs, started=t0, seconds=result.seconds)  # last: it marks the run finished
    return stats


def _stats(result: PipelineResult, reader: RecordReader, artifacts: list[str]) -> dict[str, Any]:
    d = result.as_dict()
    d["formats"] = reader.formats
    d["artifacts"] = artifacts
    return d
