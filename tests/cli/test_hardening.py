"""Issue 17 (continued): crashes, hangs and confusing output found by an adversarial user, one test each."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from curatune.cli import app

runner = CliRunner()


def flat(result) -> str:
    return " ".join(result.output.split())


def write_data(path, answers, extra: bytes = b""):
    rows = (orjson.dumps({"instruction": f"question {i}", "output": a}) + b"\n" for i, a in enumerate(answers, start=1))
    path.write_bytes(b"".join(rows) + extra)
    return path


def curate(tmp_path, data, name="r", steps="    - step: filter.min_length\n      min_chars: 3\n"):
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(
        f"name: {name}\nruns_dir: {tmp_path / 'runs'}\ndata:\n  path: {data}\ncurate:\n  workers: 1\n  steps:\n{steps}"
    )
    return runner.invoke(app, ["curate", str(recipe)])


def test_report_of_a_run_with_malformed_lines(tmp_path):
    """stats.json counts read problems per reason; the report's funnel took the dict for a number (TypeError)."""
    data = write_data(tmp_path / "d.jsonl", ["a fine answer", "another fine answer"], extra=b"{bad json\n\xff\xfe\n")
    assert curate(tmp_path, data).exit_code == 0
    result = runner.invoke(app, ["report", str(tmp_path / "runs" / "r")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "runs" / "r" / "report.html").read_text()
    assert "bad_json" in page and "invalid_utf8" in page
