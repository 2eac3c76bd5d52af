"""``curatune lr-find`` and ``learning_rate: auto``: the range test of :mod:`curatune.train.lr_find`, keyed.

It owns ``lr_find/`` of its run folder. The key is the training's (the data section and files,
the ``train:`` section with the test's start rate in place of the learning rate, the training code)
and the test's settings; it is stored in ``lr_find.json`` itself, so a finished test with the same
key is read back instead of run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ..config.recipe import DataConfig, Recipe
from ..config.train import TrainConfig
from ..distributed import launch
from ..errors import RecipeError
from ..run_folder import LrFindFolder, RunFolder
from ..staging import locked
from ..train.data import load_train_data
from ..train.lr_find import DEFAULT_PICK, LRFindResult, RangeTestSettings, check_pick, read_result
from ..train.lr_find import lr_find as range_test_into
from .keys import TRAIN_CODE, StageKey

Echo = Callable[[str], None]


def lr_find(
    recipe: Recipe, settings: RangeTestSettings | None = None, pick: str = DEFAULT_PICK, force: bool = False, echo: Echo = print
) -> LRFindResult:
    """Run the range test on the recipe's model and data (or reuse a finished one with the same key)."""
    folder = RunFolder.of(recipe.runs_dir, recipe.name).lr_find
    return find_rate(folder, recipe.data, recipe.train or TrainConfig(), settings, pick, force, echo)


def find_rate(
    folder: LrFindFolder,
    data_config: DataConfig,
    config: TrainConfig,
    settings: RangeTestSettings | None = None,
    pick: str = DEFAULT_PICK,
    force: bool = False,
    echo: Echo = print,
) -> LRFindResult:
    """The range test of ``config`` on the data of ``data_config``, in ``folder`` (under its run folder's lock)."""
    with locked(folder.root.parent):
        return _find_rate(folder, data_config, config, settings, pick, force, echo)


def _find_rate(
    folder: LrFindFolder,
    data_config: DataConfig,
    config: TrainConfig,
    settings: RangeTestSettings | None,
    pick: str,
    force: bool,
    echo: Echo,
) -> LRFindResult:
    settings = settings or RangeTestSettings()
    settings.check()
    check_pick(pick)
    # The rate the recipe gives plays no part in the test; the trainer needs a number.
    config = config.model_copy(update={"learning_rate": settings.start_lr})
    data = load_train_data(data_config.path, config, data_config.format)
    key = StageKey.compute(
        "lr_find",
        {"data": data_config.model_dump(mode="json"), "train": config.resolved(), "range_test": asdict(settings)},
        inputs=[*data.paths, *data.val_paths],
        code=TRAIN_CODE,
        key_file=folder.result,
    )
    if key.finished(force):
        result = read_result(folder, pick)
        echo(f"Range test unchanged since the last run; reused ({folder.result}). Use --force to run it again.")
        return result
    if launch().distributed:
        raise RecipeError(
            [
                f"The learning-rate range test runs in one process, and this is one of {launch().world_size} (accelerate launch or "
                f"torchrun); no finished test with this key is in {folder.root}. Run `curatune lr-find RECIPE` without the launcher "
                "first (learning_rate: auto then reads its rate), or give train.learning_rate a number."
            ]
        )
    return range_test_into(config, data, folder, settings, pick, key.key, echo)


def auto_learning_rate(
    folder: LrFindFolder, data_config: DataConfig, config: TrainConfig, force: bool = False, echo: Echo = print
) -> tuple[TrainConfig, dict[str, Any]]:
    """``learning_rate: auto`` made a number: the range test's suggestion (a finished test with the same key is reused).

    Returns the config with the rate set, and where the rate came from (for the training summary).
    """
    result = find_rate(folder, data_config, config, force=force, echo=echo)
    rate = float(f"{result.learning_rate:.3g}")
    echo(f"learning_rate: auto -> {rate:.3g} ({result.pick} of the range test in {result.folder})")
    source = {
        "value": rate,
        "source": "lr_find",
        "pick": result.pick,
        "file": str(folder.result),
        "reused": result.reused,
        "key": result.key,
    }
    return config.model_copy(update={"learning_rate": rate}), source
