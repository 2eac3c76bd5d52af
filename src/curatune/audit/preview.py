"""What the default recipe's curation would flag, without writing anything.

Every step of the default recipe runs with ``on_fail: flag``, through the real
:class:`~curatune.curation.pipeline.Pipeline`, into a sink that only counts. The
steps come from the registry and the recipe file, never from a list here, so a
step added to the default recipe shows up in the preview.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..config.recipe import default_steps
from ..curation.ledger import Event
from ..curation.pipeline import Pipeline, PipelineStep, Sink
from ..curation.read.records import Reject
from ..curation.record import Record
from ..curation.registry import build_step

EXAMPLES_PER_REASON = 5


class CountingSink(Sink):
    """A pipeline sink that keeps counts and a few example locations, never records."""

    def __init__(self) -> None:
        self.kept = 0
        self.dropped = 0
        self.flagged_records = 0
        self.events: Counter = Counter()
        self.examples: dict[str, list[dict]] = {}

    def keep(self, rec: Record) -> None:
        self.kept += 1
        if rec.meta.get("flags"):
            self.flagged_records += 1

    def drop(self, item: Record | Reject, event: Event) -> None:
        self.dropped += 1

    def event(self, event: Event) -> None:
        key = f"{event.step}:{event.action}:{event.reason}"
        self.events[key] += 1
        ex = self.examples.setdefault(key, [])
        if len(ex) < EXAMPLES_PER_REASON:
            ex.append({"id": event.id, "source": event.source, "line": event.line, "value": _plain(event.value), "detail": event.detail})


def _plain(x: Any) -> Any:
    return x if x is None or isinstance(x, (int, float, str, bool)) else str(x)


def default_flag_steps(preference: bool = False) -> list[PipelineStep]:
    """The default recipe's steps (the preference one for preference data), each turned to flag instead of drop."""
    return [PipelineStep(build_step(sc.step, sc.params), "flag") for sc in default_steps(preference)]


def run_preview(
    items: Iterable[Record | Reject], limit: int | None, total_records: int, workers: int = 1, preference: bool = False
) -> dict[str, Any]:
    """Run the default steps in flag mode over the first ``limit`` records (all when None)."""
    t0 = time.perf_counter()
    records: Iterator[Record] = (x for x in items if not isinstance(x, Reject))
    if limit is not None:
        records = itertools.islice(records, limit)
    try:
        steps = default_flag_steps(preference)
        sink = CountingSink()
        with tempfile.TemporaryDirectory(prefix="curatune-audit-") as spool:
            result = Pipeline(steps, workers=workers, spool_dir=Path(spool)).run(records, sink)
    except Exception as e:  # a broken step must not cost the user the rest of the audit
        return {"error": f"{type(e).__name__}: {e}", "seconds": round(time.perf_counter() - t0, 3)}
    sampled = result.input < total_records
    return {
        "steps": [s.as_dict() for s in result.steps],
        "records": result.input,
        "sampled": sampled,
        "note": (f"first {result.input} of {total_records} records" if sampled else "all records"),
        "flagged_records": sink.flagged_records,
        "events": dict(sink.events.most_common()),
        "examples": sink.examples,
        "seconds": round(time.perf_counter() - t0, 3),
    }
