"""``curatune train``: the train stage, a recipe's ``train:`` section into ``train/`` of its run folder.

It owns ``train/`` (:class:`curatune.run_folder.TrainFolder`) and decides whether to train at all:
the key is the data section and files, the resolved ``train:`` section and the training code. A
finished training with the same key is skipped; one interrupted with the same key resumes from its
last checkpoint; anything else starts afresh in an emptied folder. ``key.json`` is written before
the first step, so that an interrupted training can be recognised. ``learning_rate: auto`` runs the
range test first (:mod:`.lr_find`). The training itself is :func:`curatune.train.run.train`.

Under ``accelerate launch`` or ``torchrun`` every process runs this stage: rank 0 decides (skip, resume,
afresh) and prepares the folder, the others follow its decision (:func:`curatune.distributed.from_main`),
all train, and rank 0 alone writes what training leaves and logs to MLflow.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import xxhash
import yaml

from ..config.recipe import DataConfig, Recipe
from ..config.train import TrainConfig
from ..distributed import from_main, launch
from ..models.causal_lm import use_omp_threads
from ..run_folder import RunFolder, TrainFolder, curate_run_containing
from ..tracking import Tracking
from ..train.data import TrainData, load_train_data
from ..train.run import TrainResult
from ..train.run import train as train_model
from .keys import TRAIN_CODE, StageKey
from .lr_find import auto_learning_rate

if TYPE_CHECKING:
    from transformers import TrainerCallback

Echo = Callable[[str], None]


def train(
    recipe: Recipe, force: bool = False, echo: Echo = print, track: bool = True, extra_callbacks: list[TrainerCallback] | None = None
) -> TrainResult:
    """Train as the recipe says into ``runs/<name>/train``; skipped when an identical training has finished."""
    run = RunFolder.of(recipe.runs_dir, recipe.name)
    tracking = Tracking(Path(recipe.runs_dir), f"{recipe.name}/train", {"data": recipe.data.model_dump(mode="json")}) if track else None
    return train_in(run, recipe.data, recipe.train or TrainConfig(), tracking, force, echo, extra_callbacks)


def train_in(
    run: RunFolder,
    data_config: DataConfig,
    config: TrainConfig,
    tracking: Tracking | None = None,
    force: bool = False,
    echo: Echo = print,
    extra_callbacks: list[TrainerCallback] | None = None,
) -> TrainResult:
    """Train ``config`` on the data of ``data_config`` into ``run``'s ``train/`` (a run folder, or a tune trial's)."""
    with run.lock():
        return _train_in(run, data_config, config, tracking, force, echo, extra_callbacks)


def _train_in(
    run: RunFolder,
    data_config: DataConfig,
    config: TrainConfig,
    tracking: Tracking | None,
    force: bool,
    echo: Echo,
    extra_callbacks: list[TrainerCallback] | None,
) -> TrainResult:
    main = launch().is_main
    if not main:  # under accelerate launch or torchrun, rank 0 speaks and writes for all (see curatune.distributed)
        echo, tracking = _quiet, None
    rate_source = None
    if config.learning_rate == "auto":
        config, rate_source = auto_learning_rate(run.lr_find, data_config, config, echo=echo)
    folder = run.train
    # Every rank reads the same files into the same examples (the split is seeded): nothing to send between them.
    data = load_train_data(data_config.path, config, data_config.format)
    key, plan = from_main(lambda: _plan(folder, data_config, config, data, force))
    if plan.skipped:
        echo(f"Unchanged since the last training; skipped ({folder.root}). Use --force to train again.")
        return TrainResult(folder.root, plan.summary, skipped=True)
    use_omp_threads()
    result = train_model(
        config,
        data,
        folder,
        fingerprint=plan.fingerprint,
        resume=plan.resume,
        tracking=tracking,
        echo=echo,
        extra_callbacks=extra_callbacks,
        summary_extra={"learning_rate": rate_source} if rate_source else None,
    )
    if main:
        key.record(files=key.inputs, curation=plan.fingerprint["curation"])  # again, now with the outputs measured
    return result


@dataclass(frozen=True)
class _Plan:
    """Rank 0's decision, which every rank follows: skip (with the finished summary), resume, or start afresh."""

    skipped: bool
    resume: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)


def _plan(folder: TrainFolder, data_config: DataConfig, config: TrainConfig, data: TrainData, force: bool) -> tuple[StageKey, _Plan]:
    """Whether to train, and the folder made ready for it (``key.json`` and ``train.yaml`` written): rank 0's work."""
    key = StageKey.compute(
        "train",
        {"data": data_config.model_dump(mode="json"), "train": config.resolved()},
        inputs=[*data.paths, *data.val_paths],
        code=TRAIN_CODE,
        key_file=folder.key,
        outputs=[folder.summary],
    )
    if key.finished(force):
        return key, _Plan(skipped=True, summary=orjson.loads(folder.summary.read_bytes()))
    resume = not force and key.matches() and any(folder.checkpoints.glob("checkpoint-*"))
    if folder.root.exists() and not resume:
        shutil.rmtree(folder.root)
    folder.root.mkdir(parents=True, exist_ok=True)
    fingerprint = {"key": key.key, "files": key.inputs, "curation": curation_of(data.paths)}
    key.record(files=key.inputs, curation=fingerprint["curation"])
    folder.config.write_text(yaml.safe_dump(config.resolved(), sort_keys=False), encoding="utf-8")
    return key, _Plan(skipped=False, resume=resume, fingerprint=fingerprint)


def _quiet(line: str) -> None:
    pass


def curation_of(paths: list[Path]) -> dict[str, str] | None:
    """The curate run that made the training data, when it came from one: its key and recipe hash."""
    for p in paths:
        run = curate_run_containing(p)
        if run is not None:
            return {
                "run": str(run.root),
                "key": str(orjson.loads(run.done.read_bytes()).get("key", "")),
                "recipe_xxh3": xxhash.xxh3_64(run.recipe.read_bytes()).hexdigest(),
            }
    return None
