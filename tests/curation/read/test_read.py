"""Reading inputs: globs, folders, lists, ids; bad rows become exact ledger entries; bad files raise InputError."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from curatune.config.recipe import parse_recipe
from curatune.curation.read.records import RecordReader, Reject, read_records
from curatune.errors import InputError
from curatune.stages.curate import curate


def jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def alpaca(i: int) -> dict:
    return {"instruction": f"question {i}", "output": f"answer {i}"}


def ids(items) -> list[str]:
    return [i.id for i in items]


# ---- inputs and ids ------------------------------------------------------------------------


def test_generated_ids_are_stem_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(orjson.dumps(alpaca(1)) + b"\n\n" + orjson.dumps(alpaca(2)) + b"\n")
    recs = list(read_records(path))
    assert ids(recs) == ["train:1", "train:3"]  # the blank line 2 is skipped, not counted
    assert [r.meta["line"] for r in recs] == [1, 3]
    assert "input_id" not in recs[0].meta


def test_input_ids_and_duplicates_stay_unique_and_traceable(tmp_path):
    rows = [{"id": "x", **alpaca(1)}, {"id": 7, **alpaca(2)}, {"id": "x", **alpaca(3)}, {"id": "", **alpaca(4)}, alpaca(5)]
    path = jsonl(tmp_path / "d.jsonl", rows)
    reader = RecordReader(path)
    recs = list(reader)
    assert ids(recs) == ["x", "7", "x@d:3", "d:4", "d:5"]
    assert [r.meta.get("input_id", False) for r in recs] == [True, True, True, True, False]
    # The id as the input had it, where curatune's differs: written back by output_format: original.
    assert [r.meta.get("input_id_value", "-") for r in recs] == ["-", 7, "x", "", "-"]
    # A second pass over the same reader gives the same ids (no "@" for ids it saw the first time).
    assert ids(reader) == ids(recs)


def test_other_id_field(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", [{"uid": "u1", **alpaca(1)}, alpaca(2)])
    assert ids(read_records(path, id_field="uid")) == ["u1", "d:2"]


def test_glob_folder_and_list(tmp_path):
    jsonl(tmp_path / "data" / "a.jsonl", [alpaca(1), alpaca(2)])
    jsonl(tmp_path / "data" / "b.jsonl", [alpaca(3)])
    (tmp_path / "data" / "notes.txt").write_text("not data")  # ignored in a folder and by a glob
    jsonl(tmp_path / "data" / "sub" / "c.jsonl", [alpaca(4)])
    assert ids(read_records(str(tmp_path / "data" / "*.jsonl"))) == ["a:1", "a:2", "b:1"]
    assert ids(read_records(tmp_path / "data")) == ["a:1", "a:2", "b:1", "c:1"]  # folders are read recursively
    assert ids(read_records([tmp_path / "data" / "b.jsonl", str(tmp_path / "data" / "a.jsonl")])) == ["b:1", "a:1", "a:2"]
    assert ids(read_records(str(tmp_path / "data" / "**" / "*.jsonl"))) == ["a:1", "a:2", "b:1", "c:1"]


def test_a_file_named_twice_is_read_once(tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [alpaca(1)])
    assert ids(read_records([a, str(tmp_path / "*.jsonl"), tmp_path])) == ["a:1"]


def test_same_stem_in_two_folders_gets_distinct_ids(tmp_path):
    one = jsonl(tmp_path / "one" / "train.jsonl", [alpaca(1)])
    two = jsonl(tmp_path / "two" / "train.jsonl.gz", [])
    two.write_bytes(gzip.compress(orjson.dumps(alpaca(2)) + b"\n"))
    recs = list(read_records([one, two]))
    assert ids(recs) == [f"{one}:1", f"{two}:1"]
    assert [r.meta["source"] for r in recs] == [str(one), str(two)]


def test_forced_format_and_bom(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps({"prompt": "p", "completion": "c", "text": "t"}) + b"\n")
    (rec,) = read_records(path, fmt="prompt_completion")
    assert rec.messages == [{"role": "user", "content": "p"}, {"role": "assistant", "content": "c"}]
    assert rec.meta["extra"] == {"text": "t"}
    (rec,) = read_records(path, fmt="text")
    assert rec.text == "t" and rec.meta["extra"] == {"prompt": "p", "completion": "c"}


def test_json_variants(tmp_path):
    (tmp_path / "wrapped.json").write_bytes(orjson.dumps({"data": [alpaca(1), alpaca(2)]}))
    assert ids(read_records(tmp_path / "wrapped.json")) == ["wrapped:1", "wrapped:2"]
    (tmp_path / "lines.json").write_bytes(orjson.dumps(alpaca(1)) + b"\n" + orjson.dumps(alpaca(2)) + b"\n")
    assert ids(read_records(tmp_path / "lines.json")) == ["lines:1", "lines:2"]  # JSON Lines named .json
    (tmp_path / "one.json").write_bytes(
        orjson.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    )
    (rec,) = read_records(tmp_path / "one.json")  # one record, not a wrapper around a list of turns
    assert rec.messages[1] == {"role": "assistant", "content": "a"}


# ---- bad rows: exact ledger entries ----------------------------------------------------------


def _bad_inputs(d: Path) -> tuple[list[Path], dict]:
    """Files with planted bad rows; returns them and the ``(source, line) -> reason`` they must give."""
    a = d / "inst.jsonl"
    lines = [
        orjson.dumps(alpaca(1)),  # 1 ok
        b"",  # 2 blank: skipped, not counted
        b'{"instruction": "broken", ',  # 3
        b'{"instruction": "\xff\xfe bad bytes", "output": "x"}',  # 4
        b"[1, 2, 3]",  # 5
        orjson.dumps({"instruction": "no output"}),  # 6
        orjson.dumps({"instruction": 5, "output": "y"}),  # 7
        b"   ",  # 8 whitespace only: skipped
        orjson.dumps(alpaca(2)),  # 9 ok
    ]
    a.write_bytes(b"\n".join(lines) + b"\n")
    m = d / "chat.jsonl"
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    jsonl(
        m,
        [
            {"messages": turns},  # 1 ok
            {"messages": []},  # 2
            {"messages": [{"role": "narrator", "content": "x"}]},  # 3
            {"messages": "not a list"},  # 4
            {"messages": turns, "extra": 1},  # 5 ok
        ],
    )
    c = d / "table.csv"
    c.write_text('instruction,output\n"q1","a1"\n"q2","a2",surplus\n"q3","a3"\n', encoding="utf-8")
    expected = {
        (str(a), 3): "bad_json",
        (str(a), 4): "invalid_utf8",
        (str(a), 5): "not_an_object",
        (str(a), 6): "missing_field",
        (str(a), 7): "wrong_type",
        (str(m), 2): "empty_messages",
        (str(m), 3): "unknown_role",
        (str(m), 4): "wrong_type",
        (str(c), 3): "bad_row",
    }
    return [a, m, c], expected


def test_bad_rows_become_exact_ledger_entries(tmp_path):
    files, expected = _bad_inputs(tmp_path)
    recipe = parse_recipe(
        {
            "name": "bad",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"path": [str(f) for f in files]},
            "curate": {"steps": [], "workers": 1},
        }
    )
    result = curate(recipe)
    ledger = pq.read_table(result.run_dir / "ledger.parquet").to_pylist()
    drops = {(r["source"], r["line"]): r["reason"] for r in ledger if r["action"] == "drop"}
    assert drops == expected
    for r in ledger:
        if r["action"] == "drop":
            assert r["step"] == "read"
            assert r["id"] == f"{Path(r['source']).name.split('.')[0]}:{r['line']}"
            assert "Fix:" in r["detail"]
    kept = [(r["source"], r["line"]) for r in ledger if r["action"] == "keep"]
    a, m, c = (str(f) for f in files)
    assert kept == [(a, 1), (a, 9), (m, 1), (m, 5), (c, 2), (c, 4)]
    assert all(r["step"] == "output" for r in ledger if r["action"] == "keep")
    # input = kept + dropped, in the stats and in the ledger (one keep or drop row per input record)
    stats = result.stats
    assert (stats["input"], stats["kept"], stats["dropped"]) == (15, 6, 9)
    assert len(ledger) == stats["input"]
    assert stats["read_problems"] == {
        "wrong_type": 2,
        "bad_json": 1,
        "invalid_utf8": 1,
        "not_an_object": 1,
        "missing_field": 1,
        "empty_messages": 1,
        "unknown_role": 1,
        "bad_row": 1,
    }
    # Dropped rows are kept whole, with their raw text, so nothing is lost.
    dropped = [orjson.loads(line) for line in (result.run_dir / "data" / "dropped.jsonl").read_bytes().splitlines()]
    assert {d["id"] for d in dropped} == {f"{Path(s).name.split('.')[0]}:{n}" for s, n in expected}
    bad_json = next(d for d in dropped if d["id"] == "inst:3")
    assert bad_json["raw"] == '{"instruction": "broken", '
    assert bad_json["dropped"]["reason"] == "bad_json"


def test_reject_detail_names_field_and_fix(tmp_path):
    path = jsonl(tmp_path / "c.jsonl", [{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 3}]}])
    (rej,) = read_records(path)
    assert isinstance(rej, Reject)
    assert (rej.id, rej.reason, rej.line) == ("c:1", "wrong_type", 1)
    assert (
        rej.detail
        == "field 'messages[1].content': 'messages[1].content' must be a string, got int. Fix: a field has the wrong type; make it the type named"  # noqa: E501 (the message as the user reads it)
    )


# ---- whole files that cannot be read ---------------------------------------------------------


def test_missing_path(tmp_path):
    (tmp_path / "real.jsonl").write_text("")
    with pytest.raises(InputError) as e:
        RecordReader(tmp_path / "reel.jsonl")
    assert "reel.jsonl' does not exist" in str(e.value) and "real.jsonl" in str(e.value)


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(InputError, match="matches no data file"):
        RecordReader(str(tmp_path / "*.jsonl"))


def test_unknown_extension_fails_before_reading(tmp_path):
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(InputError) as e:
        RecordReader(tmp_path / "data.txt")
    assert "data.txt" in str(e.value) and "--file-type" in str(e.value)


def test_invalid_json_array(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"instruction": "a", "output": "b"},\n {"instruction": ')
    with pytest.raises(InputError) as e:
        list(read_records(path))
    assert str(path) in str(e.value) and "rename it to .jsonl" in str(e.value)


def test_corrupt_compressed_file(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(orjson.dumps(alpaca(1)) + b"\n" * 10)[:-12] + b"garbage")
    with pytest.raises(InputError) as e:
        list(read_records(path))
    assert str(path) in str(e.value) and "gzip -t" in str(e.value)
    zst = tmp_path / "d.jsonl.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    with pytest.raises(InputError, match="zstd -t"):
        list(read_records(zst))


def test_zstd_frames(tmp_path):
    """Several zstd frames (pzstd, concatenated files) are all read; a truncated one is an error, not an early end."""
    import zstandard

    frame = zstandard.ZstdCompressor().compress(b"".join(orjson.dumps(alpaca(i)) + b"\n" for i in range(50)))
    (tmp_path / "two.jsonl.zst").write_bytes(frame + frame)
    assert len(list(read_records(tmp_path / "two.jsonl.zst"))) == 100
    (tmp_path / "cut.jsonl.zst").write_bytes(frame + frame[: len(frame) // 2])
    with pytest.raises(InputError, match="truncated"):
        list(read_records(tmp_path / "cut.jsonl.zst"))


def test_unreadable_file(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = jsonl(tmp_path / "secret.jsonl", [alpaca(1)])
    path.chmod(0)
    with pytest.raises(InputError, match="secret.jsonl"):
        list(read_records(path))


def test_datasets_folder_with_splits(tmp_path):
    import datasets

    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list([alpaca(1), alpaca(2)]), "test": datasets.Dataset.from_list([{"id": "t1", **alpaca(3)}])}
    )
    dd.save_to_disk(str(tmp_path / "ds"))
    recs = list(read_records(tmp_path / "ds"))
    assert ids(recs) == ["ds/train:1", "ds/train:2", "t1"]
    assert [r.meta["source"] for r in recs] == [f"{tmp_path / 'ds'}/train", f"{tmp_path / 'ds'}/train", f"{tmp_path / 'ds'}/test"]
