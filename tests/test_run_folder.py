"""Run folders: names that stay inside runs_dir, one writer at a time, a swap that never loses a run, no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from curatune import staging
from curatune.cli import app
from curatune.config.recipe import parse_recipe
from curatune.errors import RecipeError
from curatune.run_folder import RunFolder, check_run_name, name_from_path
from curatune.stages.curate import curate
from curatune.staging import FolderBusyError, locked, recover, staged, swap_in

runner = CliRunner()


def data_file(path: Path, n: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps({"instruction": f"question {i}?", "output": f"answer {i}."}) + b"\n" for i in range(n)))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def recipe(tmp_path: Path, name: str = "r", **curate_section) -> dict:
    return {
        "name": name,
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": str(data_file(tmp_path / "d.jsonl"))},
        "curate": {"steps": [], "workers": 1, **curate_section},
    }


# ---- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [".", "..", "", "  ", "../victim", "a/b", "/abs/path", "a\\b", ".hidden", "x" * 240, "tab\there"])
def test_a_name_that_is_not_one_folder_of_its_own_is_refused(bad):
    with pytest.raises(RecipeError, match="run name"):
        check_run_name(bad)
    with pytest.raises(RecipeError, match="run name"):
        RunFolder.of("runs", bad)


def test_names_that_are_one_folder_pass():
    for good in ("my-run", "select-my_data", "trial-3", "v1.2", "x" * 100, "données"):
        assert check_run_name(good) == good


def test_names_made_from_file_names_are_valid(tmp_path):
    assert name_from_path("data/train.jsonl.gz") == "train"
    assert name_from_path(".hidden.jsonl") == "hidden"
    assert name_from_path("...") == "data" or check_run_name(name_from_path("..."))
    assert name_from_path(tmp_path / ".") == tmp_path.name
    assert name_from_path("x" * 300 + ".jsonl") == "x" * 100


@pytest.mark.parametrize("name", [".", "..", "../victim", "x" * 240])
def test_the_cli_refuses_a_bad_name_and_deletes_nothing(tmp_path, name):
    """`--name .` once made runs/ itself the run folder: committing it deleted every other run and mlflow.db."""
    runs = tmp_path / "runs"
    (runs / "other").mkdir(parents=True)
    (runs / "mlflow.db").write_bytes(b"store")
    victim = tmp_path / "victim"
    victim.mkdir()
    data = data_file(tmp_path / "d.jsonl")
    result = runner.invoke(app, ["curate", str(data), "--name", name, "--runs-dir", str(runs), "-s", "curate.steps=[]"])
    assert result.exit_code == 2, result.output
    assert "run name" in result.output
    assert sorted(p.name for p in runs.iterdir()) == ["mlflow.db", "other"] and victim.is_dir()


def test_a_recipe_name_with_a_path_is_an_error_listed_with_the_others(tmp_path):
    raw = recipe(tmp_path, name="../../victim")
    raw["curate"]["batch_size"] = 0
    with pytest.raises(RecipeError) as e:
        parse_recipe(raw)
    assert len(e.value.problems) == 2 and any("'name'" in p and "path separator" in p for p in e.value.problems)


def test_a_data_file_named_with_a_leading_dot_gets_a_run_of_its_own(tmp_path):
    """`.hidden.jsonl` gave the empty name, so the run folder was runs/ itself."""
    runs = tmp_path / "runs"
    (runs / "other").mkdir(parents=True)
    data = data_file(tmp_path / ".hidden.jsonl")
    result = runner.invoke(app, ["curate", str(data), "--runs-dir", str(runs), "-s", "curate.steps=[]", "-s", "curate.workers=1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in runs.iterdir()) == ["hidden", "other"]
    assert RunFolder(runs / "hidden").is_curated()


def test_curating_the_current_folder_names_the_run_after_it(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    data_file(folder / "a.jsonl")
    monkeypatch.chdir(folder)
    result = runner.invoke(app, ["curate", ".", "--runs-dir", str(tmp_path / "runs"), "-s", "curate.steps=[]", "-s", "curate.workers=1"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["corpus"]


# ---- one writer at a time -----------------------------------------------------------------------

_HOLD = """
import sys, time
from pathlib import Path
from curatune.staging import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _env() -> dict[str, str]:
    src = str(Path(staging.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_a_second_writer_fails_with_the_first_ones_pid_and_leaks_nothing(tmp_path):
    """Two racing writers got `OSError: Directory not empty` (exit 1) and leaked their partial folder."""
    raw = recipe(tmp_path)
    first = curate(parse_recipe(raw))
    holder = hold_lock(first.run_dir)
    try:
        result = runner.invoke(app, ["curate", str(tmp_path / "d.jsonl"), "--name", "r", "--runs-dir", str(tmp_path / "runs"), "--force"])
        assert result.exit_code == 2, result.output
        assert f"process {holder.pid}" in " ".join(result.output.split()) and "being written" in result.output
        with pytest.raises(FolderBusyError):
            curate(parse_recipe(raw), force=True)
    finally:
        holder.kill()
        holder.wait()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [".r.lock", "r"]  # the killed holder's lock file only
    assert curate(parse_recipe(raw), force=True).skipped is False  # the kernel let go of the killed holder's lock
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r"]


def test_a_lock_waits_when_asked_and_is_reentrant(tmp_path):
    folder = tmp_path / "runs" / "r"
    holder = hold_lock(folder)
    t0 = time.monotonic()
    with pytest.raises(FolderBusyError, match="being written"):
        with locked(folder, wait=0.5):
            pass
    assert time.monotonic() - t0 >= 0.5
    holder.kill()
    holder.wait()
    with locked(folder), locked(folder), staged(folder) as new:  # one process may take its own lock again
        (new / "f").write_text("x")
    assert (folder / "f").read_text() == "x" and not staging.holds_lock(folder)


# ---- the swap and what a crash leaves -----------------------------------------------------------


@pytest.mark.parametrize("can_exchange", [True, False])
def test_a_swap_puts_the_new_folder_in_place_of_the_old_and_removes_the_old(tmp_path, monkeypatch, can_exchange):
    if not can_exchange:
        monkeypatch.setattr(staging, "exchange", lambda a, b: False)
    final, new = tmp_path / "run", tmp_path / ".run.partial-1-1"
    for folder, text in ((final, "old"), (new, "new")):
        folder.mkdir()
        (folder / "f").write_text(text)
    swap_in(new, final)
    assert (final / "f").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_exchange_is_atomic_where_linux_has_it(tmp_path):
    if staging._renameat2 is None:
        pytest.skip("no renameat2 here")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    assert staging.exchange(a, b) and (b / "x").read_text() == "a" and not (a / "x").exists()


def test_recovery_puts_back_the_old_folder_a_crash_between_two_renames_left_aside(tmp_path):
    runs = tmp_path / "runs"
    pid = dead_pid()
    old, new = runs / f".r.old-{pid}-100", runs / f".r.partial-{pid}-100"
    for folder in (old, new):
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(folder.name)
    recover(runs / "r")
    assert (runs / "r" / "run.json").read_text() == old.name
    assert [p.name for p in runs.iterdir()] == ["r"]


def test_a_rerun_removes_the_partial_folders_of_dead_processes_only(tmp_path):
    """After every kill -9 a full-size .run.partial-* stayed beside the run, and a rerun did not remove it."""
    raw = recipe(tmp_path)
    runs = tmp_path / "runs"
    dead = runs / f".r.partial-{dead_pid()}-{int(time.time())}"
    other_dead = runs / f".other.partial-{dead_pid()}-{int(time.time())}"
    alive = runs / f".x.partial-{os.getppid()}-{int(time.time())}"
    for folder in (dead, other_dead, alive):
        (folder / "data").mkdir(parents=True)
    curate(parse_recipe(raw))
    assert sorted(p.name for p in runs.iterdir()) == sorted([alive.name, "r"])


def test_a_failed_stage_leaves_the_old_run_and_no_partial_folder(tmp_path, monkeypatch):
    raw = recipe(tmp_path)
    first = curate(parse_recipe(raw))
    before = (first.run_dir / "run.json").read_bytes()
    from curatune.curation.write import run_sink

    def boom(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_sink.RunSink, "close", boom)
    with pytest.raises(KeyboardInterrupt):
        curate(parse_recipe(raw), force=True)
    assert (first.run_dir / "run.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r"]


# ---- a damaged run is not an unchanged one ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["empty kept", "no ledger", "edited kept"])
def test_a_damaged_run_is_built_again_not_skipped(tmp_path, damage):
    """An emptied kept.jsonl without a ledger was reported unchanged and skipped."""
    raw = recipe(tmp_path)
    raw["curate"]["steps"] = [{"step": "filter.min_length", "min_chars": 9}]
    run = RunFolder(curate(parse_recipe(raw)).run_dir)
    kept = run.kept.read_bytes()
    assert curate(parse_recipe(raw)).skipped
    if damage == "empty kept":
        run.kept.write_bytes(b"")
    elif damage == "no ledger":
        run.ledger.unlink()
    else:
        run.kept.write_bytes(run.kept.read_bytes().replace(b"answer", b"ANSWER"))  # same size, other bytes
    again = curate(parse_recipe(raw))
    assert not again.skipped and run.kept.read_bytes() == kept and run.ledger.is_file()
    assert curate(parse_recipe(raw)).skipped
