"""Messy inputs read without a value changed, a row lost or the memory filled (issue 17's reproductions)."""

from __future__ import annotations

import gzip
import itertools
import tracemalloc
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from curatune.cli import app
from curatune.config.recipe import parse_recipe
from curatune.curation import jsoncodec
from curatune.curation.ledger import read_ledger
from curatune.curation.read.records import RecordReader, Reject, read_records
from curatune.curation.read.rows import ReadLimits, TooLong, iter_array, iter_csv
from curatune.curation.write.writers import write_records
from curatune.run_folder import RunFolder
from curatune.stages.curate import curate

runner = CliRunner()


def jsonl(path: Path, rows: list, opener=open) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wb") as f:
        f.write(b"".join(jsoncodec.dumps(r) + b"\n" for r in rows))
    return path


def canonical(row) -> bytes:
    """A row's JSON with sorted keys: equal exactly when every value and its type are (1 and 1.0, 1 and true differ)."""
    return jsoncodec.dumps(_sorted(row))


def _sorted(v):
    if isinstance(v, dict):
        return {k: _sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sorted(x) for x in v]
    return v


def read_back(path: Path) -> list[dict]:
    return [jsoncodec.loads(line) for line in path.read_bytes().splitlines()]


def curate_original(tmp_path: Path, data: Path, **data_section) -> RunFolder:
    raw = {
        "name": "r",
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": str(data), **data_section},
        "curate": {"steps": [], "workers": 1, "output_format": "original"},
    }
    return RunFolder(curate(parse_recipe(raw)).run_dir)


# ---- values written back as they were read ------------------------------------------------------


def test_ids_of_every_kind_are_written_back_as_the_input_had_them(tmp_path):
    """ids "", lists and objects were dropped, numbers became text, duplicates got an @file:line suffix."""
    qa = {"instruction": "q", "output": "a"}
    rows = [
        {"id": "", **qa},
        {"id": [1, 2], **qa},
        {"id": {"k": "v"}, **qa},
        {"id": 7, **qa},
        {"id": 1.5, **qa},
        {"id": True, **qa},
        {"id": None, **qa},
        {"id": "dup", **qa},
        {"id": "dup", **qa},
        qa,
    ]
    run = curate_original(tmp_path, jsonl(tmp_path / "d.jsonl", rows))
    assert [canonical(r) for r in read_back(run.kept)] == [canonical(r) for r in rows]
    ids = [r["id"] for r in read_ledger(run.ledger)]
    assert len(ids) == len(set(ids)) == len(rows)


def test_a_user_id_equal_to_a_generated_one_gives_two_ids_and_two_histories(tmp_path):
    """{"id": "x:2"} on line 1 and no id on line 2 gave two records with one id; explain merged their histories."""
    rows = [
        {"id": "x:2", "instruction": "first", "output": "a"},
        {"instruction": "second", "output": "b"},
        {"id": "x:1", "instruction": "3", "output": "c"},
    ]
    recs = list(read_records(jsonl(tmp_path / "x.jsonl", rows)))
    assert [r.id for r in recs] == ["x:2", "x:2@x:2", "x:1"]
    run = curate_original(tmp_path, tmp_path / "x.jsonl")
    result = runner.invoke(app, ["explain", str(run.root), "x:2"])
    assert result.exit_code == 0 and "line 1" in result.output and result.output.count("=>") == 1
    assert [r.get("id") for r in read_back(run.kept)] == ["x:2", None, "x:1"]


def test_generated_ids_and_input_ids_never_meet_across_files(tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [{"text": "no id"}, {"id": "b:1", "text": "names b's first line"}])
    b = jsonl(
        tmp_path / "b.jsonl", [{"text": "no id"}, {"id": "a:1", "text": "x"}, {"id": "a:01", "text": "y"}, {"id": "a:2", "text": "z"}]
    )
    assert [r.id for r in read_records([a, b])] == [
        "a:1",
        "b:1",
        "b:1@b:1",
        "a:1@b:2",
        "a:01",
        "a:2",
    ]  # a:2 was never generated (line 2 of a has an id)


def test_integers_beyond_64_bits_stay_exact_in_kept_and_original_output(tmp_path):
    """Integers of 2^64 and above became floats in kept.jsonl."""
    big = [2**64, 2**64 + 1, -(2**63) - 1, 10**30]
    rows = [
        {"id": big[0], "instruction": "q", "output": "a", "n": big[1], "nested": {"x": [big[2], big[3]]}},
        {"instruction": "q2", "output": "a2", "n": 2**63},
    ]
    data = jsonl(tmp_path / "d.jsonl", rows)
    assert b"18446744073709551616" in data.read_bytes()
    run = curate_original(tmp_path, data)
    assert [canonical(r) for r in read_back(run.kept)] == [canonical(r) for r in rows]
    native = RunFolder(curate(parse_recipe({"name": "n", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}})).run_dir)
    (first, second) = [r for r in read_records(native.kept)]
    assert first.meta["extra"] == {"n": big[1], "nested": {"x": [big[2], big[3]]}} and first.meta["input_id_value"] == big[0]
    assert type(first.meta["extra"]["n"]) is int and second.meta["extra"]["n"] == 2**63


