"""`curatune select`: a run folder with exactly the budget kept and every other record in the ledger with its reason."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from curatune.cli import app
from curatune.generate import generate_noisy

runner = CliRunner()


def test_select_budget_from_data_and_from_a_run_folder(tmp_path):
    data = tmp_path / "noisy.jsonl"
    generate_noisy(data, n=300, seed=3)
    res = runner.invoke(app, ["select", str(data), "--budget", "50", "--runs-dir", str(tmp_path / "runs"), "--name", "sel"])
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / "sel"
    stats = json.loads((run / "stats.json").read_text())
    assert stats["kept"] == 50 and stats["input"] == stats["kept"] + stats["dropped"]
    ledger = pq.read_table(run / "ledger.parquet").to_pylist()
    selection = [e for e in ledger if e["step"] == "select.budget"]
    read_drops = [e for e in ledger if e["step"] == "read"]
    assert len(selection) + len(read_drops) == stats["dropped"]
    assert {e["reason"] for e in selection} <= {"defective", "too_similar", "over_budget"}
    assert all(e["duplicate_of"] for e in selection if e["reason"] == "too_similar")
    summary = json.loads((run / "artifacts" / "selection.json").read_text())
    assert summary["selected"] == 50 and summary["budget"] == 50

    # A curate run folder as input: its kept records are selected from (a fraction this time).
    res = runner.invoke(app, ["select", str(run), "--budget", "0.2", "--runs-dir", str(tmp_path / "runs"), "--name", "sel2"])
    assert res.exit_code == 0, res.output
    stats2 = json.loads((tmp_path / "runs" / "sel2" / "stats.json").read_text())
    assert (stats2["input"], stats2["kept"]) == (50, 10)


def test_select_rejects_a_bad_budget(tmp_path):
    data = tmp_path / "d.jsonl"
    generate_noisy(data, n=20, seed=0)
    res = runner.invoke(app, ["select", str(data), "--budget", "0", "--runs-dir", str(tmp_path)])
    assert res.exit_code == 2 and "--budget" in res.output
