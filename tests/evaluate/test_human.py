"""Blind side-by-side sheets: export, fill programmatically, import; the key unblinds exactly what was judged."""

from __future__ import annotations

import csv
import re

import orjson
import pytest

from curatune.errors import InputError
from curatune.evaluate import export_sheet, import_judgments, wilson_interval

SYSTEMS = ("sys-alpha", "sys-beta")


def make_items(n: int = 10) -> list[dict]:
    items = [
        {
            "id": f"q{i}",
            "prompt": f"Question number {i}?",
            "answers": {"sys-alpha": f"first system says {i}", "sys-beta": f"second system says {i}"},
        }
        for i in range(n)
    ]
    if n >= 6:
        items[3]["prompt"] = "A prompt\nover three\nlines"  # a row that spans several lines of the CSV
        items[5]["answers"]["sys-beta"] = "<script>alert(1)</script> & more"
    return items


def read_rows(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def fill(sheet, key_json, winners: dict[str, str]) -> None:
    """Judge each item for the system named in ``winners`` (or 'tie'), at whichever position the key put it."""
    key = orjson.loads(key_json.read_bytes())["items"]
    rows = read_rows(sheet)
    for row in rows:
        winner = winners.get(row["item"], "")
        row["judgment"] = winner if winner in ("", "tie") else ("1" if key[row["item"]]["answer_1"] == winner else "2")
    write_rows(sheet, rows)


def line_of(sheet, item: str) -> int:
    """The physical line where the item's row starts."""
    return next(i for i, line in enumerate(sheet.read_text(encoding="utf-8").splitlines(), start=1) if line.startswith(f"{item},"))


@pytest.fixture
def exported(tmp_path):
    return export_sheet(make_items(), SYSTEMS, tmp_path / "sbs", seed=3)


def test_export_is_blind_randomised_balanced_and_the_key_maps_back(exported):
    rows = read_rows(exported.sheet_csv)
    key = orjson.loads(exported.key_json.read_bytes())
    assert [r["item"] for r in rows] == [f"q{i}" for i in range(10)]
    assert all(r["judgment"] == "" for r in rows)
    first = [key["items"][r["item"]]["answer_1"] for r in rows]
    assert first.count("sys-alpha") == first.count("sys-beta") == 5  # both orders, half each
    items = {i["id"]: i for i in make_items()}
    for r in rows:
        sides = key["items"][r["item"]]
        assert r["answer_1"] == items[r["item"]]["answers"][sides["answer_1"]]
        assert r["answer_2"] == items[r["item"]]["answers"][sides["answer_2"]]
        assert r["prompt"] == items[r["item"]]["prompt"]
    for path in (exported.sheet_csv, exported.sheet_html):
        assert "sys-alpha" not in path.read_text(encoding="utf-8") and "sys-beta" not in path.read_text(encoding="utf-8")
    assert key["systems"] == list(SYSTEMS) and key["seed"] == 3


def test_order_follows_the_seed(tmp_path, exported):
    again = export_sheet(make_items(), SYSTEMS, tmp_path / "again", seed=3)
    other = export_sheet(make_items(), SYSTEMS, tmp_path / "other", seed=4)
    assert again.sheet_csv.read_bytes() == exported.sheet_csv.read_bytes()
    assert again.key_json.read_bytes() == exported.key_json.read_bytes()
    assert other.sheet_csv.read_bytes() != exported.sheet_csv.read_bytes()


def test_html_is_self_contained_escaped_and_side_by_side(exported):
    html = exported.sheet_html.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert not re.search(r"https?://|\bsrc=|<link", html)
    assert html.count('class="answer"') == 20 and "grid-template-columns: 1fr 1fr" in html
    assert "Instructions" in html and "judgment" in html
    assert "A prompt\nover three\nlines" in html  # kept as written; pre-wrap shows the breaks


def test_round_trip_counts_exactly_what_was_judged(exported):
    winners = {f"q{i}": "sys-beta" for i in range(8)} | {"q8": "sys-alpha", "q9": "sys-alpha"}
    fill(exported.sheet_csv, exported.key_json, winners)
    result = import_judgments(exported.sheet_csv, exported.key_json)
    beta, alpha = result.per_system["sys-beta"], result.per_system["sys-alpha"]
    assert (beta.wins, beta.ties, beta.losses) == (8, 0, 2)
    assert (alpha.wins, alpha.ties, alpha.losses) == (2, 0, 8)
    assert beta.win_rate == 0.8 and alpha.win_rate == pytest.approx(0.2)
    assert beta.win_rate_ci == pytest.approx(wilson_interval(8, 10))
    assert beta.win_rate_ci == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert (result.judged, result.ties, result.unjudged) == (10, 0, 0)
    assert result.as_dict()["per_system"]["sys-beta"]["win_rate_ci"] == list(beta.win_rate_ci)


def test_ties_count_half_and_are_reported_apart(exported):
    winners = {f"q{i}": "sys-beta" for i in range(7)} | {"q7": "tie", "q8": "sys-alpha", "q9": "sys-alpha"}
    fill(exported.sheet_csv, exported.key_json, winners)
    beta = import_judgments(exported.sheet_csv, exported.key_json).per_system["sys-beta"]
    assert (beta.wins, beta.ties, beta.losses) == (7, 1, 2)
    assert beta.win_rate == 0.75  # (7 + 1/2) / 10
    assert beta.decisive_win_rate == pytest.approx(7 / 9)
    assert beta.decisive_win_rate_ci == pytest.approx(wilson_interval(7, 9))


def test_judgments_are_read_leniently_where_it_is_safe(exported):
    rows = read_rows(exported.sheet_csv)
    for row, judgment in zip(rows, ["1", " 2 ", "TIE", "Tie"] + ["1"] * 6):
        row["judgment"] = judgment
    # as Excel in a ';' locale saves it: a byte-order mark and semicolons
    with exported.sheet_csv.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    result = import_judgments(exported.sheet_csv, exported.key_json)
    assert (result.judged, result.ties) == (10, 2)
    with pytest.raises(InputError, match="already holds 10 judgments"):
        export_sheet(make_items(), SYSTEMS, exported.sheet_csv.parent, seed=3)


def test_an_unknown_judgment_names_its_line_and_the_allowed_values(exported):
    fill(exported.sheet_csv, exported.key_json, {f"q{i}": "sys-alpha" for i in range(10)})
    rows = read_rows(exported.sheet_csv)
    rows[1]["judgment"], rows[4]["judgment"] = "maybe", "A"
    write_rows(exported.sheet_csv, rows)
    with pytest.raises(InputError) as error:
        import_judgments(exported.sheet_csv, exported.key_json)
    message = str(error.value)
    assert "(2 problems)" in message and str(exported.sheet_csv) in message
    assert (
        "line 3, item 'q1', column 'judgment': 'maybe' is not a judgment; write 1 (answer 1 is better), 2 (answer 2 is better) or tie"
        in message
    )
    # q3's prompt spans three lines, so q4 starts on line 8 of the file and is row 6 of a spreadsheet
    assert line_of(exported.sheet_csv, "q4") == 8
    assert "line 8 (spreadsheet row 6), item 'q4', column 'judgment': 'A'" in message


def test_items_missing_from_the_key_or_repeated_are_errors(exported):
    fill(exported.sheet_csv, exported.key_json, {f"q{i}": "sys-alpha" for i in range(10)})
    rows = read_rows(exported.sheet_csv)
    rows[0]["item"] = "q99"
    rows[2]["item"] = "q1"
    write_rows(exported.sheet_csv, rows)
    with pytest.raises(InputError) as error:
        import_judgments(exported.sheet_csv, exported.key_json)
    message = str(error.value)
    assert "line 2, item 'q99': item 'q99' is not in the key" in message
    assert "item 'q1' again (first on line 3)" in message
    assert "the key has 2 items with no row in the sheet (q0, q2)" in message


def test_an_unfilled_sheet_is_an_error(exported):
    with pytest.raises(InputError, match=r"has no judgments yet: in its judgment column, write 1 .* for each of its 10 items"):
        import_judgments(exported.sheet_csv, exported.key_json)


def test_a_half_filled_sheet_names_the_open_lines_unless_allowed(exported):
    fill(exported.sheet_csv, exported.key_json, {"q0": "sys-alpha", "q1": "sys-beta", "q2": "tie"})
    with pytest.raises(InputError, match=r"7 rows have no judgment yet \(lines 5, 8, 9, .*allow_unjudged=True"):
        import_judgments(exported.sheet_csv, exported.key_json)
    result = import_judgments(exported.sheet_csv, exported.key_json, allow_unjudged=True)
    assert (result.judged, result.ties, result.unjudged) == (3, 1, 7)
    assert result.per_system["sys-alpha"].win_rate == pytest.approx(0.5)


def test_export_refuses_to_erase_judgments(exported):
    fill(exported.sheet_csv, exported.key_json, {"q0": "sys-alpha"})
    with pytest.raises(InputError, match="already holds 1 judgments"):
        export_sheet(make_items(), SYSTEMS, exported.sheet_csv.parent, seed=3)


def test_bad_items_and_keys_are_explained(tmp_path, exported):
    items = make_items(2)
    del items[1]["answers"]["sys-beta"]
    with pytest.raises(InputError, match=r"items\[1\] \(id 'q1'\) has no answer from 'sys-beta'; its answers are from: 'sys-alpha'"):
        export_sheet(items, SYSTEMS, tmp_path / "bad", seed=0)
    with pytest.raises(InputError, match=r"items\[1\] repeats the id 'q0' of items\[0\]"):
        export_sheet([make_items(1)[0], make_items(1)[0]], SYSTEMS, tmp_path / "bad", seed=0)
    with pytest.raises(InputError, match="two different system names"):
        export_sheet(make_items(2), ("sys-alpha", "sys-alpha"), tmp_path / "bad", seed=0)
    with pytest.raises(InputError, match="Cannot find the key"):
        import_judgments(exported.sheet_csv, tmp_path / "nope.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InputError, match="is not a side-by-side key"):
        import_judgments(exported.sheet_csv, tmp_path / "other.json")


def test_odd_item_counts_still_get_both_orders(tmp_path):
    exported = export_sheet(make_items(7), SYSTEMS, tmp_path, seed=0)
    first = [sides["answer_1"] for sides in orjson.loads(exported.key_json.read_bytes())["items"].values()]
    assert sorted([first.count("sys-alpha"), first.count("sys-beta")]) == [3, 4]


# ---- CSV injection ------------------------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=already quoted", "＝1+1"]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised_and_judged_back(tmp_path):
    """Cells starting with = + - @ were written as they were: opening the sheet ran them."""
    items = [
        {"id": ("=" if i % 2 else "-") + f"id{i}", "prompt": text, "answers": {"sys-alpha": text, "sys-beta": "plain"}}
        for i, text in enumerate(DANGEROUS)
    ]
    exported = export_sheet(items, SYSTEMS, tmp_path / "sbs", seed=1)
    rows = read_rows(exported.sheet_csv)
    for row in rows:
        for column in ("item", "prompt", "answer_1", "answer_2"):
            cell = row[column]
            assert cell == "plain" or cell.startswith("'"), f"{column}: {cell!r} would run as a formula"
    key = orjson.loads(exported.key_json.read_bytes())["items"]
    for row in rows:  # a rater judges the side where sys-alpha's (dangerous) answer is
        row["judgment"] = "1" if key[row["item"][1:]]["answer_1"] == "sys-alpha" else "2"
    write_rows(exported.sheet_csv, rows)
    result = import_judgments(exported.sheet_csv, exported.key_json)
    assert result.per_system["sys-alpha"].wins == len(DANGEROUS)
    # A spreadsheet that saves the sheet again may drop the quote it treated as a marker: the items still match.
    for row in rows:
        row["item"] = row["item"][1:]
    write_rows(exported.sheet_csv, rows)
    assert import_judgments(exported.sheet_csv, exported.key_json).per_system["sys-alpha"].wins == len(DANGEROUS)


def test_neutralising_is_undone_exactly():
    from curatune.evaluate.human import neutralise, restore

    for text in [*DANGEROUS, "plain", "'plain", "''=x", "", "'", "a=b"]:
        assert restore(neutralise(text)) == text
        assert not neutralise(text).lstrip("'").startswith(("=", "+", "-", "@")) or neutralise(text).startswith("'")
