"""Stream raw rows out of one file, with the line (or row) number of each.

Every reader yields :class:`RawRow`: either a dict, or a problem that the
record reader turns into a ledger entry. Nothing here loads a JSONL, CSV or
Parquet file whole. A JSON file is parsed whole up to ``max_json_bytes`` (faster),
and beyond it read one element of its top-level array at a time.

No record is held whole beyond ``max_record_bytes`` (:class:`ReadLimits`, from the
recipe's ``data:``): a longer line or element is read past in pieces and dropped
with the reason ``too_long`` and its size, so that a small compressed file that
decompresses to one line of gigabytes costs no more memory than the limit.

What ``line`` means per file type: JSONL and CSV, the line in the file (1-based;
a CSV row that spans lines gives its first line); a JSON array, the element's
position; Parquet and datasets folders, the row number (1-based).
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from ...errors import InputError
from .. import jsoncodec
from ..formats import RowProblem
from ..jsoncodec import exact, may_hold_big_int
from .files import file_type_of, open_binary

# Columns of a CSV that hold JSON (lists of turns), decoded when they look like JSON.
_JSON_COLUMNS = ("messages", "conversations", "prompt", "chosen", "rejected", "completion", "completions")
_KEPT_OF_TOO_LONG = 1024  # bytes of an over-long record kept in dropped.jsonl, to recognise it by
_SKIP_CHUNK = 1 << 20
_STREAM_CHUNK = 1 << 20

csv.field_size_limit(sys.maxsize)  # rows are bounded by ReadLimits before the csv module sees them


@dataclass(frozen=True)
class ReadLimits:
    """How much of one input is held at once (``data.max_record_bytes``, ``data.max_json_bytes``)."""

    max_record_bytes: int = 64 << 20
    """The longest record (a JSONL line, a CSV row, a JSON array's element) read; a longer one is dropped as ``too_long``."""
    max_json_bytes: int = 64 << 20
    """The largest JSON file parsed whole; a larger one is read element by element (its top level must be an array)."""


@dataclass(slots=True)
class RawRow:
    source: str
    line: int
    row: dict | None = None
    problem: RowProblem | None = None
    raw: str | None = None  # the line's text, kept for rows that could not be parsed


class _Binary(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int | None = ..., /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line or element over the size limit, read past: its size, its first bytes, and how many quotes it held."""

    size: int
    head: bytes
    quotes: int = 0


class NotAnArray(ValueError):
    """A JSON document streamed as an array that is not one."""


_OUTSIDE = re.compile(rb'[\[\]{}",]')
_SPACE = b" \t\r\n"


def iter_array(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes | TooLong]:
    """The elements of a top-level JSON array given in pieces, each as its bytes, or as ``(its size, its start)``
    when longer than ``max_bytes`` (read past, never held whole).

    Only the structure is followed (strings, brackets, commas at the top level); each element is parsed
    on its own afterwards, so a broken element is one bad row, not a broken file.
    """
    depth = 0  # inside the array: 0 between elements
    in_string = escaped = False
    started = ended = False
    parts: list[bytes] = []  # the element so far, while within max_bytes
    size = 0  # its size so far
    head = b""  # its first bytes, kept for an element over max_bytes

    def element(piece: bytes) -> bytes | TooLong | None:
        nonlocal parts, size, head
        total = size + len(piece)
        out: bytes | TooLong | None
        if total > max_bytes:
            out = TooLong(total, (head + piece[: _KEPT_OF_TOO_LONG - len(head)]).lstrip(_SPACE))
        else:
            out = b"".join([*parts, piece]).strip(_SPACE) or None
        parts, size, head = [], 0, b""
        return out

    for chunk in chunks:
        pos, seg = 0, 0  # where the search and the current element's piece of this chunk start
        if ended:
            if chunk.strip(_SPACE):
                raise NotAnArray("holds more after its closing ']'")
            continue
        if not started:
            chunk = chunk.lstrip(_SPACE)
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:].lstrip(_SPACE)
            if not chunk:
                continue
            if chunk[:1] != b"[":
                raise NotAnArray(f"its top level is not an array (it starts with {chunk[:1]!r})")
            started, pos, seg = True, 1, 1
        if escaped:  # a backslash ended the last chunk: this chunk's first byte is escaped
            pos, escaped = 1, False
        n = len(chunk)
        quote = backslash = -1  # the next '"' and '\\' at or after pos (memchr, not a regex: long strings are the bombs)
        while pos < n:
            if in_string:
                if quote < pos:
                    quote = chunk.find(b'"', pos) % (n + 1)  # (not found: n)
                if backslash < pos:
                    backslash = chunk.find(b"\\", pos) % (n + 1)
                if backslash < quote:  # an escape: step over the byte it escapes (the next chunk's first, maybe)
                    escaped = backslash + 1 >= n
                    pos = backslash + 2
                    continue
                if quote == n:
                    break  # the string goes on in the next chunk
                in_string, pos = False, quote + 1
                continue
            m = _OUTSIDE.search(chunk, pos)
            if m is None:
                break
            c = m.group()
            pos = m.end()
            if c == b'"':
                in_string = True
            elif c in b"[{":
                depth += 1
            elif c in b"]}" and depth > 0:
                depth -= 1
            elif depth == 0 and c in b",]":
                out = element(chunk[seg : m.start()])
                if out is not None or c == b",":
                    yield out if out is not None else b""
                seg = pos
                if c == b"]":
                    ended = True
                    if chunk[pos:].strip(_SPACE):
                        raise NotAnArray("holds more after its closing ']'")
                    break
        if not ended:
            piece = chunk[seg:]
            if len(head) < _KEPT_OF_TOO_LONG:
                head += piece[: _KEPT_OF_TOO_LONG - len(head)]
            size += len(piece)
            if size <= max_bytes:
                parts.append(piece)
            else:
                parts = []
    if started and not ended:
        raise NotAnArray("ends before its closing ']' (the file is truncated)")
    if not started:
        raise NotAnArray("is empty")


def _decode_problem(line: bytes, error: Exception) -> RowProblem:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return RowProblem("invalid_utf8", f"byte {e.start} is not valid UTF-8 ({line[e.start : e.start + 1]!r})")
    return RowProblem("bad_json", str(error).split(":")[0] if str(error) else "invalid JSON")


def _raw_text(line: bytes) -> str:
    return line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def _too_long(source: str, line: int, too_long: TooLong, what: str, limits: ReadLimits) -> RawRow:
    """The row for a record over ``max_record_bytes``: dropped with its size; only its start is kept (it is never read whole)."""
    size = too_long.size
    problem = RowProblem("too_long", f"{what} is {size:,} bytes, over data.max_record_bytes ({limits.max_record_bytes:,})")
    return RawRow(source, line, problem=problem, raw=_raw_text(too_long.head[:_KEPT_OF_TOO_LONG]) + f"... ({size:,} bytes, cut)")


def bounded_lines(f: _Binary, max_bytes: int) -> Iterator[bytes | TooLong]:
    """Each line of ``f`` (with its newline); a line of more than ``max_bytes`` (its newline left out) as
    :class:`TooLong`: read past in pieces, never held whole.

    What keeps a decompression bomb (one line of gigabytes in a small .gz) from filling the memory.
    """
    readline = f.readline
    limit = max_bytes + 1
    while line := readline(limit):
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
        else:
            yield _read_past(f, line)


def _read_past(f: _Binary, start: bytes) -> TooLong:
    """The rest of a line too long to hold, read in pieces: its size, first bytes and quotes."""
    line, size, quotes = start, len(start), start.count(b'"')
    while not line.endswith(b"\n"):
        line = f.readline(_SKIP_CHUNK)
        if not line:
            break
        size += len(line)
        quotes += line.count(b'"')
    return TooLong(size - (1 if line.endswith(b"\n") else 0), start[:_KEPT_OF_TOO_LONG], quotes)


def iter_jsonl(path: Path, source: str, limits: ReadLimits | None = None) -> Iterator[RawRow]:
    limits = limits or ReadLimits()
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    max_bytes = limits.max_record_bytes
    with open_binary(path) as f:
        readline, limit, lineno = f.readline, max_bytes + 1, 0
        while line := readline(limit):  # (bounded_lines, inlined: this is the hot path of reading)
            lineno += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                yield _too_long(source, lineno, _read_past(f, line), "the line", limits)
                continue
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
                if may_hold_big_int(row):
                    row = exact(line)  # an integer beyond 64 bits, which orjson rounds to a float
                yield RawRow(source, lineno, row)
            else:
                yield RawRow(
                    source,
                    lineno,
                    problem=RowProblem("not_an_object", f"the line holds a JSON {type(row).__name__}, not an object"),
                    raw=_raw_text(line),
                )


def iter_json(path: Path, source: str, limits: ReadLimits | None = None) -> Iterator[RawRow]:
    """The records of a JSON file: parsed whole up to ``max_json_bytes``, streamed element by element beyond (an array only)."""
    limits = limits or ReadLimits()
    with open_binary(path) as f:
        data = f.read(limits.max_json_bytes + 1)
        if len(data) > limits.max_json_bytes:
            yield from _iter_big_json(path, source, limits, data, f)
            return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        stripped = data.lstrip()
        if stripped[:1] == b"{" and b"\n" in stripped.strip():
            # Many ".json" files are really JSON Lines.
            yield from iter_jsonl(path, source, limits)
            return
        raise InputError(
            f"'{path}' is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}). "
            "Fix the file, or if it holds one object per line, rename it to .jsonl."
        ) from e
    if may_hold_big_int(doc):
        doc = exact(data)
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
                raw=jsoncodec.dumps(row).decode(),
            )


def _iter_big_json(path: Path, source: str, limits: ReadLimits, head: bytes, f: _Binary) -> Iterator[RawRow]:
    """A JSON file over ``max_json_bytes``: a top-level array, read one element at a time."""
    chunks = itertools.chain([head], iter(lambda: f.read(_STREAM_CHUNK), b""))
    try:
        for i, element in enumerate(iter_array(chunks, limits.max_record_bytes), start=1):
            if isinstance(element, TooLong):
                yield _too_long(source, i, element, f"element {i}", limits)
                continue
            try:
                row = orjson.loads(element)
            except orjson.JSONDecodeError as e:
                yield RawRow(source, i, problem=_decode_problem(element, e), raw=_raw_text(element[:_KEPT_OF_TOO_LONG]))
                continue
            if type(row) is not dict:
                problem = RowProblem("not_an_object", f"element {i} is a JSON {type(row).__name__}, not an object")
                yield RawRow(source, i, problem=problem, raw=_raw_text(element[:_KEPT_OF_TOO_LONG]))
                continue
            yield RawRow(source, i, exact(element) if may_hold_big_int(row) else row)
    except NotAnArray as e:
        raise InputError(
            f"'{path}' is over data.max_json_bytes ({limits.max_json_bytes:,} bytes) and {e}: only a top-level array is read "
            "element by element. Convert it to JSON Lines (one object per line), or raise data.max_json_bytes."
        ) from None


def iter_csv(path: Path, source: str, delimiter: str, limits: ReadLimits | None = None) -> Iterator[RawRow]:
    """The rows of a CSV or TSV file, each with the line it starts on.

    Quoting is read as CSV quotes it (a field that starts with ``"``, with ``""`` inside, may span
    lines), but only where it holds: a field that merely starts with a quote and does not close like
    one (``"the witness", he said``) is text, and so is the rest of its line. Read naively, such a
    quote swallows the rows after it into one record. A TSV file with one such quote is a TSV file
    without quoting (the common kind: each line a row, tabs between fields, quotes are text), and
    is read so throughout: a field like ``"quoted whole"`` keeps its quotes there.
    """
    limits = limits or ReadLimits()
    literal = delimiter == "\t" and _unquoted_tsv(path, limits)
    with open_binary(path) as fb:
        rows = _CsvRows(bounded_lines(fb, limits.max_record_bytes), delimiter, limits.max_record_bytes, literal)
        header = None
        for start, cells, too_long in rows:
            if header is None:
                if too_long is not None:
                    raise InputError(f"'{path}' line {start}: the header is {too_long.size:,} bytes long. Fix the file's first line.")
                if cells:
                    header = cells
                continue
            if too_long is not None:
                yield _too_long(source, start, too_long, "the row", limits)
                continue
            if not cells:
                continue
            raw = delimiter.join(cells)
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes came through as surrogates
                bad = raw.encode("utf-8", errors="surrogateescape")
                yield RawRow(source, start, problem=_decode_problem(bad, ValueError()), raw=_raw_text(bad))
                continue
            if len(cells) != len(header):
                yield RawRow(
                    source,
                    start,
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
                        decoded = jsoncodec.loads(value)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(decoded, list) and decoded and all(isinstance(t, dict) for t in decoded):
                        row[col] = decoded
            yield RawRow(source, start, row)


def _unquoted_tsv(path: Path, limits: ReadLimits) -> bool:
    """Whether a TSV file shows that it uses no quoting: a line whose quotes do not read as CSV quotes (a first pass over it)."""
    with open_binary(path) as fb:
        rows = _CsvRows(bounded_lines(fb, limits.max_record_bytes), "\t", limits.max_record_bytes)
        for _ in rows:
            if rows.quotes_failed:
                return True
    return False


class _CsvRows:
    """``(first line, cells, (size, start) of a line too long to read)`` of each row of a CSV/TSV line stream (see
    :func:`iter_csv` for the quoting rule)."""

    def __init__(self, lines: Iterator[bytes | TooLong], delimiter: str, max_bytes: int, literal: bool = False):
        self._lines = lines
        self.literal = literal  # quotes are text: every line a row
        self.quotes_failed = False  # a line whose quotes did not read as CSV quotes was seen
        self._pending: list[tuple[int, bytes | TooLong]] = []  # lines read ahead, to be read again
        self._number = 0
        self.delimiter = delimiter
        self.max_bytes = max_bytes

    def _next_line(self) -> tuple[int, bytes | TooLong] | None:
        if self._pending:
            return self._pending.pop()
        line = next(self._lines, None)
        if line is None:
            return None
        self._number += 1
        if self._number == 1 and isinstance(line, bytes) and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        return self._number, line

    def __iter__(self) -> Iterator[tuple[int, list[str], TooLong | None]]:
        delimiter = self.delimiter
        quoted_start = delimiter + '"'
        while (item := self._next_line()) is not None:
            number, line = item
            if isinstance(line, TooLong):
                yield number, [], line if self.literal else self._rest_of_too_long(line.quotes, line)
                continue
            text = line.decode("utf-8", "surrogateescape")
            if text in ("\n", "\r\n"):
                yield number, [], None  # a blank line: no row
                continue
            if self.literal or not (text.startswith('"') or quoted_start in text):
                yield number, _split(text, delimiter), None  # no field starts with a quote: the common case
                continue
            cells = self._quoted(number, text)
            if isinstance(cells, TooLong):
                yield number, [], cells
            else:
                yield number, cells if cells is not None else _split(text, delimiter), None

    def _quoted(self, number: int, text: str) -> list[str] | TooLong | None:
        """The cells of the row starting with ``text`` read with CSV quoting, or None when quoting does not hold there:
        a quote that does not close like a CSV quote (it is followed by text, or never closes within max_record_bytes).
        The lines read past are read again then.

        A row that quoting reads cleanly is that row, whatever its number of cells (a wrong number is a bad row).
        """
        lines, size, read_ahead = [text], len(text), []
        while True:
            try:
                cells = next(csv.reader(lines, delimiter=self.delimiter, strict=True), [])
                break
            except csv.Error as e:
                if "unexpected end of data" not in str(e):
                    cells = None
                    break
            item = self._next_line()  # the quoted field goes on on the next line
            next_line = item[1] if item is not None else None
            if isinstance(next_line, TooLong):
                # A line too long to read inside the quoted field: the row is too long (read past to its end).
                quotes = sum(t.count('"') for t in lines) + next_line.quotes
                return self._rest_of_too_long(quotes, TooLong(size + next_line.size, text.encode("utf-8", "surrogateescape")))
            if item is None or next_line is None or size > self.max_bytes:
                if item is not None:
                    read_ahead.append(item)
                cells = None
                break
            read_ahead.append(item)
            more = next_line.decode("utf-8", "surrogateescape")
            lines.append(more)
            size += len(more)
        if cells is None:
            self._pending.extend(reversed(read_ahead))
            self.quotes_failed = True
        return cells

    def _rest_of_too_long(self, quotes: int, first: TooLong) -> TooLong:
        """A row too long to read, whole: while its quotes are open (an odd count), the next lines belong to it."""
        size = first.size
        while quotes % 2:
            item = self._next_line()
            if item is None:
                break
            line = item[1]
            quotes += line.quotes if isinstance(line, TooLong) else line.count(b'"')
            size += line.size if isinstance(line, TooLong) else len(line)
        return TooLong(size, first.head)


def _split(text: str, delimiter: str) -> list[str]:
    return text.rstrip("\r\n").split(delimiter)


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


def iter_rows(path: Path, source: str, file_type: str | None = None, limits: ReadLimits | None = None) -> Iterator[RawRow]:
    """Every row of one input file (or datasets folder), in order."""
    kind = file_type_of(path, file_type)
    if kind == "jsonl":
        return iter_jsonl(path, source, limits)
    if kind == "json":
        return iter_json(path, source, limits)
    if kind in ("csv", "tsv"):
        return iter_csv(path, source, "\t" if kind == "tsv" else ",", limits)
    if kind == "parquet":
        return iter_parquet(path, source)
    return iter_hf(path, source)
