"""The ledger: every decision about every record, one Parquet file per run.

Columns: ``id, source, line, step, action, reason, value, threshold,
duplicate_of, detail``. ``action`` is ``drop``, ``modify``, ``flag`` or
``keep``; each record that goes in gets exactly one ``drop`` or one ``keep``
row (``step="output"``), so the ledger alone shows ``input = kept + dropped``.
``value`` and ``threshold`` are numbers; a step's non-numeric value (a
language code, say) is written into ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .step import Verdict

# pyarrow is imported where a ledger is written or read, not here: worker processes import this module for
# Event only, and pyarrow costs each of them 0.1 s.
COLUMNS = ("id", "source", "line", "step", "action", "reason", "value", "threshold", "duplicate_of", "detail")


def schema():
    import pyarrow as pa

    types = {"line": pa.int64(), "value": pa.float64(), "threshold": pa.float64()}
    return pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])


ACTIONS = ("drop", "modify", "flag", "keep")


@dataclass(slots=True)
class Event:
    id: str
    source: str | None
    line: int | None
    step: str
    action: str
    reason: str | None = None
    value: Any = None
    threshold: Any = None
    duplicate_of: str | None = None
    detail: str | None = None

    @classmethod
    def of(cls, rec_id: str, source: str | None, line: int | None, step: str, v: Verdict) -> Event:
        return cls(rec_id, source, line, step, v.action, v.reason, v.value, v.threshold, v.duplicate_of, v.detail)


def _num(x: Any) -> float | None:
    if isinstance(x, (int, float)):
        return float(x)
    return None


def _not_num(name: str, x: Any) -> str | None:
    if x is None or isinstance(x, (int, float)):
        return None
    return f"{name}={x}"


class LedgerWriter:
    """Buffers events and writes them to Parquet in row groups, so memory stays bounded."""

    def __init__(self, path: Path, flush_every: int = 65536):
        self.path = path
        self.flush_every = flush_every
        self._cols: dict[str, list] = {name: [] for name in COLUMNS}
        self._writer: Any = None  # a pyarrow ParquetWriter from the first flush on
        self.rows = 0

    def add(self, e: Event) -> None:
        c = self._cols
        c["id"].append(e.id)
        c["source"].append(e.source)
        c["line"].append(e.line)
        c["step"].append(e.step)
        c["action"].append(e.action)
        c["reason"].append(e.reason)
        c["value"].append(_num(e.value))
        c["threshold"].append(_num(e.threshold))
        c["duplicate_of"].append(e.duplicate_of)
        extra = [d for d in (_not_num("value", e.value), _not_num("threshold", e.threshold)) if d]
        c["detail"].append("; ".join(extra + [e.detail]) if extra and e.detail else ("; ".join(extra) if extra else e.detail))
        self.rows += 1
        if len(c["id"]) >= self.flush_every:
            self.flush()

    def add_kept(self, rec_id: str, source: str | None, line: int | None) -> None:
        """What ``add`` does with a record's ``output``/``keep`` row (one per kept record), without the Event."""
        c = self._cols
        c["id"].append(rec_id)
        c["source"].append(source)
        c["line"].append(line)
        c["step"].append("output")
        c["action"].append("keep")
        for name in ("reason", "value", "threshold", "duplicate_of", "detail"):
            c[name].append(None)
        self.rows += 1
        if len(c["id"]) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not self._cols["id"] and self._writer is not None:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(self._cols, schema=schema())
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table)
        self._cols = {name: [] for name in COLUMNS}

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()


def read_ledger(path: Path, record_id: str | None = None) -> list[dict]:
    """Rows of a ledger, optionally only one record's, in the order they were written."""
    filters = [("id", "=", record_id)] if record_id is not None else None
    import pyarrow.parquet as pq

    return pq.read_table(path, filters=filters).to_pylist()
