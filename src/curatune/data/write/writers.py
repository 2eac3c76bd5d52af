"""Write records in any format and file type, streaming where the file type allows.

``fmt`` is a format name (see :mod:`curatune.data.formats`), ``"original"``
(each record in the format it was read from) or ``"curatune"`` (lossless
native records, what a run folder keeps). The file type comes from the name:
``.jsonl``, ``.json``, ``.csv``, ``.tsv``, ``.parquet`` (optionally ``.gz`` or
``.zst``), or a folder for a ``datasets`` ``save_to_disk`` folder when
``file_type="hf"``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ...errors import InputError
from ..formats import FORMATS, get_format
from ..record import Record
from ..read.files import open_binary_write, split_suffixes

_BATCH = 4096


def row_for(rec: Record, fmt: str) -> dict[str, Any]:
    """The row one record becomes in format ``fmt``."""
    if fmt == "original":
        name = rec.meta.get("format", "messages")
        adapter = FORMATS.get(name, FORMATS["messages"])
    else:
        adapter = get_format(fmt)
    row = adapter.dump(rec)
    if adapter.name != "curatune" and (rec.meta.get("input_id") or fmt == "messages"):
        row = {"id": rec.id, **row}
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
        self.count = 0
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
        self.write_row(row_for(rec, self.fmt))

    def write_many(self, records: Iterable[Record]) -> None:
        for rec in records:
            self.write(rec)

    def write_row(self, row: dict) -> None:
        self.count += 1
        if self.file_type == "jsonl":
            self._f.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        elif self.file_type == "json":
            self._f.write((b"\n" if self.count == 1 else b",\n") + orjson.dumps(row))
        else:
            self._batch.append(row)
            if len(self._batch) >= _BATCH:
                self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        rows, self._batch = self._batch, []
        if self.file_type in ("csv", "tsv"):
            self._write_csv(rows)
        elif self.file_type == "parquet":
            self._write_parquet(rows)
        else:
            self._hf_rows.extend(_flat_for_arrow(r) for r in rows)

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

        table = pa.Table.from_pylist([_flat_for_arrow(r) for r in rows])
        if self._pq is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._schema = table.schema
            self._pq = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        else:
            table = table.select(self._schema.names).cast(self._schema) if set(table.schema.names) == set(self._schema.names) else table
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

            datasets.Dataset.from_list(self._hf_rows).save_to_disk(str(self.path))

    def __exit__(self, *exc) -> None:
        self.close()


def _flat_for_arrow(row: dict) -> dict:
    # meta and extra fields vary from record to record; Arrow wants one schema, so they travel as JSON text.
    if isinstance(row.get("meta"), dict):
        row = {**row, "meta": orjson.dumps(row["meta"]).decode()}
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def write_records(records: Iterable[Record], path: str | Path, fmt: str = "curatune", file_type: str | None = None) -> int:
    """Write all records to ``path``; returns how many were written."""
    with RecordWriter(path, fmt, file_type) as w:
        w.write_many(records)
    return w.count
