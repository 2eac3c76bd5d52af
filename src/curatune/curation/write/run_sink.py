"""The sink of a curate run: kept and dropped records and the ledger, written into the run folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...run_folder import RunFolder
from ..ledger import Event, LedgerWriter
from ..read.records import Reject
from ..record import Record
from .writers import RecordWriter, dumps


class RunSink:
    """Writes kept and dropped records and the ledger of one run."""

    def __init__(self, run_dir: Path, kept_format: str = "curatune"):
        run = RunFolder(run_dir)
        run.data.mkdir(parents=True, exist_ok=True)
        self.kept = RecordWriter(run.kept, kept_format).__enter__()
        self._dropped = open(run.dropped, "wb", buffering=1 << 20)
        self.ledger = LedgerWriter(run.ledger)

    def keep(self, rec: Record) -> None:
        self.kept.write(rec)
        meta = rec.meta
        self.ledger.add_kept(rec.id, meta.get("source"), meta.get("line"))

    def kept_encoder(self) -> Callable[[Record], bytes] | None:
        """How kept records are encoded, when they can be encoded ahead (native JSONL): the pipeline then
        spools them encoded before its last pass, and writes them with :meth:`keep_encoded`."""
        return self.kept.encoder() if self.kept.fmt == "curatune" else None

    def keep_encoded(self, line: bytes, rec_id: str, source: str | None, line_no: int | None) -> None:
        """``keep`` for a record already encoded by ``kept_encoder()``."""
        self.kept.write_line(line)
        self.ledger.add_kept(rec_id, source, line_no)

    def drop(self, item: Record | Reject, event: Event) -> None:
        decision = {
            "step": event.step,
            "reason": event.reason,
            "value": event.value,
            "threshold": event.threshold,
            "duplicate_of": event.duplicate_of,
            "detail": event.detail,
        }
        if isinstance(item, Reject):
            row = {"id": item.id, "raw": item.raw, "meta": {"source": item.source, "line": item.line}, "dropped": decision}
        else:
            row = {**item.to_dict(), "dropped": decision}
        self._dropped.write(dumps(row))

    def event(self, event: Event) -> None:
        self.ledger.add(event)

    def close(self) -> None:
        self.kept.close()
        self._dropped.close()
        self.ledger.close()
