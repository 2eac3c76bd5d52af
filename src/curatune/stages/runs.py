"""Run folders: where a curation run writes, how it is keyed, and when it is skipped.

A run is keyed by a hash of its resolved recipe, the content of its input
files and curatune's version. A rerun with the same key finds the finished
folder and is skipped; a run with another key is built in a temporary
folder beside it and swapped in only when complete, so a run folder never
mixes new results with stale ones (and a crashed run leaves the old one).

```
runs/<name>/
  recipe.yaml                 the resolved recipe, every default written out
  run.json                    key, inputs and their hashes, timings
  stats.json                  counts per step and reason, read problems
  ledger.parquet              every decision about every record
  data/kept.jsonl             kept records (lossless, or the chosen format)
  data/dropped.jsonl          dropped records, whole, with the decision that dropped them
  artifacts/                  what global steps leave (duplicate clusters, ...)
```
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import xxhash

from .. import __version__
from ..curation.ledger import Event, LedgerWriter
from ..curation.read.records import Reject
from ..curation.record import Record
from ..curation.write.writers import RecordWriter, dumps
from ..errors import InputError

DONE_MARKER = "run.json"


def kept_records_of(path: str | Path) -> Path | None:
    """``data/kept.jsonl`` when ``path`` is a finished curate run folder; None for any other path."""
    p = Path(path)
    if not (p.is_dir() and (p / DONE_MARKER).is_file()):
        return None
    kept = p / "data" / "kept.jsonl"
    if not kept.is_file():
        raise InputError(
            f"'{p}' is a curate run folder without data/kept.jsonl: the run did not finish. Rerun it with: curatune curate ..."
        )
    return kept


def file_fingerprint(path: Path) -> str:
    """xxh3-128 of a file's bytes (or of every file in a folder); fast enough for gigabytes."""
    h = xxhash.xxh3_128()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        try:
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
        except OSError as e:
            raise InputError(f"Cannot read '{f}': {e.strerror or e}. Check that the file exists and is readable.") from e
    return h.hexdigest()


def run_key(recipe_yaml: str, inputs: list[Path], extra: str = "") -> tuple[str, dict[str, str]]:
    fingerprints = {str(p): file_fingerprint(p) for p in inputs}
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(recipe_yaml.encode())
    h.update(orjson.dumps(fingerprints, option=orjson.OPT_SORT_KEYS))
    h.update(extra.encode())
    return h.hexdigest()[:16], fingerprints


def stored_key(path: Path) -> str | None:
    """The ``key`` a stage wrote into ``path`` (a JSON file) when it finished; None when absent or unreadable."""
    try:
        return orjson.loads(path.read_bytes()).get("key")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None


def finished_key(run_dir: Path) -> str | None:
    return stored_key(run_dir / DONE_MARKER)


@dataclass
class StagingDir:
    """A temporary folder beside the final one, renamed into place by :meth:`commit`."""

    final: Path

    def __post_init__(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = self.final.parent / f".{self.final.name}.partial-{os.getpid()}-{int(time.time())}"
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)

    def commit(self) -> Path:
        if self.final.exists():
            trash = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
            os.replace(self.final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(self.path, self.final)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class RunSink:
    """Writes kept and dropped records and the ledger of one run."""

    def __init__(self, run_dir: Path, kept_format: str = "curatune"):
        data = run_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.kept = RecordWriter(data / "kept.jsonl", kept_format).__enter__()
        self._dropped = open(data / "dropped.jsonl", "wb", buffering=1 << 20)
        self.ledger = LedgerWriter(run_dir / "ledger.parquet")

    def keep(self, rec: Record) -> None:
        self.kept.write(rec)
        meta = rec.meta
        self.ledger.add_kept(rec.id, meta.get("source"), meta.get("line"))

    def kept_encoder(self):
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
