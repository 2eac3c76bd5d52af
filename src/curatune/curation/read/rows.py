"""Stream raw rows out of one file, with the line (or row) number of each.

Every reader yields :class:`RawRow`: either a dict, or a problem that the
record reader turns into a ledger entry. Nothing here loads a JSONL, CSV or
Parquet file whole; a JSON array file is parsed whole (JSON has no streaming
form worth the cost), so big data should be JSONL.

What ``line`` means per file type: JSONL and CSV, the line in the file (1-based;
a CSV row that spans lines gives its first line); a JSON array, the element's
position; Parquet and datasets folders, the row number (1-based).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ...errors import InputError
from ..formats import RowProblem
from .files import file_type_of, open_binary

# Columns of a CSV that hold JSON (lists of turns), decoded when they look like JSON.
_JSON_COLUMNS = ("messages", "conversations", "prompt", "chosen", "rejected", "completion", "completions")


@dataclass(slots=True)
class RawRow:
    source: str
    line: int
    row: dict | None = None
    problem: RowProblem | None = None
    raw: str | None = None  # the line's text, kept for rows that could not be parsed


def _decode_problem(line: bytes, error: Exception) -> RowProblem:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return RowProblem("invalid_utf8", f"byte {e.start} is not valid UTF-8 ({line[e.start : e.start + 1]!r})")
    return RowProblem("bad_json", str(error).split(":")[0] if str(error) else "invalid JSON")


def _raw_text(line: bytes) -> str:
    return line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def iter_jsonl(path: Path, source: str) -> Iterator[RawRow]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    with open_binary(path) as f:
        for lineno, line in enumerate(f, start=1):
            try:
                row = loads(line)
            except decode_error as e:
                if not line.strip():
                    continue  # blank lines carry no record
                if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                    # A UTF-8 byte-order mark, as some Windows tools write: not part of the data.
                    line = line[3:]
                    try:
                        row = loads(line)
                    except decode_error as e2:
                        if line.strip():
                            yield RawRow(source, lineno, problem=_decode_problem(line, e2), raw=_raw_text(line))
                        continue
                else:
                    yield RawRow(source, lineno, problem=_decode_problem(line, e), raw=_raw_text(line))
                    continue
            if type(row) is dict:
                yield RawRow(source, lineno, row)
            else:
                yield RawRow(
                    source,
                    lineno,
                    problem=RowProblem("not_an_object", f"the line holds a JSON {type(row).__name__}, not an object"),
                    raw=_raw_text(line),
                )


def iter_json(path: Path, source: str) -> Iterator[RawRow]:
    with open_binary(path) as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        stripped = data.lstrip()
        if stripped[:1] == b"{" and b"\n" in stripped.strip():
            # Many ".json" files are really JSON Lines.
            yield from iter_jsonl(path, source)
            return
        raise InputError(
            f"'{path}' is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}). "
            "Fix the file, or if it holds one object per line, rename it to .jsonl."
        ) from e
    if isinstance(doc, dict):
        ((key, value),) = doc.items() if len(doc) == 1 else ((None, None),)
        if isinstance(value, list) and key not in _JSON_COLUMNS:
            doc = value  # {"data": [...]}; but {"messages": [...]} is one record, not a wrapper
        else:
            doc = [doc]
    if not isinstance(doc, list):
        raise InputError(f"'{path}' holds a JSON {type(doc).__name__}; expected a list of objects.")
    for i, row in enumerate(doc, start=1):
        if isinstance(row, dict):
            yield RawRow(source, i, row)
        else:
            yield RawRow(
                source,
                i,
                problem=RowProblem("not_an_object", f"element {i} is a JSON {type(row).__name__}, not an object"),
                raw=orjson.dumps(row).decode(),
            )


def iter_csv(path: Path, source: str, delimiter: str) -> Iterator[RawRow]:
    csv.field_size_limit(sys.maxsize)
    with open_binary(path) as fb:
        text = io.TextIOWrapper(fb, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        start = reader.line_num + 1
        for cells in reader:
            lineno, start = start, reader.line_num + 1
            if not cells:
                continue
            raw = delimiter.join(cells)
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes came through as surrogates
                bad = raw.encode("utf-8", errors="surrogateescape")
                yield RawRow(source, lineno, problem=_decode_problem(bad, ValueError()), raw=_raw_text(bad))
                continue
            if len(cells) != len(header):
                yield RawRow(
                    source,
                    lineno,
                    problem=RowProblem("bad_row", f"the row has {len(cells)} columns, the header {len(header)}"),
                    raw=raw,
                )
                continue
            row: dict[str, Any] = dict(zip(header, cells))
            for col in _JSON_COLUMNS:
                value = row.get(col)
                if value and value[0] == "[":
                    # Only a list of turns is decoded: a prompt that merely starts with "[" stays text.
                    try:
                        decoded = orjson.loads(value)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(decoded, list) and decoded and all(isinstance(t, dict) for t in decoded):
                        row[col] = decoded
            yield RawRow(source, lineno, row)


def iter_parquet(path: Path, source: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise InputError(f"'{path}' is not a readable Parquet file ({e}). Check that it was fully written.") from e
    n = 0
    for batch in pf.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            n += 1
            yield RawRow(source, n, _drop_nulls(row))


def iter_hf(path: Path, source: str) -> Iterator[RawRow]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:
        raise InputError(f"'{path}' looks like a datasets folder but cannot be loaded ({e}).") from e
    splits = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
    for split, part in splits:
        src = f"{source}/{split}" if split else source
        n = 0
        for batch in part.iter(batch_size=4096):
            keys = list(batch)
            for values in zip(*(batch[k] for k in keys)):
                n += 1
                yield RawRow(src, n, _drop_nulls(dict(zip(keys, values))))


def _drop_nulls(row: dict) -> dict:
    # A columnar file gives every row every column (null where a row had no such field): a null
    # there means "absent", so that rows read back as they were written, without extra keys.
    if None in row.values():
        return {k: v for k, v in row.items() if v is not None}
    return row


def iter_rows(path: Path, source: str, file_type: str | None = None) -> Iterator[RawRow]:
    """Every row of one input file (or datasets folder), in order."""
    kind = file_type_of(path, file_type)
    if kind == "jsonl":
        return iter_jsonl(path, source)
    if kind == "json":
        return iter_json(path, source)
    if kind in ("csv", "tsv"):
        return iter_csv(path, source, "\t" if kind == "tsv" else ",")
    if kind == "parquet":
        return iter_parquet(path, source)
    return iter_hf(path, source)
