"""Every format x every file type x every compression: write with fmt="original", read back, same records."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from curatune.curation.read.records import RecordReader, Reject, read_records
from curatune.curation.record import Record
from curatune.curation.write.writers import write_records

# One small dataset per format (or per variant of a format that changes a column's type). Every row
# has an input id, so ids survive any file type; extra fields are strings so that CSV keeps them too.
SAMPLES: dict[str, tuple[str, list[dict]]] = {
    "alpaca": (
        "alpaca",
        [
            {"id": "a1", "instruction": "Name a colour.", "input": "", "output": "Blue.", "category": "open_qa"},
            {
                "id": "a2",
                "instruction": "Translate.\n\nBe literal.",
                "input": "Bonjour\n\nle monde",
                "output": "Hello world",
                "category": "translate",
            },
            {"id": "a3", "instruction": "Say hi", "output": "hi ünïcödé 日本", "category": "chat"},
        ],
    ),
    "sharegpt": (
        "sharegpt",
        [
            {
                "id": "s1",
                "system": "Be brief.",
                "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
                "topic": "greet",
            },
            {
                "id": "s2",
                "conversations": [
                    {"from": "user", "value": "2+2?"},
                    {"from": "assistant", "value": "4", "weight": 1},
                    {"from": "user", "value": "and 3+3?"},
                    {"from": "assistant", "value": "6", "weight": 0},
                ],
                "topic": "math",
            },
            {
                "id": "s3",
                "conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
                "topic": "other",
            },
        ],
    ),
    "messages": (
        "messages",
        [
            {
                "id": "m1",
                "messages": [
                    {"role": "system", "content": "You help."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hey"},
                ],
                "split": "train",
            },
            {
                "id": "m2",
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": "calling", "name": "bot"},
                    {"role": "tool", "content": "sunny"},
                    {"role": "assistant", "content": "It is sunny."},
                ],
                "split": "test",
            },
        ],
    ),
    "prompt_completion": (
        "prompt_completion",
        [
            {"id": "p1", "prompt": "The sky is", "completion": " blue.", "src": "x"},
            {"id": "p2", "prompt": "[not a list] 1+1=", "completion": "2", "src": "y"},
        ],
    ),
    "preference_str": (
        "preference",
        [
            {"id": "d1", "prompt": "Best fruit?", "chosen": "Mango.", "rejected": "Rocks.", "judge": "h"},
            {"id": "d2", "prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon", "judge": "m"},
        ],
    ),
    "preference_trl": (
        "preference",
        [
            {
                "id": "t1",
                "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}],
                "chosen": [{"role": "assistant", "content": "Hello, friend."}],
                "rejected": [{"role": "assistant", "content": "Go away."}],
                "judge": "h",
            },
            {
                "id": "t2",
                "prompt": [{"role": "user", "content": "2+2"}],
                "chosen": [{"role": "assistant", "content": "4"}],
                "rejected": [{"role": "assistant", "content": "5"}],
                "judge": "m",
            },
        ],
    ),
    "preference_mixed": (
        "preference",
        [
            {
                "id": "t3",
                "prompt": "Hi",
                "chosen": [{"role": "gpt", "content": "Hello.", "weight": "1"}],
                "rejected": "Bye.",
                "judge": "h",
            },
        ],
    ),
    "preference_implicit_text": (
        "preference_implicit",
        [
            {
                "id": "h1",
                "chosen": "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?",
                "rejected": "\n\nHuman: Hi there\n\nAssistant: Go.",
                "judge": "h",
            },
            {"id": "h2", "chosen": "The cat sat.", "rejected": "The car sat.", "judge": "m"},
        ],
    ),
    "preference_implicit_messages": (
        "preference_implicit",
        [
            {
                "id": "h3",
                "chosen": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "4"},
                ],
                "rejected": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "5"},
                ],
            },
        ],
    ),
    "unpaired": (
        "unpaired",
        [
            {"id": "k1", "prompt": "Hi", "completion": "Hello!", "label": True, "judge": "h"},
            {"id": "k2", "prompt": "Hi", "completion": "Go away.", "label": False, "judge": "m"},
        ],
    ),
    "unpaired_messages": (
        "unpaired",
        [
            {
                "id": "k3",
                "prompt": [{"role": "user", "content": "Hi"}],
                "completion": [{"role": "assistant", "content": "Hello!"}],
                "label": False,
            },
            {
                "id": "k4",
                "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}],
                "completion": [{"role": "assistant", "content": "Hello, friend!"}],
                "label": True,
            },
        ],
    ),
    "argilla": (
        "argilla",
        [{"id": "g1", "instruction": "Name a fruit.", "chosen_response": "Mango.", "rejected_response": "Rock.", "source": "s"}],
    ),
    "intel": (
        "intel",
        [
            {"id": "o1", "system": "", "question": "Q one", "chosen": "A", "rejected": "B"},
            {"id": "o2", "system": "Be kind.", "question": "Q two", "chosen": "C", "rejected": "D"},
        ],
    ),
    "alpaca_pairs": (
        "alpaca_pairs",
        [
            {"id": "ap1", "instruction": "Translate.", "input": "Bonjour\n\nle monde", "chosen": "Hello world", "rejected": "Bye"},
            {"id": "ap2", "instruction": "Say hi", "chosen": "hi", "rejected": "no"},
        ],
    ),
    "sharegpt_pairs": (
        "sharegpt_pairs",
        [
            {
                "id": "sp1",
                "conversations": [{"from": "human", "value": "Hi"}],
                "chosen": {"from": "gpt", "value": "Hello!"},
                "rejected": {"from": "gpt", "value": "No."},
            },
            {
                "id": "sp2",
                "system": "Be brief.",
                "conversations": [{"from": "human", "value": "2+2?"}],
                "chosen": {"from": "gpt", "value": "4"},
                "rejected": {"from": "assistant", "value": "5"},
            },
        ],
    ),
    "scored": (
        "scored",
        [
            {
                "id": "u1",
                "instruction": "Q?",
                "completions": [
                    {"model": "a", "response": "good", "overall_score": 8.5},
                    {"model": "b", "response": "bad", "overall_score": 3.0},
                    {"model": "c", "response": "meh", "overall_score": 5.0},
                ],
                "source": "x",
            },
        ],
    ),
    "scored_lists": (
        "scored",
        [{"id": "u2", "prompt": "Q2?", "responses": ["x", "y", "z"], "scores": [1.0, 3.0, 2.0]}],
    ),
    "labelled_str": (
        "labelled",
        [
            {"id": "l1", "text": "great film", "label": "pos", "lang": "en"},
            {"id": "l2", "text": "awful, 1/10", "label": "neg", "lang": "en"},
        ],
    ),
    "labelled_int": (
        "labelled",
        [
            {"id": "i1", "text": "great film", "label": 1, "lang": "en"},
            {"id": "i2", "text": "sehr schlecht", "label": 0, "lang": "de"},
        ],
    ),
    "text": (
        "text",
        [
            {"id": "x1", "text": "Once upon a time.", "url": "http://a"},
            {"id": "x2", "text": 'Line one\nline two, with a comma\tand a tab "quoted"', "url": "http://b"},
        ],
    ),
}


def native_records() -> list[Record]:
    """curatune-native records of every kind in one file, with scores in meta."""
    return [
        Record(
            "n1",
            messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            meta={"format": "curatune", "scores": {"q": 0.5}},
        ),
        Record("n2", text="plain text", meta={"format": "curatune"}),
        Record("n3", text="labelled", label="pos", meta={"format": "curatune"}),
        Record("n4", messages=[{"role": "user", "content": "p"}], chosen="c", rejected="r", meta={"format": "curatune"}),
        # KTO examples (one side), and a pair with an empty side: in CSV the empty cell must not turn one into the other.
        Record("n5", messages=[{"role": "user", "content": "p"}], chosen="c", meta={"format": "unpaired"}),
        Record("n6", messages=[{"role": "user", "content": "p"}], rejected="r", meta={"format": "unpaired"}),
        Record("n7", messages=[{"role": "user", "content": "p"}], chosen="", rejected="r", meta={"format": "curatune"}),
    ]


FILE_CASES = [(t, c) for t in ("jsonl", "json", "csv", "tsv") for c in ("", ".gz", ".zst")] + [("parquet", ""), ("hf", "")]
FLAT = ("csv", "tsv")  # file types that hold only strings: types of extra fields and absent-vs-empty are lost
# Samples whose fields are objects or lists of plain values: a CSV cell holds them as JSON text, and only lists of
# turns are decoded back (a text that merely looks like JSON must stay text). Written as JSON, Parquet or datasets.
NOT_FLAT = ("sharegpt_pairs", "scored_lists")


def _target(tmp_path: Path, file_type: str, comp: str) -> tuple[Path, str | None]:
    if file_type == "hf":
        return tmp_path / "out_hf", "hf"
    return tmp_path / f"out.{file_type}{comp}", None


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _records(inputs, **kw) -> list[Record]:
    items = list(read_records(inputs, **kw))
    rejects = [i for i in items if isinstance(i, Reject)]
    assert not rejects, rejects
    return items


def _key(rec: Record, flat: bool) -> tuple:
    content = (rec.id, rec.messages, rec.text, rec.label, rec.chosen, rec.rejected)
    if flat:
        return content + (rec.meta.get("format"), rec.meta.get("extra"))
    meta = {k: v for k, v in rec.meta.items() if k not in ("source", "line")}
    return content + (meta,)


def _originals(tmp_path: Path, sample: str) -> tuple[str, list[Record]]:
    if sample == "curatune":
        return "curatune", native_records()
    fmt, rows = SAMPLES[sample]
    recs = _records(_write_jsonl(tmp_path / "src.jsonl", rows))
    return fmt, recs


@pytest.mark.parametrize("file_type,comp", FILE_CASES, ids=[f"{t}{c}" for t, c in FILE_CASES])
@pytest.mark.parametrize("sample", [*SAMPLES, "curatune"])
def test_round_trip(tmp_path, sample, file_type, comp):
    if sample in NOT_FLAT and file_type in FLAT:
        pytest.skip(f"{sample} holds objects in a field: not a CSV format")
    fmt, originals = _originals(tmp_path, sample)
    target, forced = _target(tmp_path, file_type, comp)
    # Native records keep the format they came from in meta (n5, n6: KTO examples); "original" would write them as that.
    out_fmt = "curatune" if sample == "curatune" else "original"
    assert write_records(originals, target, fmt=out_fmt, file_type=forced) == len(originals)
    reader = RecordReader(target)
    back = _records_from(reader)
    flat = file_type in FLAT
    assert [_key(r, flat) for r in back] == [_key(r, flat) for r in originals]
    assert set(reader.formats.values()) == {fmt}
    # Records carry where they came from: the file, and its line (CSV: the header is line 1, and a
    # row whose cells hold newlines spans several lines, so only the first row's line is fixed).
    assert all(r.meta["source"] == str(target) for r in back)
    lines = [r.meta["line"] for r in back]
    if flat:
        assert lines[0] == 2 and lines == sorted(set(lines))
    else:
        assert lines == list(range(1, len(back) + 1))


def _records_from(reader: RecordReader) -> list[Record]:
    items = list(reader)
    assert not [i for i in items if isinstance(i, Reject)]
    return items


def test_round_trip_is_exact_json(tmp_path):
    """Writing JSONL in the original format gives the input rows back, field for field."""
    for name, (_, rows) in SAMPLES.items():
        recs = _records(_write_jsonl(tmp_path / f"{name}.jsonl", rows))
        write_records(recs, tmp_path / f"{name}.out.jsonl", fmt="original")
        back = [orjson.loads(line) for line in (tmp_path / f"{name}.out.jsonl").read_bytes().splitlines()]
        assert back == rows, name


@pytest.mark.parametrize("sample", [*SAMPLES, "curatune"])
def test_write_as_chat_messages(tmp_path, sample):
    _, originals = _originals(tmp_path, sample)
    # An undesirable KTO completion has no answer to learn from: it cannot be a chat record (tests/curation/pairs).
    originals = [r for r in originals if not (r.unpaired and r.chosen is None)]
    write_records(originals, tmp_path / "chat.jsonl.zst", fmt="messages")
    reader = RecordReader(tmp_path / "chat.jsonl.zst")
    back = _records_from(reader)
    assert reader.formats == {str(tmp_path / "chat.jsonl.zst"): "messages"}
    assert [r.id for r in back] == [r.id for r in originals]
    for orig, rec in zip(originals, back):
        if orig.kind == "chat":
            assert rec.messages == orig.messages
        elif orig.kind == "preference":  # the prompt and the chosen answer
            assert rec.messages == [*orig.messages, {"role": "assistant", "content": orig.chosen}]
        elif orig.kind == "labelled":
            assert rec.messages == [{"role": "user", "content": orig.text}, {"role": "assistant", "content": orig.label}]
        else:
            assert rec.messages == [{"role": "user", "content": orig.text}]
        assert rec.meta.get("extra") == orig.meta.get("extra")


def test_messages_rows_exact(tmp_path):
    """A ShareGPT record as chat JSONL: standard roles (not 'human'/'gpt'), the system turn first, extras kept."""
    _, recs = _originals(tmp_path, "sharegpt")
    write_records(recs, tmp_path / "c.jsonl", fmt="messages")
    first = orjson.loads((tmp_path / "c.jsonl").read_bytes().splitlines()[0])
    assert first == {
        "id": "s1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
        ],
        "topic": "greet",
    }
