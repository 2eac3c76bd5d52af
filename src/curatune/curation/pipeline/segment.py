"""One segment's streaming steps on one batch: the per-record work every executor runs where the batch is.

:func:`run_segment` is the whole of it: each record goes through the segment's filters, mappers and
scorers in order (a drop ends its way), and the survivors' per-record state for the pass's global
steps is prepared for the batch at once. Whatever runs it, in this process, a worker process or a
remote task, the same batch gives the same records, events and counts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..ledger import Event
from ..record import Record
from ..step import Edit, Filter, Flag, GlobalStep, Mapper, Scorer, Step, Verdict
from .plan import PipelineStep
from .stats import SegmentCounts

# What a segment gives back for one record: the record (the very object that came in when no step changed
# it), its events, whether a step dropped it, and each global step's prepared state (None when dropped).
RecordResult = tuple[Record, list[Event], bool, Any]


def _change_detail(old: Record, new: Record) -> str:
    before = dict(old.text_fields())
    changed = [f"{path}: {len(before.get(path, ''))}->{len(text)} chars" for path, text in new.text_fields() if before.get(path) != text]
    return "; ".join(changed) if changed else "no text change"


def as_failure(v: Verdict, on_fail: str) -> Verdict:
    """A failed check's verdict under the step's ``on_fail``: a drop becomes a flag under ``flag``."""
    if v.action == "drop" and on_fail == "flag":
        return Flag(v.reason or "flagged", v.value, v.threshold, duplicate_of=v.duplicate_of, detail=v.detail)
    return v


def add_flag(rec: Record, step: str, reason: str | None) -> None:
    rec.meta.setdefault("flags", []).append(f"{step}:{reason}")


_FILTER, _MAPPER, _SCORER = 0, 1, 2


def _kind_code(step: Step) -> int:
    if isinstance(step, Filter):
        return _FILTER
    if isinstance(step, Mapper):
        return _MAPPER
    if isinstance(step, Scorer):
        return _SCORER
    raise TypeError(f"{type(step).__name__} is not a Filter, Mapper or Scorer and cannot run on batches")


def run_segment(
    steps: Sequence[PipelineStep], batch: Sequence[Record], prepare: Sequence[GlobalStep]
) -> tuple[list[RecordResult], SegmentCounts]:
    """Apply streaming steps to a batch; return per record ``(record, events, dropped, prepared)`` and the counts.

    ``prepared`` is a tuple with each ``prepare`` step's state of the record (None for a dropped record).
    ``SegmentCounts.changed`` says, per record, whether the steps changed it (a mapper's edit, a flag or a
    score): an unchanged record is the very object that came in.
    """
    seconds = [0.0] * len(steps)
    seen = [0] * len(steps)
    outcomes: list[Counter[str]] = [Counter() for _ in steps]
    # The kind of each step once per batch, not once per record and step.
    # (The step as Any: its kind code says which of keep, apply or score it has.)
    plan: list[tuple[int, Any, int, str]] = [(i, ps.step, _kind_code(ps.step), ps.on_fail) for i, ps in enumerate(steps)]
    out: list[RecordResult] = []
    changed_list: list[bool] = []
    clock = time.perf_counter
    for rec in batch:
        events: list[Event] = []
        dropped = False
        changed = False
        src, line = rec.meta.get("source"), rec.meta.get("line")
        for i, step, kind, on_fail in plan:
            seen[i] += 1
            t0 = clock()
            if kind == _FILTER:
                v = step.keep(rec)
                if v.action != "keep":
                    v = as_failure(v, on_fail)
                    events.append(Event.of(rec.id, src, line, step.name, v))
                    outcomes[i][f"{v.action}:{v.reason}"] += 1
                    if v.action == "drop":
                        seconds[i] += clock() - t0
                        dropped = True
                        break
                    add_flag(rec, step.name, v.reason)
                    changed = True
            elif kind == _MAPPER:
                edit: Edit | None = step.apply(rec)
                if edit is not None and not edit.record.content_equal(rec):
                    detail = edit.detail if edit.detail is not None else _change_detail(rec, edit.record)
                    events.append(Event(rec.id, src, line, step.name, "modify", edit.reason, detail=detail))
                    outcomes[i][f"modify:{edit.reason}"] += 1
                    rec = edit.record
                    changed = True
            else:
                score = step.score(rec)
                scores = rec.meta.setdefault("scores", {})
                if isinstance(score, dict):
                    scores.update(score)
                else:
                    scores[step.name] = score
                changed = True
            seconds[i] += clock() - t0
        out.append((rec, events, dropped, None))
        changed_list.append(changed)
    prepare_seconds = [0.0] * len(prepare)
    kept = [i for i, r in enumerate(out) if not r[2]] if prepare else []
    if kept:
        # The pass's global steps' per-record state, for the batch at once (MinHash vectorises over records).
        recs = [out[i][0] for i in kept]
        states = []
        for j, g in enumerate(prepare):
            t0 = clock()
            states.append(g.prepare_batch(recs))
            prepare_seconds[j] = clock() - t0
        for i, prepared in zip(kept, zip(*states)):
            out[i] = (*out[i][:3], prepared)
    return out, SegmentCounts(seconds, seen, outcomes, prepare_seconds, changed_list)
