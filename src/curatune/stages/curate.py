"""``curatune curate``: run a recipe's curation steps over its data into a run folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..config.recipe import CURATION_SECTIONS, Recipe, default_steps, recipe_to_yaml
from ..curation.pipeline import Pipeline, PipelineResult, PipelineStep, worker_count
from ..curation.read.records import RecordReader
from ..curation.registry import build_step
from .runs import DONE_MARKER, RunSink, StagingDir, finished_key, run_key


def resolve(recipe: Recipe) -> Recipe:
    """The recipe with defaults filled in: the default steps, and every step parameter written out."""
    recipe = recipe.model_copy(deep=True)
    if recipe.curate.steps is None:
        recipe.curate.steps = default_steps()
    for sc in recipe.curate.steps:
        sc.params = build_step(sc.step, sc.params).get_params()
    if recipe.name is None:
        recipe.name = "curate"
    return recipe


def build_pipeline_steps(recipe: Recipe) -> list[PipelineStep]:
    return [PipelineStep(build_step(sc.step, sc.params), sc.on_fail) for sc in recipe.curate.steps or []]


@dataclass
class CurateResult:
    run_dir: Path
    skipped: bool
    stats: dict


def curate(recipe: Recipe, force: bool = False, progress: Callable[[int], None] | None = None) -> CurateResult:
    """Run the recipe's curation into ``runs_dir/name``; skip it when nothing changed since the last run."""
    recipe = resolve(recipe)
    recipe_yaml = recipe_to_yaml(recipe, CURATION_SECTIONS)  # the stages after curation are keyed apart
    reader = RecordReader(recipe.data.path, recipe.data.format, recipe.data.file_type, recipe.data.id_field)
    key, fingerprints = run_key(recipe_yaml, reader.paths)
    final = Path(recipe.runs_dir) / str(recipe.name)
    if not force and finished_key(final) == key:
        return CurateResult(final, True, orjson.loads((final / "stats.json").read_bytes()))

    staging = StagingDir(final)
    try:
        sink = RunSink(staging.path, recipe.curate.output_format)
        steps = build_pipeline_steps(recipe)
        pipeline = Pipeline(steps, workers=worker_count(recipe.curate.workers), batch_size=recipe.curate.batch_size, spool_dir=staging.path)
        t0 = time.time()
        try:
            result = pipeline.run(reader, sink, progress)
        finally:
            sink.close()
        artifacts = []
        for ps in steps:
            if hasattr(ps.step, "write_artifacts"):
                artifacts += ps.step.write_artifacts(staging.path / "artifacts")
        stats = _stats(result, reader, artifacts)
        (staging.path / "recipe.yaml").write_text(recipe_yaml, encoding="utf-8")
        (staging.path / "stats.json").write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2))
        run_info = {"key": key, "name": recipe.name, "inputs": fingerprints, "started": t0, "seconds": result.seconds}
        (staging.path / DONE_MARKER).write_bytes(orjson.dumps(run_info, option=orjson.OPT_INDENT_2))
    except BaseException:
        staging.abandon()
        raise
    return CurateResult(staging.commit(), False, stats)


def _stats(result: PipelineResult, reader: RecordReader, artifacts: list[str]) -> dict:
    d = result.as_dict()
    d["formats"] = reader.formats
    d["artifacts"] = artifacts
    return d
