"""Property-based fuzzing of reading and curating: every format, every file type, messy rows.

Hypothesis builds a file of one format and file type (JSONL, JSON, CSV, TSV, Parquet, a datasets
folder; gzip or zstd) out of valid rows with awkward text, ids of every kind and extra fields
(integers beyond 64 bits included), bad rows of every kind the file type can hold, blank lines and
records over the size limit. The truth is planted: which line holds what. Asserted:

- exactly once: every planted row is one record or one reject, at its own line, in order, with the
  planted reason; no other item; ids unique;
- byte-faithful: each valid row written back in its original format equals the planted row
  (every value and its type: canonical JSON with sorted keys; CSV and TSV cell by cell);
- through ``curate`` (a mapper, a filter, exact dedup; the run's kept records in the original
  format or lossless): one final keep or drop per planted row in the ledger, at its line, and each
  kept record no step modified equal to its planted row.

The default suite runs a fixed number of cases (about 20 s on two cores); ``-m slow`` runs the
larger profile. The counts are in bench/RESULTS.md.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curatune.config.recipe import parse_recipe
from curatune.curation import jsoncodec
from curatune.curation.ledger import read_ledger
from curatune.curation.read.records import RecordReader, Reject
from curatune.curation.read.rows import ReadLimits, iter_array, iter_csv
from curatune.curation.write.writers import write_records
from curatune.stages.curate import curate

FORMATS = ("alpaca", "sharegpt", "messages", "prompt_completion", "preference", "labelled", "text")
FILE_TYPES = ("jsonl", "json", "csv", "tsv", "parquet", "hf")
MAX_RECORD = 600  # bytes: the limit the fuzzed reads run with, so that over-long rows are cheap to plant
READER_CASES, PIPELINE_CASES = 130, 60  # the default suite
SLOW_READER_CASES, SLOW_PIPELINE_CASES = 2000, 300  # -m slow

# Text that breaks naive readers and writers: quotes, delimiters, line ends of every kind, escapes, non-BMP.
AWKWARD = ['"', "'", "\t", ",", "\n", "\r\n", "\r", "\\", "\\n", '""', "\u2028", "\x00", "é", "😀", " ", "[", "=", "\n\n", "@"]
text = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)), max_size=6
).map("".join)


@dataclass
class Planted:
    """One row of the file: its line, and what it must become (the row, or a reject with this reason)."""

    line: int
    row: dict | None = None
    reason: str | None = None


@dataclass
class Case:
    fmt: str
    file_type: str
    compression: str
    rows: list[dict]  # the valid rows, as the file holds them
    bad: list[str]  # the reason of each bad row, in order among all rows
    order: list[int]  # for each planted row: index into rows (>= 0) or ~index into bad
    blank_after: set[int] = field(default_factory=set)
    small_json: bool = False  # read the JSON file element by element (max_json_bytes under its size)


# ---- valid rows ------------------------------------------------------------------------------------


def turns(role_names: list[str], role_key: str, content_key: str) -> st.SearchStrategy[list[dict]]:
    return st.lists(st.tuples(st.sampled_from(role_names), text), min_size=1, max_size=3).map(
        lambda ts: [{role_key: r, content_key: c} for r, c in ts]
    )


def format_row(fmt: str, columnar: bool) -> st.SearchStrategy[dict]:
    """One valid row of ``fmt``; ``columnar`` (CSV, Parquet): the same fields in every row."""
    if fmt == "alpaca":
        with_input = st.builds(lambda t: {"input": t}, text)
        inp = with_input if columnar else st.one_of(st.just({}), with_input)  # a column is in every row
        return st.builds(lambda i, o, extra: {"instruction": i, **extra, "output": o}, text, text, inp)
    if fmt == "sharegpt":
        return st.builds(lambda c: {"conversations": c}, turns(["human", "gpt", "system"], "from", "value"))
    if fmt == "messages":
        return st.builds(lambda m: {"messages": m}, turns(["user", "assistant", "system", "tool"], "role", "content"))
    if fmt == "prompt_completion":
        return st.builds(lambda p, c: {"prompt": p, "completion": c}, text, text)
    if fmt == "preference":
        return st.builds(lambda p, c, r: {"prompt": p, "chosen": c, "rejected": r}, text, text, text)
    if fmt == "labelled":
        label = st.sampled_from(["pos", "neg", "3"]) if columnar else st.one_of(st.sampled_from(["pos", "neg"]), st.integers(-5, 5))
        return st.builds(lambda t, lab: {"text": t, "label": lab}, text, label)
    return st.builds(lambda t: {"text": t}, text)


def json_value(big: bool) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.integers(-(2**70), 2**70) if big else st.integers(-(2**62), 2**62),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        text,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
        max_leaves=5,
    )


@st.composite
def cases(draw) -> Case:
    fmt = draw(st.sampled_from(FORMATS))
    file_type = draw(st.sampled_from(FILE_TYPES))
    compression = draw(st.sampled_from(["", ".gz", ".zst"])) if file_type in ("jsonl", "json", "csv", "tsv") else ""
    columnar = file_type in ("csv", "tsv", "parquet", "hf")
    n = draw(st.integers(1 if file_type == "hf" else 0, 8))  # (datasets cannot load a folder it saved without rows)
    rows = draw(st.lists(format_row(fmt, columnar), min_size=n, max_size=n))
    # Ids of every kind: none, text, a repeat, one equal to a generated id, numbers, empty, lists.
    id_kind = draw(st.sampled_from(["none", "text", "mixed"]))
    if id_kind != "none" and rows:
        for i, row in enumerate(rows):
            if columnar:
                choice = draw(st.sampled_from(["u", "dup", "gen", "empty"]))
            else:
                choice = draw(st.sampled_from(["u", "dup", "gen", "empty", "int", "big", "list", "null", "absent"]))
            value: Any = {
                "u": f"id-{i}",
                "dup": "same",
                "gen": f"data:{draw(st.integers(1, n + 2))}",
                "empty": "",
                "int": draw(st.integers(-3, 3)),
                "big": 2**64 + i,
                "list": [i],
                "null": None,
                "absent": None,
            }[choice]
            if choice != "absent":
                rows[i] = {"id": value, **row}
    # Extra fields the formats do not use: any JSON in JSON files, one scalar type per column elsewhere.
    if draw(st.booleans()):
        if columnar:
            kind = draw(st.sampled_from(["str", "int", "float"]))
            for row in rows:
                row["x_extra"] = draw({"str": text, "int": st.integers(-(2**40), 2**40), "float": st.floats(-1e9, 1e9)}[kind])
                if file_type in ("csv", "tsv"):
                    row["x_extra"] = str(row["x_extra"])
        else:
            for row in rows:
                if draw(st.booleans()):
                    row["x_extra"] = draw(json_value(big=True))
    # Bad rows: what each file type can hold.
    kinds = {
        "jsonl": ["bad_json", "invalid_utf8", "not_an_object", "missing_field", "wrong_type", "too_long"],
        "json": ["not_an_object", "missing_field", "wrong_type", "too_long"],
        "csv": ["bad_row", "invalid_utf8", "too_long"],
        "tsv": ["bad_row", "invalid_utf8", "too_long"],
        "parquet": ["missing_field"],
        "hf": ["missing_field"],
    }[file_type]
    small = file_type == "json" and draw(st.booleans())
    if file_type == "json" and not small:
        kinds.remove("too_long")  # a JSON file parsed whole is bounded as a whole (max_json_bytes), not element by element
    bad = draw(st.lists(st.sampled_from(kinds), max_size=3))
    order = draw(st.permutations([*range(len(rows)), *(~i for i in range(len(bad)))]))
    blanks = set(draw(st.lists(st.integers(0, len(order)), max_size=2))) if file_type == "jsonl" else set()
    return Case(fmt, file_type, compression, rows, bad, order, blanks, small)


# ---- the file, and the truth ---------------------------------------------------------------------------

REQUIRED = {
    "alpaca": "instruction",
    "sharegpt": "conversations",
    "messages": "messages",
    "prompt_completion": "prompt",
    "preference": "prompt",
    "labelled": "text",
    "text": "text",
}


def bad_json_row(reason: str, fmt: str, template: dict) -> dict | bytes | int:
    """A row of a JSON file that must be rejected with ``reason``."""
    key = REQUIRED[fmt]
    if reason == "missing_field":
        return {k: v for k, v in template.items() if k != key} | {"x_only": 1}
    if reason == "wrong_type":
        return {**template, key: 5}
    if reason == "not_an_object":
        return 5
    if reason == "too_long":
        return {**template, "x_pad": "p" * (MAX_RECORD + 50)}
    if reason == "bad_json":
        return b'{"broken": '
    return b'{"text": "\xff\xfe"}'  # invalid_utf8


def template_row(fmt: str) -> dict:
    return next(
        r
        for r in [
            {"instruction": "i", "output": "o"} if fmt == "alpaca" else None,
            {"conversations": [{"from": "human", "value": "v"}]} if fmt == "sharegpt" else None,
            {"messages": [{"role": "user", "content": "c"}]} if fmt == "messages" else None,
            {"prompt": "p", "completion": "c"} if fmt == "prompt_completion" else None,
            {"prompt": "p", "chosen": "c", "rejected": "r"} if fmt == "preference" else None,
            {"text": "t", "label": "l"} if fmt == "labelled" else None,
            {"text": "t"},
        ]
        if r is not None
    )


def write_case(case: Case, folder: Path) -> tuple[Path, list[Planted]]:
    path = folder / f"data.{case.file_type}{case.compression}" if case.file_type != "hf" else folder / "data"
    write = {
        "jsonl": _write_jsonl,
        "json": _write_json,
        "csv": _write_csv,
        "tsv": _write_csv,
        "parquet": _write_columnar,
        "hf": _write_columnar,
    }
    planted = write[case.file_type](case, path)
    return path, planted


def _compress(path: Path, data: bytes) -> None:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def _write_jsonl(case: Case, path: Path) -> list[Planted]:
    lines, planted = [], []
    template = case.rows[0] if case.rows else template_row(case.fmt)
    for k, entry in enumerate(case.order):
        if k in case.blank_after:
            lines.append(b"")
        if entry >= 0:
            lines.append(jsoncodec.dumps(case.rows[entry]))
            planted.append(Planted(len(lines), row=case.rows[entry]))
        else:
            reason = case.bad[~entry]
            row = bad_json_row(reason, case.fmt, template)
            lines.append(row if isinstance(row, bytes) else jsoncodec.dumps(row))
            planted.append(Planted(len(lines), reason=reason))
    if len(case.order) in case.blank_after:
        lines.append(b"   ")
    _compress(path, b"".join(line + b"\n" for line in lines))
    return planted


def _write_json(case: Case, path: Path) -> list[Planted]:
    elements, planted = [], []
    template = case.rows[0] if case.rows else template_row(case.fmt)
    for entry in case.order:
        if entry >= 0:
            elements.append(case.rows[entry])
            planted.append(Planted(len(elements), row=case.rows[entry]))
        else:
            elements.append(bad_json_row(case.bad[~entry], case.fmt, template))
            planted.append(Planted(len(elements), reason=case.bad[~entry]))
    if (
        len(elements) == 1
        and isinstance(elements[0], dict)
        and len(elements[0]) == 1
        and isinstance(next(iter(elements[0].values())), list)
    ):
        elements.append(template)  # (a one-element array whose element looks like a {"data": [...]} wrapper is not what this tests)
        planted.append(Planted(2, row=template))
    _compress(path, jsoncodec.dumps(elements, orjson.OPT_INDENT_2))
    return planted


def _cells(row: dict) -> dict[str, str]:
    return {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in row.items()}


def _write_csv(case: Case, path: Path) -> list[Planted]:
    delimiter = "\t" if case.file_type == "tsv" else ","
    template = _cells(case.rows[0] if case.rows else template_row(case.fmt))
    header = list(template)
    out, planted = io.StringIO(), []
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    lines_before = lambda: out.getvalue().count("\n") + 1  # noqa: E731
    for entry in case.order:
        line = lines_before()
        if entry >= 0:
            row = _cells(case.rows[entry])
            writer.writerow([row[h] for h in header])
            planted.append(Planted(line, row=row))
            continue
        reason = case.bad[~entry]
        cells = [template[h] for h in header]
        if reason == "bad_row":
            cells.append("surplus")
        elif reason == "too_long":
            cells[0] = "p" * (MAX_RECORD + 50)
        else:
            cells[0] = "\udcff"  # invalid_utf8: a byte 0xff, written below through surrogateescape
        writer.writerow(cells)
        planted.append(Planted(line, reason=reason))
    _compress(path, out.getvalue().encode("utf-8", "surrogateescape"))
    return planted


def _write_columnar(case: Case, path: Path) -> list[Planted]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    template = case.rows[0] if case.rows else template_row(case.fmt)
    rows, planted = [], []
    for entry in case.order:
        if entry >= 0:
            rows.append(case.rows[entry])
            planted.append(Planted(len(rows), row=case.rows[entry]))
        else:
            rows.append({**template, REQUIRED[case.fmt]: None})  # null: the field is absent
            planted.append(Planted(len(rows), reason="missing_field"))
    columns = list(template)
    table = (
        pa.Table.from_pydict({c: [r.get(c) for r in rows] for c in columns})
        if rows
        else pa.table({c: pa.array([], pa.string()) for c in columns})
    )
    if case.file_type == "parquet":
        pq.write_table(table, path)
    else:
        import datasets

        datasets.disable_progress_bars()
        datasets.Dataset(table).save_to_disk(str(path))
    return planted


def canonical(value: Any) -> bytes:
    return jsoncodec.dumps(_sorted(value))


def _sorted(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


def limits(case: Case, path: Path) -> ReadLimits:
    size = len(gzip.decompress(path.read_bytes())) if case.compression == ".gz" else None
    return ReadLimits(max_record_bytes=MAX_RECORD, max_json_bytes=40 if case.small_json else (size or 1 << 26) + (1 << 20))


# ---- the properties -------------------------------------------------------------------------------------


def check_read(case: Case, folder: Path) -> None:
    path, planted = write_case(case, folder)
    items = list(RecordReader(path, case.fmt, limits=limits(case, path)))
    # Exactly once, at its line, in order, as planted.
    assert [(i.line if isinstance(i, Reject) else i.meta["line"]) for i in items] == [p.line for p in planted]
    assert [(i.reason if isinstance(i, Reject) else None) for i in items] == [p.reason for p in planted]
    ids = [i.id for i in items]
    assert len(set(ids)) == len(ids), Counter(ids).most_common(2)
    # Byte-faithful: written back in the original format, each valid row is the planted one.
    records = [i for i in items if not isinstance(i, Reject)]
    expected = [p.row for p in planted if p.row is not None]
    assert written_back(records, case, folder) == [canonical(r) for r in expected]


def written_back(records: list, case: Case, folder: Path) -> list[bytes]:
    if case.file_type in ("csv", "tsv"):
        out = folder / f"back.{case.file_type}"
        write_records(records, out, "original")
        if not records:
            return []
        return [canonical(_cells(r.row)) for r in iter_csv(out, str(out), "\t" if case.file_type == "tsv" else ",")]
    out = folder / "back.jsonl"
    write_records(records, out, "original")
    return [canonical(jsoncodec.loads(line)) for line in out.read_bytes().splitlines()]


def check_curate(case: Case, folder: Path, output_format: str) -> None:
    path, planted = write_case(case, folder)
    lim = limits(case, path)
    raw = {
        "name": "fuzz",
        "runs_dir": str(folder / "runs"),
        "data": {"path": str(path), "format": case.fmt, "max_record_bytes": lim.max_record_bytes, "max_json_bytes": lim.max_json_bytes},
        "curate": {
            "workers": 1,
            "batch_size": 3,
            "output_format": output_format,
            "steps": [{"step": "clean.whitespace"}, {"step": "filter.min_length", "min_chars": 2}, {"step": "dedup.exact"}],
        },
    }
    run = curate(parse_recipe(raw)).run_dir
    ledger = read_ledger(run / "ledger.parquet")
    finals = [r for r in ledger if r["action"] in ("keep", "drop")]
    assert sorted(r["line"] for r in finals) == [p.line for p in planted]  # one final decision per planted row
    stats = orjson.loads((run / "stats.json").read_bytes())
    assert stats["input"] == len(planted) == stats["kept"] + stats["dropped"]
    kept_lines = [r["line"] for r in finals if r["action"] == "keep"]
    assert sorted(kept_lines) == kept_lines
    modified = {r["line"] for r in ledger if r["action"] in ("modify", "flag")}
    by_line = {p.line: p.row for p in planted}
    records = list(RecordReader(run / "data" / "kept.jsonl", "curatune" if output_format == "curatune" else case.fmt))
    assert len(records) == len(kept_lines) and not [r for r in records if isinstance(r, Reject)]
    if output_format == "curatune":  # lossless: each kept record says where it came from
        assert [jsoncodec.loads(x)["meta"]["line"] for x in (run / "data" / "kept.jsonl").read_bytes().splitlines()] == kept_lines
    if output_format == "curatune":
        back = written_back(records, case, folder)
    else:  # kept.jsonl holds the rows in their own format, as JSON (CSV cells compare as text)
        as_read = _cells if case.file_type in ("csv", "tsv") else (lambda row: row)
        back = [canonical(as_read(jsoncodec.loads(x))) for x in (run / "data" / "kept.jsonl").read_bytes().splitlines()]
    for line, got in zip(kept_lines, back):
        if line not in modified:
            assert got == canonical(by_line[line]), f"line {line} changed though no step changed it"


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], derandomize=True, database=None)


@settings(FUZZ, max_examples=READER_CASES)
@given(cases())
def test_reading_accounts_for_every_row_once_and_writes_it_back_unchanged(case):
    with tempfile.TemporaryDirectory() as d:
        check_read(case, Path(d))


@settings(FUZZ, max_examples=PIPELINE_CASES)
@given(cases(), st.sampled_from(["original", "curatune"]))
def test_curating_decides_every_row_once_and_keeps_unchanged_records_unchanged(case, output_format):
    with tempfile.TemporaryDirectory() as d:
        check_curate(case, Path(d), output_format)


@pytest.mark.slow
@settings(FUZZ, max_examples=SLOW_READER_CASES, derandomize=False)
@given(cases())
def test_reading_fuzzed_at_length(case):
    with tempfile.TemporaryDirectory() as d:
        check_read(case, Path(d))


@pytest.mark.slow
@settings(FUZZ, max_examples=SLOW_PIPELINE_CASES, derandomize=False)
@given(cases(), st.sampled_from(["original", "curatune"]))
def test_curating_fuzzed_at_length(case, output_format):
    with tempfile.TemporaryDirectory() as d:
        check_curate(case, Path(d), output_format)


@settings(FUZZ, max_examples=300)
@given(st.lists(json_value(big=False), max_size=6), st.integers(1, 40), st.booleans())
def test_the_array_streamer_splits_any_array_as_a_parser_does(elements, chunk, indent):
    """Big .json files are read element by element: the split must agree with a real parser at any chunk boundary."""
    doc = orjson.dumps(elements, option=orjson.OPT_INDENT_2 if indent else 0)
    pieces = [doc[i : i + chunk] for i in range(0, len(doc), chunk)]
    assert [orjson.loads(e) for e in iter_array(pieces, 1 << 20)] == elements
