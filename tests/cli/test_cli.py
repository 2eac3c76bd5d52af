"""The CLI's exit codes and output for curate, explain and convert (typer's CliRunner, in process)."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from curatune.cli import app

runner = CliRunner()


def flat(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def write_data(path, answers):
    path.write_bytes(b"".join(orjson.dumps({"instruction": f"q{i}", "output": a}) + b"\n" for i, a in enumerate(answers, start=1)))
    return path


def write_recipe(tmp_path, body: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(body)
    return path


def test_curate_ok_then_skipped_then_explain(tmp_path):
    data = write_data(tmp_path / "d.jsonl", ["a fine answer", "no", "a fine answer"])
    recipe = write_recipe(
        tmp_path,
        f"name: r\nruns_dir: {tmp_path / 'runs'}\ndata:\n  path: {data}\ncurate:\n  workers: 1\n  steps:\n"
        "    - step: filter.min_length\n      min_chars: 3\n    - step: dedup.exact\n      fields: response\n",
    )
    first = runner.invoke(app, ["curate", str(recipe)])
    assert first.exit_code == 0, first.output
    assert "3 records in, 1 kept, 2 dropped" in flat(first)
    again = runner.invoke(app, ["curate", str(recipe)])
    assert again.exit_code == 0 and "Nothing changed since the last run" in flat(again)
    run = tmp_path / "runs" / "r"
    dropped = runner.invoke(app, ["explain", str(run), "d:2"])
    assert dropped.exit_code == 0
    assert "filter.min_length" in flat(dropped) and "too_short value=2 threshold=3" in flat(dropped) and "=> dropped" in flat(dropped)
    kept = runner.invoke(app, ["explain", str(run), "d:1"])
    assert kept.exit_code == 0 and "output" in flat(kept) and "=> kept" in flat(kept)
    missing = runner.invoke(app, ["explain", str(run), "d:99"])
    assert missing.exit_code == 3 and "not in the ledger" in flat(missing)


def test_override_on_the_command_line(tmp_path):
    data = write_data(tmp_path / "d.jsonl", ["a fine answer", "no"])
    recipe = write_recipe(
        tmp_path,
        f"name: r\nruns_dir: {tmp_path / 'runs'}\ndata:\n  path: {data}\ncurate:\n  workers: 1\n  steps:\n    - step: filter.min_length\n",
    )
    result = runner.invoke(app, ["curate", str(recipe), "-s", "curate.steps.0.min_chars=50"])
    assert result.exit_code == 0, result.output
    assert "2 records in, 0 kept, 2 dropped" in flat(result)


def test_bad_recipe_exits_2(tmp_path):
    recipe = write_recipe(tmp_path, "data:\n  pth: x.jsonl\ncurate:\n  steps:\n    - step: filter.min_lenght\n")
    result = runner.invoke(app, ["curate", str(recipe)])
    assert result.exit_code == 2
    assert "Did you mean 'path'?" in flat(result) and "Did you mean 'filter.min_length'" in flat(result)
    assert runner.invoke(app, ["curate", str(tmp_path / "absent.yaml")]).exit_code == 2


def test_unreadable_input_exits_3(tmp_path):
    recipe = write_recipe(tmp_path, f"runs_dir: {tmp_path / 'runs'}\ndata:\n  path: {tmp_path / 'missing.jsonl'}\ncurate:\n  steps: []\n")
    result = runner.invoke(app, ["curate", str(recipe)])
    assert result.exit_code == 3 and "missing.jsonl' does not exist" in flat(result)
    (tmp_path / "bad.json").write_text("[{")
    result = runner.invoke(app, ["curate", str(tmp_path / "bad.json"), "--runs-dir", str(tmp_path / "runs"), "-s", "curate.steps=[]"])
    assert result.exit_code == 3 and "is not valid JSON" in flat(result)
    assert not [p for p in (tmp_path / "runs").iterdir()]  # nothing half-written


def test_convert_to_chat(tmp_path):
    data = write_data(tmp_path / "d.jsonl", ["one", "two"])
    out = tmp_path / "chat.jsonl"
    result = runner.invoke(app, ["convert", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert rows[1] == {"id": "d:2", "messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "two"}]}
