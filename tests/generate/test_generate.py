"""The noisy-data generator: determinism, ground truth that matches the file, and defects that are what they claim."""

from __future__ import annotations

import re
from collections import Counter

import ftfy
import numpy as np
import orjson
import pytest
import scipy.sparse as sp

from curatune.curation.read.records import RecordReader, Reject
from curatune.errors import RecipeError
from curatune.generate import (
    DEFECTS,
    MALFORMED_REASONS,
    generate_noisy,
    iban_ok,
    item_text,
    jaccard,
    luhn_ok,
    make_noisy_rows,
    shingles,
    truth_path_for,
)
from curatune.generate.compose import vocab

FORMATS = ("alpaca", "sharegpt", "messages")


def _truth(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _item(row: dict) -> dict[str, str]:
    """A row of any of the three formats back as instruction/input/output."""
    if "instruction" in row:
        return {"instruction": row["instruction"], "input": row["input"], "output": row["output"]}
    turns = row.get("messages") or row.get("conversations")
    user, answer = (t.get("content", t.get("value")) for t in turns)
    instruction, _, inp = user.partition("\n\n")
    return {"instruction": instruction, "input": inp, "output": answer}


@pytest.fixture(scope="module")
def alpaca_rows():
    return make_noisy_rows(3000, 0.3, seed=7, fmt="alpaca")


def _by_defect(rows, defect):
    lines, truth = rows
    return [(t, lines[t["line"] - 1]) for t in truth if t["defect"] == defect]


# ---- files, truth, determinism --------------------------------------------------------------


def test_same_arguments_give_identical_bytes(tmp_path):
    a = generate_noisy(tmp_path / "a" / "noisy.jsonl", n=1500, defect_rate=0.3, seed=3)
    b = generate_noisy(tmp_path / "b" / "noisy.jsonl", n=1500, defect_rate=0.3, seed=3)
    c = generate_noisy(tmp_path / "c" / "noisy.jsonl", n=1500, defect_rate=0.3, seed=4)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.truth_path.read_bytes() == b.truth_path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()


def test_truth_has_one_entry_per_line_and_counts_match(tmp_path):
    s = generate_noisy(tmp_path / "demo" / "noisy.jsonl", n=2400, defect_rate=0.25, seed=1)
    assert s.truth_path == tmp_path / "demo" / "noisy.truth.jsonl"
    truth = _truth(s.truth_path)
    assert len(s.path.read_bytes().splitlines()) == len(truth) == s.n_lines == 2400
    assert [t["line"] for t in truth] == list(range(1, 2401))
    assert set(truth[0]) == {"line", "id", "defect", "duplicate_of", "detail"}
    assert dict(Counter(t["defect"] for t in truth)) == {k: v for k, v in s.counts.items() if v}
    assert s.counts["clean"] == 2400 - 600
    planted = [s.counts[d] for d in DEFECTS]
    assert max(planted) - min(planted) <= 1, s.counts  # equal shares, all 12 types
    for t in truth:
        if t["defect"] != "malformed":
            assert t["id"] == f"gen-{t['line']:06d}"


def test_truth_path_strips_every_suffix():
    assert truth_path_for("demo/noisy.jsonl").as_posix() == "demo/noisy.truth.jsonl"
    assert truth_path_for("out/data.jsonl.zst").as_posix() == "out/data.truth.jsonl"


@pytest.mark.parametrize("fmt", FORMATS)
def test_reader_reports_every_planted_malformed_line_and_reads_the_rest(tmp_path, fmt):
    s = generate_noisy(tmp_path / f"noisy_{fmt}.jsonl", n=1500, defect_rate=0.4, fmt=fmt, seed=2)
    truth = _truth(s.truth_path)
    reader = RecordReader(s.path)
    items = list(reader)
    assert reader.formats[str(s.path)] == fmt
    assert len(items) == len(truth)
    for t, got in zip(truth, items):
        if t["defect"] == "malformed":
            assert isinstance(got, Reject), t
            assert (got.line, got.reason) == (t["line"], t["detail"]), (t, got)
        else:
            assert not isinstance(got, Reject), (t, got)
            assert got.id == t["id"]
            assert got.meta["line"] == t["line"]
    planted = {t["detail"] for t in truth if t["defect"] == "malformed"}
    assert planted == set(MALFORMED_REASONS[fmt])


@pytest.mark.parametrize("name", ["noisy.csv", "noisy.parquet", "noisy.json.gz", "noisy.jsonl.zst"])
def test_other_file_types_read_back_with_ids(tmp_path, name):
    s = generate_noisy(tmp_path / name, n=400, defect_rate=0.3, fmt="sharegpt", seed=5)
    truth = _truth(s.truth_path)
    reader = RecordReader(s.path)
    items = list(reader)
    assert reader.formats[str(s.path)] == "sharegpt"
    jsonl = name.startswith("noisy.jsonl")
    assert (s.counts["malformed"] > 0) == jsonl
    assert bool(s.notes) != jsonl
    expected = [t["id"] for t in truth if t["defect"] != "malformed"]
    assert [r.id for r in items if not isinstance(r, Reject)] == expected


def test_bad_arguments_name_the_parameter(tmp_path):
    with pytest.raises(RecipeError, match="fmt"):
        make_noisy_rows(10, fmt="dolly")
    with pytest.raises(RecipeError, match="defect_rate"):
        make_noisy_rows(10, defect_rate=1.5)
    with pytest.raises(RecipeError, match="noisy.txt"):
        generate_noisy(tmp_path / "noisy.txt", n=10)


def test_extreme_rates():
    _, truth = make_noisy_rows(200, 0.0, seed=0)
    assert {t["defect"] for t in truth} == {"clean"}
    _, truth = make_noisy_rows(200, 1.0, seed=0)
    kinds = Counter(t["defect"] for t in truth)
    assert "clean" not in kinds and "exact_duplicate" not in kinds and "near_duplicate" not in kinds
    assert sum(kinds.values()) == 200


# ---- the defects are what the truth says ---------------------------------------------------


def test_duplicates_point_at_earlier_clean_records(alpaca_rows):
    lines, truth = alpaca_rows
    by_id = {t["id"]: (t, lines[t["line"] - 1]) for t in truth}
    exact = _by_defect(alpaca_rows, "exact_duplicate")
    near = _by_defect(alpaca_rows, "near_duplicate")
    assert exact and near
    for t, row in exact + near:
        ot, orow = by_id[t["duplicate_of"]]
        assert ot["defect"] == "clean" and ot["line"] < t["line"]
        content, original = {k: v for k, v in row.items() if k != "id"}, {k: v for k, v in orow.items() if k != "id"}
        if t["defect"] == "exact_duplicate":
            assert orjson.dumps(content) == orjson.dumps(original)
        else:
            assert content != original
            j = jaccard(shingles(item_text(_item(orow))), shingles(item_text(_item(row))))
            assert 0.75 <= j <= 0.95, (j, t)
            assert f"jaccard5={j:.3f}" in t["detail"]


def test_answers_without_content(alpaca_rows):
    placeholders = set(vocab()["defects"]["placeholders"])
    for _, row in _by_defect(alpaca_rows, "empty_answer"):
        assert row["output"].strip() == ""
    for t, row in _by_defect(alpaca_rows, "placeholder_answer"):
        assert row["output"] in placeholders and t["detail"] == row["output"]
    for t, row in _by_defect(alpaca_rows, "truncated_answer"):
        assert row["output"] and row["output"][-1] not in ".!?:;,"
        if "unclosed code fence" in t["detail"]:
            assert row["output"].count("```") % 2 == 1
    for t, row in _by_defect(alpaca_rows, "refusal"):
        assert row["output"].startswith(t["detail"])


def test_mojibake_is_reversible_by_ftfy(alpaca_rows):
    rows = _by_defect(alpaca_rows, "mojibake")
    assert rows
    for t, row in rows:
        codec, fields = t["detail"].split(": ")
        for field in fields.split(", "):
            bad = row[field]
            fixed = ftfy.fix_encoding(bad)
            assert fixed != bad and any(ord(c) > 127 for c in fixed)
            assert fixed.encode("utf-8").decode(codec) == bad  # exactly the damage that was planted
            assert ftfy.fix_text(bad) == ftfy.fix_text(fixed)


def test_ocr_noise_and_toxic_words(alpaca_rows):
    for t, _row in _by_defect(alpaca_rows, "ocr_noise"):
        assert sum(int(n) for n in re.findall(r"x(\d+)", t["detail"])) >= 3
    for t, row in _by_defect(alpaca_rows, "toxic"):
        for word in t["detail"].split(","):
            assert re.search(rf"\b{word}\b", row["output"])


_CARD = re.compile(r"\b\d{4}[ -]?\d{4,6}[ -]?\d{4,5}(?:[ -]?\d{4})?\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
_PII_PATTERNS = {
    "email": re.compile(r"[\w.]+@[\w-]+\.\w+"),
    "ipv4": re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"),
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "phone": re.compile(r"(?:\+\d{1,2} )?(?:\(\d{3}\) |\d{2,4}[ -])\d{3,4}[ -]\d{4,6}\b"),
    "api_key": re.compile(r"\b(?:sk-[A-Za-z0-9]{20,}|AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36})\b"),
    "credit_card": _CARD,
    "iban": _IBAN,
}


def test_pii_values_are_valid_and_only_where_planted(alpaca_rows):
    lines, truth = alpaca_rows
    seen = Counter()
    for t, row in zip(truth, lines):
        if t["defect"] == "malformed":
            continue
        text = item_text(_item(row))
        if t["defect"] == "pii":
            kinds = t["detail"].split(",")
            for kind in kinds:
                # An IBAN holds digit groups that look like a card number: look for cards outside IBANs.
                found = _PII_PATTERNS[kind].findall(_IBAN.sub(" ", text) if kind == "credit_card" else text)
                assert found, (kind, text)
                seen[kind] += 1
                if kind == "credit_card":
                    assert all(luhn_ok(c) for c in found), found
                if kind == "iban":
                    assert all(iban_ok(c) for c in found), found
        elif t["defect"] in ("clean", "exact_duplicate", "near_duplicate"):
            for kind, pattern in _PII_PATTERNS.items():
                assert not pattern.search(text), (kind, t, text)
    assert set(seen) == set(_PII_PATTERNS)


# ---- clean records -------------------------------------------------------------------------


def test_clean_records_look_like_clean_software_help(alpaca_rows):
    lines, truth = alpaca_rows
    d = vocab()["defects"]
    bad_words = re.compile(r"\b(" + "|".join(d["toxic_nouns"] + d["toxic_adjs"]) + r")\b", re.I)
    refusals = [r.split(",")[0].lower() for r in d["refusal_open"]] + ["as an ai", "i cannot", "i can't"]
    clean = [lines[t["line"] - 1] for t in truth if t["defect"] == "clean"]
    with_input = sum(1 for r in clean if r["input"])
    assert 0.2 < with_input / len(clean) < 0.4
    assert sum(1 for r in clean if any(ord(c) > 127 for c in r["output"])) > len(clean) * 0.2
    for r in clean:
        out = r["output"]
        assert out[-1] in ".!?", out
        assert out.count("```") % 2 == 0
        assert not re.search(r"\{[a-z_]+\}", r["instruction"] + out), r  # every slot filled
        assert not bad_words.search(out), out
        low = out.lower()
        assert not any(p in low for p in refusals), out


def test_clean_records_are_far_from_each_other():
    lines, truth = make_noisy_rows(2500, 0.2, seed=0)
    clean = [_item(lines[t["line"] - 1]) for t in truth if t["defect"] == "clean"]
    assert len(clean) == 2000
    sets = [shingles(item_text(it)) for it in clean]
    index: dict[tuple, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for g in s:
            rows.append(i)
            cols.append(index.setdefault(g, len(index)))
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), len(index)))
    inter = (m @ m.T).toarray()
    sizes = np.array([len(s) for s in sets], dtype=np.float32)
    jac = inter / (sizes[:, None] + sizes[None, :] - inter)
    np.fill_diagonal(jac, 0)
    assert jac.max() < 0.5, jac.max()
    assert np.quantile(jac[np.triu_indices(len(sets), 1)], 0.999) < 0.3
