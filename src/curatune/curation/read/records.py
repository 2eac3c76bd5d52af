"""Turn input files into a stream of Records and Rejects, detecting each file's format."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xxhash

from ...errors import CuratuneError, InputError
from .. import jsoncodec
from ..compact import HashIndex
from ..formats import Format, RowProblem, detect_format, get_format
from ..pairs.build import PairRule
from ..record import Record
from .files import expand_inputs, file_type_of, split_suffixes
from .rows import RawRow, ReadLimits, iter_rows

DETECT_SAMPLE = 200
_ABSENT = object()


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

    ``formats`` afterwards maps each source to the format used, for the summary. ``pair_rule``: how
    pairs are made of scored completions (:mod:`curatune.curation.pairs.build`; the default rule when None).

    Ids are unique across the inputs, and say where the record came from: the input's id field,
    or ``<file stem>:<line>``; an id already taken (two rows with one id, or a row whose id is the
    one generated for another row) gets ``@<file stem>:<line>`` added. The id field's value is kept
    as it was (a number stays a number, a duplicate keeps its plain id, an empty or non-text id is
    not lost) for writing the record back in its own format.
    """

    def __init__(
        self,
        inputs,
        fmt: str = "auto",
        file_type: str = "auto",
        id_field: str = "id",
        pair_rule: PairRule | None = None,
        limits: ReadLimits | None = None,
    ):
        self.paths = expand_inputs(inputs)
        self.fmt = fmt
        self.file_type = file_type
        self.id_field = id_field
        self.pair_rule = pair_rule
        self.limits = limits or ReadLimits()
        self.formats: dict[str, str] = {}
        self._ids = _Ids()
        if fmt != "auto":
            get_format(fmt)  # an unknown format name fails now, not after the first file
        for p in self.paths:
            # An unknown extension fails before anything is read or written.
            file_type_of(p, None if file_type == "auto" else file_type)

    def __iter__(self) -> Iterator[Record | Reject]:
        self._ids = _Ids()  # a second pass over the reader gives the same ids
        for path, prefix in _id_prefixes(self.paths).items():
            try:
                yield from self._read_file(path, prefix)
            except (OSError, EOFError, zlib.error) as e:  # a truncated or corrupt file
                raise InputError(_read_error(path, e)) from e
            except Exception as e:
                if type(e).__module__.startswith("zstandard") or type(e).__name__ == "ZstdError":
                    raise InputError(_read_error(path, e)) from e
                raise

    def _read_file(self, path: Path, prefix: str) -> Iterator[Record | Reject]:
        source = str(path)
        rows = iter_rows(path, source, None if self.file_type == "auto" else self.file_type, self.limits)
        if self.fmt == "auto":
            head = list(itertools.islice(rows, DETECT_SAMPLE))
            fmt = detect_format([r.row for r in head if r.row is not None])
            rows = itertools.chain(head, rows)
        else:
            fmt = get_format(self.fmt)
        if fmt is not None and self.pair_rule is not None:
            fmt = fmt.configured(self.pair_rule)
        self.formats[source] = fmt.name if fmt else "unknown"
        parse = self._parse
        for raw in rows:
            # A datasets folder with splits reads as sources "<folder>/<split>": keep the split in the id.
            yield parse(raw, fmt, prefix if raw.source is source else prefix + raw.source[len(source) :])

    def _parse(self, raw: RawRow, fmt: Format | None, prefix: str) -> Record | Reject:
        line = raw.line
        row = raw.row
        if row is None:
            p = raw.problem
            assert p is not None
            return Reject(self._ids.generate(prefix, line), raw.source, line, p.reason, p.detail, raw.raw)
        ids = self._ids
        given = row.get(self.id_field, _ABSENT)
        generated = False
        if type(given) is str and given:
            rid = ids.unique(given, prefix, line)  # the common case first
        elif given is _ABSENT or given is None or given == "" or isinstance(given, (dict, list)):
            rid, generated = ids.generate(prefix, line), True
        else:  # a number or a boolean: its text is the id
            rid = ids.unique(str(given), prefix, line)
        try:
            if fmt is None or not fmt.matches(row):
                if fmt is None:
                    raise RowProblem("unknown_format", f"fields {sorted(row)[:8]} match no known format")
                missing = [k for k in fmt.required if k not in row]
                raise RowProblem("missing_field", f"the file is {fmt.name} but this row lacks {missing}", missing[0] if missing else None)
            rec = fmt.parse(row, rid)
        except RowProblem as p:
            return Reject(rid if generated else ids.generate(prefix, line), raw.source, line, p.reason, p.detail, _dump_row(row))
        if not generated:
            ids.claim(rid)
        meta = rec.meta
        meta["source"] = raw.source
        meta["line"] = line
        if fmt.name != "curatune" and given is not _ABSENT:
            if self.id_field != "id":
                if "id" in row:  # not the id here, so a field like any other (the formats set "id" aside)
                    meta.setdefault("extra", {})["id"] = row["id"]
            elif given == rid and type(given) is str:
                meta["input_id"] = True  # written back on export
            else:
                meta["input_id"] = True
                meta["input_id_value"] = given  # the id as the input had it: a number, "", a list, or one made unique
        return rec


