"""Turn input files into a stream of Records and Rejects, detecting each file's format."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ..formats import Format, RowProblem, detect_format, get_format
from ..record import Record
from .files import expand_inputs
from .rows import RawRow, iter_rows

DETECT_SAMPLE = 200


@dataclass(slots=True)
class Reject:
    """A row that could not become a record: it goes to the ledger as a drop by step ``read``."""

    id: str
    source: str
    line: int
    reason: str
    detail: str
    raw: str | None


def _id_prefixes(paths: list[Path]) -> dict[Path, str]:
    """The prefix of generated ids for each input: its stem, or its path where stems collide."""
    stems = [p.name.split(".")[0] for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    return {p: (str(p) if s in dup else s) for p, s in zip(paths, stems)}


class RecordReader:
    """Reads one or many inputs; iterate it for ``Record`` and ``Reject`` items.

    ``formats`` afterwards maps each source to the format used, for the summary.
    """

    def __init__(self, inputs, fmt: str = "auto", file_type: str = "auto", id_field: str = "id"):
        self.paths = expand_inputs(inputs)
        self.fmt = fmt
        self.file_type = file_type
        self.id_field = id_field
        self.formats: dict[str, str] = {}
        self._seen_ids: set[int] = set()

    def __iter__(self) -> Iterator[Record | Reject]:
        for path, prefix in _id_prefixes(self.paths).items():
            yield from self._read_file(path, prefix)

    def _read_file(self, path: Path, prefix: str) -> Iterator[Record | Reject]:
        source = str(path)
        rows = iter_rows(path, source, None if self.file_type == "auto" else self.file_type)
        if self.fmt == "auto":
            head = list(itertools.islice(rows, DETECT_SAMPLE))
            fmt = detect_format([r.row for r in head if r.row is not None])
            rows = itertools.chain(head, rows)
        else:
            fmt = get_format(self.fmt)
        self.formats[source] = fmt.name if fmt else "unknown"
        for raw in rows:
            # A datasets folder with splits reads as sources "<folder>/<split>": keep the split in the id.
            yield self._parse(raw, fmt, prefix + raw.source[len(source):])

    def _parse(self, raw: RawRow, fmt: Format | None, prefix: str) -> Record | Reject:
        auto_id = f"{prefix}:{raw.line}"
        if raw.problem is not None:
            return Reject(auto_id, raw.source, raw.line, raw.problem.reason, raw.problem.detail, raw.raw)
        row = raw.row
        assert row is not None
        try:
            if fmt is None or not fmt.matches(row):
                if fmt is None:
                    raise RowProblem("unknown_format", f"fields {sorted(row)[:8]} match no known format")
                missing = [k for k in fmt.required if k not in row]
                raise RowProblem("missing_field", f"the file is {fmt.name} but this row lacks {missing}", missing[0] if missing else None)
            rid = self._id(row, auto_id)
            rec = fmt.parse(row, rid)
        except RowProblem as p:
            return Reject(auto_id, raw.source, raw.line, p.reason, p.detail, _dump_row(row))
        rec.meta["source"] = raw.source
        rec.meta["line"] = raw.line
        if rid != auto_id and fmt.name != "curatune":
            rec.meta["input_id"] = True  # written back on export
        return rec

    def _id(self, row: dict, auto_id: str) -> str:
        value = row.get(self.id_field)
        if value is None or isinstance(value, (dict, list)) or value == "":
            return auto_id
        rid = str(value)
        key = xxhash.xxh3_64_intdigest(rid.encode("utf-8", "surrogatepass"))
        if key in self._seen_ids:
            # Two rows share an id: keep both, and make the second one's id unique and traceable.
            rid = f"{rid}@{auto_id}"
            key = xxhash.xxh3_64_intdigest(rid.encode("utf-8", "surrogatepass"))
        self._seen_ids.add(key)
        return rid


def _dump_row(row: dict) -> str:
    import orjson

    return orjson.dumps(row, default=str).decode()


def read_records(inputs, fmt: str = "auto", file_type: str = "auto", id_field: str = "id") -> Iterator[Record | Reject]:
    """Every record (or reject) of the inputs, streamed."""
    return iter(RecordReader(inputs, fmt, file_type, id_field))
