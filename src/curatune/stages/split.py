"""The split stage of ``curatune run``: the curated records into ``splits/`` with no duplicate across splits.

It owns ``split_key.json``, ``splits/``, ``split_report.json`` and ``clusters.jsonl`` of the run
folder, and is keyed on the ``split:`` section, the kept records and the code that splits.
(``curatune split DATA --out DIR`` is the same split, unkeyed, into any folder.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..config.split import SplitConfig
from ..curation.read.load import read_all
from ..curation.record import Record
from ..run_folder import RunFolder
from ..split import split_records
from ..split.io import write_split
from .keys import SPLIT_CODE, StageKey

Echo = Callable[[str], None]


def split_stage(config: SplitConfig, run: RunFolder, force: bool = False, echo: Echo = print) -> dict[str, Any]:
    """Split the run's kept records as ``config`` says, unless an identical split is there."""
    with run.lock():
        return _split_stage(config, run, force, echo)


def _split_stage(config: SplitConfig, run: RunFolder, force: bool, echo: Echo) -> dict[str, Any]:
    key = StageKey.compute(
        "split",
        config.model_dump(mode="json"),
        inputs=[run.kept],
        code=SPLIT_CODE,
        key_file=run.split_key,
        outputs=[run.split.splits, run.split.report],
    )
    if key.finished(force):
        echo("split: unchanged, skipped")
        return {"skipped": True}
    t0 = time.perf_counter()
    loaded = read_all([run.kept])
    result = split_records(loaded.records, **config.model_dump())
    files = write_split(result, run.root, "messages" if _is_chat(loaded.records) else "curatune", [run.kept], loaded.rejects)
    key.record()
    sizes = {name: sum(1 for _ in path.open("rb")) for name, path in files.items()}
    echo("split: " + ", ".join(f"{n} {k}" for k, n in sizes.items()))
    return {"skipped": False, "sizes": sizes, "seconds": round(time.perf_counter() - t0, 1)}


def _is_chat(records: list[Record]) -> bool:
    # kind, not messages: a preference pair's prompt is messages too, and the messages format would drop its answers
    return all(r.kind == "chat" for r in records[:100])