class _Ids:
    """The ids given so far, to keep them unique, in little memory.

    An id from the input (or one made unique) is remembered by its 64-bit hash; a generated one,
    ``<prefix>:<line>``, by one bit per line of its file: data without ids costs an eighth of a byte
    a record, not a set entry.
    """

    def __init__(self) -> None:
        self._hashes = HashIndex()  # a set of 64-bit hashes in flat arrays (about 32 bytes each, a set of ints 70)
        self._lines: dict[str, bytearray] = {}  # prefix -> bit per line that holds its generated id
        self._last: tuple[str, int] = ("", 0)  # the last id hashed, and its hash (claim follows taken)

    def taken(self, rid: str) -> bool:
        h = _hash(rid)
        self._last = (rid, h)
        if h in self._hashes:
            return True
        if ":" not in rid:
            return False
        prefix, sep, number = rid.rpartition(":")
        bits = self._lines.get(prefix) if sep else None
        if bits is None or not (number.isascii() and number.isdigit()) or str(int(number)) != number:
            return False
        n = int(number)
        return n >> 3 < len(bits) and bool(bits[n >> 3] >> (n & 7) & 1)

    def unique(self, rid: str, prefix: str, line: int) -> str:
        """``rid``, or, when another record has it already, ``rid@prefix:line`` (again until unique)."""
        while self.taken(rid):
            rid = f"{rid}@{prefix}:{line}"
        return rid

    def claim(self, rid: str) -> None:
        last, h = self._last
        self._hashes.add(h if last == rid else _hash(rid))

    def generate(self, prefix: str, line: int) -> str:
        """The generated id of this line, made unique, and taken."""
        rid = f"{prefix}:{line}"
        # Only an input id (or one made unique) can hold a generated id already: no such id, no check.
        if self._hashes and _hash(rid) in self._hashes:
            rid = self.unique(rid, prefix, line)
            self.claim(rid)
            return rid
        bits = self._lines.setdefault(prefix, bytearray())
        if line >> 3 >= len(bits):
            bits.extend(bytes((line >> 3) - len(bits) + 1024))
        bits[line >> 3] |= 1 << (line & 7)
        return rid


def _hash(rid: str) -> int:
    return xxhash.xxh3_64_intdigest(rid.encode("utf-8", "surrogatepass"))


def _read_error(path: Path, e: BaseException) -> str:
    compression = split_suffixes(path)[1]
    hint = (
        f"The file may be truncated, or not really {compression}-compressed: check it with "
        f"`{'gzip -t' if compression == 'gzip' else 'zstd -t'} {path}`."
        if compression
        else "Check that the file is complete and readable."
    )
    return f"Cannot read '{path}': {e}. {hint}"


def _dump_row(row: dict) -> str:
    return jsoncodec.dumps(row).decode()


def read_records(
    inputs,
    fmt: str = "auto",
    file_type: str = "auto",
    id_field: str = "id",
    pair_rule: PairRule | None = None,
    limits: ReadLimits | None = None,
) -> Iterator[Record | Reject]:
    """Every record (or reject) of the inputs, streamed."""
    return iter(RecordReader(inputs, fmt, file_type, id_field, pair_rule, limits))


def sniff_preference(inputs, fmt: str = "auto", file_type: str = "auto") -> bool:
    """True when the first input holds preference data (pairs or KTO examples), judged on its first rows.

    For choosing a default recipe: a file that cannot be read here is "not preference", and the run
    that reads it reports the problem.
    """
    try:
        reader = RecordReader(inputs, fmt, file_type)
        head = list(itertools.islice((r for r in reader if isinstance(r, Record)), DETECT_SAMPLE))
    except (CuratuneError, OSError):  # an unreadable input: the curation itself will say why
        return False
    return bool(head) and sum(r.kind == "preference" for r in head) * 2 > len(head)
