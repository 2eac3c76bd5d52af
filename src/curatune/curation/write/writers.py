"""Write records in any format and file type, streaming where the file type allows.

``fmt`` is a format name (see :mod:`curatune.curation.formats`), ``"original"``
(each record in the format it was read from) or ``"curatune"`` (lossless
native records, what a run folder keeps). The file type comes from the name:
``.jsonl``, ``.json``, ``.csv``, ``.tsv``, ``.parquet`` (optionally ``.gz`` or
``.zst``), or a folder for a ``datasets`` ``save_to_disk`` folder when
``file_type="hf"``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from ...errors import InputError
from .. import jsoncodec
from ..formats import FORMATS, get_format
from ..read.files import open_binary_write, split_suffixes
from ..record import Record

_BATCH = 4096
_PARQUET_FIRST = 16384  # rows seen before a Parquet file's schema is fixed (more rows, fewer surprises)


def dumps(row: Any) -> bytes:
    """A row as one line of JSON (with the newline); integers of any size written exactly."""
    return jsoncodec.dumps(row, orjson.OPT_APPEND_NEWLINE)


def row_for(rec: Record, fmt: str) -> dict[str, Any]:
    """The row one record becomes in format ``fmt``."""
    if fmt == "original":
        name = rec.meta.get("format", "messages")
        adapter = FORMATS.get(name, FORMATS["messages"])
    else:
        adapter = get_format(fmt)
    return _dump(adapter, rec, fmt != "original" and adapter.name == "messages")


def _dump(adapter, rec: Record, always_id: bool) -> dict[str, Any]:
    row = adapter.dump(rec)
    if adapter.name != "curatune":
        row = _with_id(rec, row, always_id)
    return row


def _with_id(rec: Record, row: dict[str, Any], always_id: bool) -> dict[str, Any]:
    """``row`` with the record's id first: as the input had it (a number, "", a duplicate), or curatune's unique one for an export
    that always carries ids (chat JSONL)."""
    meta = rec.meta
    if always_id:
        return {"id": rec.id, **row}
    if meta.get("input_id"):
        return {"id": meta["input_id_value"] if "input_id_value" in meta else rec.id, **row}
    return row


class RecordWriter:
    """``with RecordWriter(path, fmt) as w: w.write(rec)``: one output file or folder."""

    def __init__(self, path: str | Path, fmt: str = "curatune", file_type: str | None = None):
        self.path = Path(path)
        self.fmt = fmt
        self.file_type = file_type or split_suffixes(self.path)[0]
        if self.file_type not in ("jsonl", "json", "csv", "tsv", "parquet", "hf"):
            raise InputError(
                f"Cannot tell what to write to '{self.path}' from its name: use .jsonl, .json, .csv, .tsv or .parquet "
                "(optionally .gz or .zst), or file_type='hf' for a datasets folder."
            )
        # Resolve the adapter once, not per record (fmt "original" picks one per record).
        self._adapter = None if fmt == "original" else get_format(fmt)
        self._always_id = self._adapter is not None and self._adapter.name == "messages"
        self.count = 0
        self._lines: list[bytes] = []
        self._batch: list[dict] = []
        self._f: Any = None
        self._csv: Any = None
        self._header: list[str] | None = None
        self._pq: Any = None
        self._hf_rows: list[dict] = []

    def __enter__(self) -> RecordWriter:
        if self.file_type != "hf" and self.file_type != "parquet":
            self._f = open_binary_write(self.path)
            if self.file_type == "json":
                self._f.write(b"[")
        return self

    def write(self, rec: Record) -> None:
        if self._adapter is None:
            self.write_row(row_for(rec, "original"))
        elif self.file_type == "jsonl":  # the hot path of export
            self.write_line(self._jsonl_line(rec))
        else:
            self.write_row(self._row(rec))

    def _row(self, rec: Record) -> dict:
        """The row ``rec`` becomes in this writer's fixed format."""
        adapter = self._adapter
        assert adapter is not None, "_row is called only with a fixed format (write() checks)"
        row = adapter.dump(rec)
        if adapter.name != "curatune":
            row = _with_id(rec, row, self._always_id)
        return row

    def _jsonl_line(self, rec: Record) -> bytes:
        return dumps(self._row(rec))

    def encoder(self) -> Callable[[Record], bytes] | None:
        """A function giving the exact line ``write`` would add for a record, when this writer writes JSONL
        lines in one fixed format (else None): lines made ahead of time go in with :meth:`write_line`."""
        if self.file_type != "jsonl" or self._adapter is None:
            return None
        return self._jsonl_line

    def write_line(self, line: bytes) -> None:
        """Add one JSONL line (with its newline); joined writes, one call per 1024 lines."""
        self.count += 1
        lines = self._lines
        lines.append(line)
        if len(lines) >= 1024:
            self._f.write(b"".join(lines))
            lines.clear()

    def write_many(self, records: Iterable[Record]) -> None:
        for rec in records:
            self.write(rec)

    def write_row(self, row: dict) -> None:
        if self.file_type == "jsonl":
            self.write_line(dumps(row))
            return
        self.count += 1
        if self.file_type == "json":
            self._f.write((b"\n" if self.count == 1 else b",\n") + jsoncodec.dumps(row))
        else:
            self._batch.append(row)
            if len(self._batch) >= (_PARQUET_FIRST if self.file_type == "parquet" and self._pq is None else _BATCH):
                self._flush()

    def _flush(self) -> None:
        if self._lines:
            self._f.write(b"".join(self._lines))
            self._lines.clear()
        if not self._batch:
            return
        rows, self._batch = self._batch, []
        if self.file_type in ("csv", "tsv"):
            self._write_csv(rows)
        elif self.file_type == "parquet":
            self._write_parquet(rows)
        else:
            self._hf_rows.extend(_flat_for_arrow(r) for r in rows)  # a datasets folder is written whole at close

    def _write_csv(self, rows: list[dict]) -> None:
        if self._header is None:
            self._header = list(dict.fromkeys(k for r in rows for k in r))
            self._text = io.TextIOWrapper(self._f, encoding="utf-8", newline="")
            self._csv = csv.writer(self._text, delimiter="\t" if self.file_type == "tsv" else ",")
            self._csv.writerow(self._header)
        for r in rows:
            unknown = set(r) - set(self._header)
            if unknown:
                raise InputError(
                    f"Record {r.get('id', '?')} has fields {sorted(unknown)} that the first rows of '{self.path}' did "
                    "not have, and CSV cannot add columns. Write JSONL or Parquet instead."
                )
            self._csv.writerow([_cell(r.get(k)) for k in self._header])

    def _write_parquet(self, rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [_flat_for_arrow(r) for r in rows]
        if self._pq is None:
            table = _arrow_table(rows)
            # A column that is null in every row seen so far becomes text: most fields are.
            self._schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
            table = table.cast(self._schema)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._pq = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        else:
            names = self._schema.names
            new = sorted({k for r in rows for k in r} - set(names))
            if new:
                raise InputError(
                    f"Records written to '{self.path}' gained fields {new} that the first {_PARQUET_FIRST} rows did not "
                    "have, and a Parquet file has one schema. Write JSONL instead, or put those fields in every row."
                )
            try:
                table = pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in names}, schema=self._schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise InputError(
                    f"Records written to '{self.path}' change a field's type after the first rows ({e}). "
                    "Write JSONL instead, or give the field one type in every row."
                ) from e
        self._pq.write_table(table)

    def close(self) -> None:
        self._flush()
        if self.file_type == "json":
            self._f.write(b"\n]\n")
        if self._csv is not None:
            self._text.flush()
            self._text.detach()
        if self._f is not None:
            self._f.close()
        if self._pq is not None:
            self._pq.close()
        if self.file_type == "parquet" and self._pq is None:  # no rows: still write a valid file
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table({}), self.path)
        if self.file_type == "hf":
            import datasets

            # Not Dataset.from_list: it takes the columns of the first row only and drops the rest.
            quiet = datasets.utils.are_progress_bars_disabled()
            datasets.disable_progress_bars()  # a library call must not draw on the user's terminal
            try:
                datasets.Dataset(_arrow_table(self._hf_rows)).save_to_disk(str(self.path))
            finally:
                if not quiet:
                    datasets.enable_progress_bars()

    def __exit__(self, *exc) -> None:
        self.close()


def _flat_for_arrow(row: dict) -> dict:
    # meta and extra fields vary from record to record; Arrow wants one schema, so they travel as JSON text.
    if isinstance(row.get("meta"), dict):
        row = {**row, "meta": jsoncodec.dumps(row["meta"]).decode()}
    return row


def _arrow_table(rows: list[dict]):
    """A table with the union of the rows' fields (``pa.Table.from_pylist`` keeps the first row's only)."""
    import pyarrow as pa

    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in names})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return jsoncodec.dumps(value).decode()
    return str(value)


def write_records(records: Iterable[Record], path: str | Path, fmt: str = "curatune", file_type: str | None = None) -> int:
    """Write all records to ``path``; returns how many were written."""
    with RecordWriter(path, fmt, file_type) as w:
        w.write_many(records)
    return w.count
