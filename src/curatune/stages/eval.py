"""The eval stage of ``curatune run``: the trained model against its base on the held-out data.

It owns ``eval/`` of the run folder, and is keyed on the ``eval:`` section, the held-out data, the
training's summary (a new training means a new model) and the code that evaluates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config.eval import EvalConfig
from ..errors import InputError
from ..evaluate.run import evaluate_run
from ..run_folder import RunFolder
from .keys import EVAL_CODE, StageKey

Echo = Callable[[str], None]


def eval_stage(config: EvalConfig, run: RunFolder, force: bool = False, echo: Echo = print, track: bool = True) -> dict[str, Any]:
    """Evaluate the run's model as ``config`` says, unless an identical evaluation is there."""
    with run.lock():
        return _eval_stage(config, run, force, echo, track)


def _eval_stage(config: EvalConfig, run: RunFolder, force: bool, echo: Echo, track: bool) -> dict[str, Any]:
    data = Path(config.data) if config.data else run.split.split("test")
    if not data.exists():
        raise InputError(
            f"No held-out data to evaluate on: {data} does not exist. Set eval.data to a test file, or split.test above 0 so the split "
            "writes one."
        )
    folder = run.eval
    key = StageKey.compute(
        "eval",
        config.model_dump(mode="json"),
        inputs=[data, run.train.summary],
        code=EVAL_CODE,
        key_file=folder.key,
        outputs=[folder.metrics],
    )
    if key.finished(force):
        echo("eval: unchanged, skipped")
        return {"skipped": True}
    t0 = time.perf_counter()
    evaluate_run(
        run.root,
        data,
        base=config.base,
        out_dir=folder.root,
        max_new_tokens=config.max_new_tokens,
        limit=config.limit,
        seed=config.seed,
        batch_size=config.batch_size,
        human_sheet=config.human_sheet,
        track=track,
        echo=lambda s: echo(f"eval: {s}"),
    )
    key.record()
    return {"skipped": False, "seconds": round(time.perf_counter() - t0, 1)}