def test_the_run_carries_big_integers_between_processes_and_passes():
    row = ["id", None, "t", None, None, None, {"extra": {"n": 2**64}}]
    assert jsoncodec.unpack(jsoncodec.pack([row])) == [row]
    assert jsoncodec.unpack(jsoncodec.pack([["id", {"n": 3}]])) == [["id", {"n": 3}]]
    assert jsoncodec.loads(b'{"a": 1.5e300, "b": 18446744073709551616}') == {"a": 1.5e300, "b": 2**64}
    with pytest.raises(ValueError):
        jsoncodec.loads(b'{"a": NaN, "b": 18446744073709551616}')


@pytest.mark.parametrize(
    ("instruction", "inp"),
    [("a\n", "b"), ("a", "\nb"), ("a\n", "\nb"), ("a\n\n", "b"), ("a\n\n\n", "\n\nb\n"), ("x\n\ny", "\n"), ("\n", "\n"), ("a", "")],
)
def test_alpaca_newlines_stay_on_their_side_of_the_field_boundary(tmp_path, instruction, inp):
    rows = [{"instruction": instruction, "input": inp, "output": "o"}]
    run = curate_original(tmp_path, jsonl(tmp_path / "d.jsonl", rows))
    assert read_back(run.kept) == rows


# ---- records that were never read ----------------------------------------------------------------


def test_a_datasets_folder_inside_an_input_folder_is_read_and_its_metadata_is_not(tmp_path):
    """A save_to_disk folder nested in an input folder was skipped (500 records) and its two JSON files became junk drops."""
    import datasets

    folder = tmp_path / "in"
    jsonl(folder / "a.jsonl", [{"instruction": "q", "output": "a"}])
    datasets.Dataset.from_list([{"instruction": f"q{i}", "output": "a"} for i in range(50)]).save_to_disk(str(folder / "deep" / "ds"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "t"}])}).save_to_disk(str(folder / "dd"))
    reader = RecordReader(folder)
    items = list(reader)
    assert not [i for i in items if isinstance(i, Reject)]
    assert len(items) == 52
    assert sorted(reader.formats) == sorted([str(folder / "a.jsonl"), str(folder / "deep" / "ds"), str(folder / "dd")])


def test_a_file_whose_name_holds_brackets_is_a_file_not_a_glob(tmp_path):
    """`data[1].jsonl` was taken for a glob matching nothing (exit 3)."""
    data = jsonl(tmp_path / "data[1].jsonl", [{"instruction": "q", "output": "a"}])
    assert [r.id for r in read_records(str(data))] == ["data[1]:1"]
    result = runner.invoke(
        app, ["curate", str(data), "--runs-dir", str(tmp_path / "runs"), "-s", "curate.steps=[]", "-s", "curate.workers=1"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "data[1]" / "run.json").is_file()


# ---- TSV and CSV quotes --------------------------------------------------------------------------


def _rows(path: Path, delimiter: str = "\t") -> list:
    return list(iter_csv(path, str(path), delimiter))


def test_a_tsv_quote_that_does_not_close_like_a_csv_quote_is_text(tmp_path):
    """A `"` at the start of a TSV field merged the rows after it into one (4,080 rows in, 4,057 out, none reported)."""
    lines = [
        "label\tid\ttext",
        '1\t10\t"the witness", he said',  # a quote that ends before the field does: this file does not quote
        "0\t11\tplain",
        '1\t12\t"Hello',  # opens and never closes on its line
        "0\t13\tnext row",
        '1\t14\tends with a quote"',
        '0\t15\t"quoted whole"',  # text, in a file that does not quote
        '1\t16\t"spans',
        'two lines"',
        "0\t17\tlast",
    ]
    path = tmp_path / "d.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = _rows(path)
    assert [(r.line, r.row["id"], r.row["text"]) for r in rows if r.row] == [
        (2, "10", '"the witness", he said'),
        (3, "11", "plain"),
        (4, "12", '"Hello'),
        (5, "13", "next row"),
        (6, "14", 'ends with a quote"'),
        (7, "15", '"quoted whole"'),
        (8, "16", '"spans'),
        (10, "17", "last"),
    ]
    assert [(r.line, r.problem.reason) for r in rows if not r.row] == [(9, "bad_row")]


def test_a_tsv_that_quotes_like_csv_is_read_with_its_quotes(tmp_path):
    lines = ["id\ttext", '1\t"quoted whole"', '2\t"spans', 'two ""lines"""', '3\tplain with a quote" inside', ""]
    path = tmp_path / "d.tsv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [(r.line, r.row["text"]) for r in _rows(path)] == [
        (2, "quoted whole"),
        (3, 'spans\ntwo "lines"'),
        (5, 'plain with a quote" inside'),
    ]


def test_what_curatune_writes_as_tsv_and_csv_reads_back_the_same(tmp_path):
    texts = ['say "hi"', '"starts', "tab\there", "two\nlines", '"a"\n"b"', "ends\n", "", "\r\n", 'x,"y",z']
    rows = [{"text": t, "label": str(i)} for i, t in enumerate(texts)]
    recs = list(read_records(jsonl(tmp_path / "d.jsonl", rows)))
    for suffix, delimiter in ((".tsv", "\t"), (".csv", ",")):
        out = tmp_path / f"out{suffix}"
        write_records(recs, out, "original")
        back = _rows(out, delimiter)
        assert [r.row["text"] for r in back] == texts
        assert [r.line for r in back] == [2, 3, 4, 5, 7, 9, 11, 12, 14]


def test_mrpc_reads_one_record_per_line(shared_data):
    """The real file of the report: 4,080 rows, each on its own line, none merged and none rejected."""
    path = shared_data / "mrpc_train.tsv"
    rows = _rows(path)
    assert len(rows) == 4080 and all(r.row is not None for r in rows)
    assert [r.line for r in rows] == list(range(2, 4082))
    lines = path.read_text(encoding="utf-8-sig").splitlines()[1:]
    assert ["\t".join(r.row.values()) for r in rows] == lines


# ---- bombs: bounded memory, the over-long record dropped with its reason ----------------------------


def test_an_over_long_jsonl_line_is_dropped_with_its_size_and_the_rest_read(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(orjson.dumps({"text": "before"}) + b"\n")
        f.write(b'{"text": "' + b"a" * 5000 + b'"}\n')
        f.write(orjson.dumps({"text": "after"}) + b"\n")
    items = list(read_records(path, limits=ReadLimits(max_record_bytes=1000)))
    assert [type(i).__name__ for i in items] == ["Record", "Reject", "Record"]
    reject = items[1]
    assert (reject.line, reject.reason) == (2, "too_long") and "5,012 bytes" in reject.detail and "max_record_bytes" in reject.detail
    assert len(reject.raw) < 1100
    assert [items[0].meta["line"], items[2].meta["line"]] == [1, 3]


def test_the_limits_are_recipe_settings_and_reach_the_ledger(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "' + b"a" * 300 + b'"}\n')
    run = curate_original(tmp_path, path, max_record_bytes=100)
    (drop,) = [r for r in read_ledger(run.ledger) if r["action"] == "drop"]
    assert (drop["line"], drop["reason"]) == (2, "too_long")
    stats = orjson.loads(run.stats.read_bytes())
    assert stats["read_problems"] == {"too_long": 1} and stats["kept"] == 1


def test_a_gzip_bomb_line_is_read_past_in_bounded_memory(tmp_path):
    """A 4 MB .jsonl.gz holding one 4 GiB line took over 5 GB of memory (the figure itself: bench/bombs.py)."""
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b'{"text": "')
        block = b"a" * (1 << 20)
        for _ in range(64):
            f.write(block)
        f.write(b'"}\n{"text": "after"}\n')
    tracemalloc.start()
    items = list(read_records(path, limits=ReadLimits(max_record_bytes=1 << 20)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(type(i).__name__, getattr(i, "reason", None)) for i in items] == [("Reject", "too_long"), ("Record", None)]
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MiB for a 64 MiB line"


def test_a_json_array_over_the_whole_file_limit_is_streamed_element_by_element(tmp_path):
    rows = [{"text": f"t{i}", "n": i} for i in range(50)] + [{"text": "x" * 3000}, 5, {"text": "end", "big": 2**64}]
    path = tmp_path / "d.json.gz"
    path.write_bytes(gzip.compress(jsoncodec.dumps(rows, orjson.OPT_INDENT_2)))
    whole = list(read_records(path))
    streamed = list(read_records(path, limits=ReadLimits(max_record_bytes=2000, max_json_bytes=1000)))
    assert [(type(i).__name__, getattr(i, "reason", None)) for i in streamed[-3:]] == [
        ("Reject", "too_long"),
        ("Reject", "not_an_object"),
        ("Record", None),
    ]
    assert [(r.id, r.text, r.meta.get("extra")) for r in streamed if not isinstance(r, Reject)] == [
        (r.id, r.text, r.meta.get("extra")) for r in whole if not isinstance(r, Reject) and len(r.text) < 2000
    ]


def test_the_array_streamer_follows_strings_and_escapes_across_chunks():
    elements = [{"a": 'x",]}[{\\"'}, [1, [2, {"b": "]"}]], "s\\\\", 3.5, {"c": "\\u005d,"}]
    doc = orjson.dumps(elements, option=orjson.OPT_INDENT_2)
    for size in (1, 2, 3, 7, 64, len(doc)):
        chunks = [doc[i : i + size] for i in range(0, len(doc), size)]
        assert [orjson.loads(e) for e in iter_array(chunks, 1000)] == elements
    assert list(iter_array([b" [ ] "], 10)) == []
    assert [e for e in iter_array([b"[1,,2]"], 10)] == [b"1", b"", b"2"]
    assert list(itertools.islice(iter_array([b'[1,"' + b"y" * 50 + b'",2]'], 10), 3)) == [b"1", TooLong(52, b'"' + b"y" * 50 + b'"'), b"2"]
