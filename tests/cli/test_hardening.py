"""Issue 17 (continued): crashes, hangs and confusing output found by an adversarial user, one test each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
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
    recipe.write_text(f"name: {name}\nruns_dir: {tmp_path / 'runs'}\ndata:\n  path: {data}\ncurate:\n  workers: 1\n  steps:\n{steps}")
    return runner.invoke(app, ["curate", str(recipe)])


def test_report_of_a_run_with_malformed_lines(tmp_path):
    """stats.json counts read problems per reason; the report's funnel took the dict for a number (TypeError)."""
    data = write_data(tmp_path / "d.jsonl", ["a fine answer", "another fine answer"], extra=b"{bad json\n\xff\xfe\n")
    assert curate(tmp_path, data).exit_code == 0
    result = runner.invoke(app, ["report", str(tmp_path / "runs" / "r")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "runs" / "r" / "report.html").read_text()
    assert "bad_json" in page and "invalid_utf8" in page


def _children_cpu_seconds(pid: int) -> float:
    """CPU seconds (user) its child processes have used so far: the workers, and multiprocessing's resource tracker."""
    ticks = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                ticks += int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[11])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return ticks / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker processes from /proc (Linux)")
def test_ctrl_c_with_two_workers_exits_130_and_leaves_nothing(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) while two workers curate: exit 130 within seconds, no partial folder.

    Before the fix a worker died of the SIGINT with its batch, and the pool's close() waited for that batch forever.
    """
    answers = [f"Answer {i}: the river stone sits by the garden window, {'quite ' * (i % 7)}yellow." for i in range(20000)]
    data = write_data(tmp_path / "d.jsonl", answers)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nruns_dir: {tmp_path / 'runs'}\ndata:\n  path: {data}\ncurate:\n  workers: 2\n  batch_size: 256\n")
    code = "import sys; from curatune.cli import main; sys.argv[0] = 'curatune'; main()"
    argv = [sys.executable, "-c", code, "curate", str(recipe)]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        # Ctrl-C once the workers are set up (about a CPU second each) and busy with batches.
        while _children_cpu_seconds(proc.pid) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before Ctrl-C: give it more records"
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        out, _ = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 15, out.decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out.decode()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.endswith(".lock")) == []  # no run, no .r.partial-*


def test_square_brackets_in_paths_and_messages_are_printed(tmp_path, monkeypatch):
    """rich took "[x]" in "runs/dir[x]" for a style tag and printed "runs/dir"; errors lost their brackets too."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "dir[x]"
    folder.mkdir()
    write_data(folder / "d.jsonl", ["a fine answer"])
    result = runner.invoke(app, ["curate", "dir[x]", "-s", "curate.steps=[]"])
    assert result.exit_code == 0, result.output
    assert "Run folder: runs/dir[x]" in result.output
    missing = runner.invoke(app, ["explain", "runs/dir[x]", "id[7]"])
    assert missing.exit_code == 3 and "id[7]" in flat(missing)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited (its parent, init here, has not reaped it yet)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_ui_server_and_its_workers_stop_with_us(sig, code):
    """`curatune ui` killed with SIGTERM left the MLflow server and its workers holding the port: the whole group goes now."""
    server = "import subprocess, time; w = subprocess.Popen(['sleep', '120']); print(w.pid, flush=True); time.sleep(120)"
    parent = f"import sys; from curatune.cli.process import run_group; sys.exit(run_group([sys.executable, '-c', {server!r}], grace=5))"
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(proc.stdout.readline())  # the server's worker: a grandchild, in the server's process group
        assert _alive(worker)
        proc.send_signal(sig)  # to the parent alone, as `kill PID` does
        assert proc.wait(timeout=15) == code
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_steps_reads_at_80_columns_without_rst(monkeypatch):
    """`curatune steps` was a five-column table cut at 80 columns ("clean.whitesp…", a word per line), with ``rst`` markup."""
    from curatune.cli import render
    from curatune.curation.registry import all_steps

    monkeypatch.setattr(render.out, "_width", 80)
    result = runner.invoke(app, ["steps"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "``" not in result.output and ":class:" not in result.output and ":func:" not in result.output
    names = {line.split()[0] for line in lines if line and not line.startswith(" ")}
    assert names == set(all_steps())  # every name whole, at the start of its block


def test_library_noise_is_silenced_here_and_in_child_processes():
    """peft's is_gradient_checkpointing FutureWarning, MLflow's INFO lines and the libraries' progress bars, on every train."""
    code = (
        "import os, warnings; from curatune.cli import quiet_libraries; quiet_libraries(); "
        "warnings.warn('`is_gradient_checkpointing` is deprecated and will be removed in v6.', FutureWarning); "
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        "\"import warnings; warnings.warn('`is_gradient_checkpointing` is deprecated', FutureWarning)\"]); "
        "print(os.environ['MLFLOW_LOGGING_LEVEL'], os.environ['HF_DATASETS_DISABLE_PROGRESS_BARS'], os.environ['TQDM_DISABLE'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["WARNING", "1", "1"]
    assert "is_gradient_checkpointing" not in done.stderr  # neither from this process nor from its child


def test_training_shows_progress_between_evaluations():
    """On a CPU the first evaluation can be minutes away: a line every PROGRESS_EVERY_SECONDS until then."""
    from types import SimpleNamespace

    from curatune.train.trainer import _ProgressEcho

    now = [0.0]
    lines: list[str] = []
    cb = _ProgressEcho(lines.append, every=30, clock=lambda: now[0])
    state = SimpleNamespace(global_step=0, max_steps=100, log_history=[{"loss": 2.5, "step": 5}])
    cb.on_train_begin(None, state, None)
    for step in range(1, 100):
        now[0] += 1.0  # one step a second
        state.global_step = step
        cb.on_step_end(None, state, None)
    assert len(lines) == 3  # at 30, 60 and 90 s
    assert lines[0] == "step 30/100 (30%), 30 s so far, about 70 s left; training loss 2.5000"


@pytest.mark.parametrize(("rows", "batch", "accumulation", "epochs"), [(181, 8, 4, 1), (180, 8, 4, 2.5), (17, 4, 1, 1), (5, 8, 4, 3)])
def test_budget_counts_the_steps_the_trainer_runs(rows, batch, accumulation, epochs):
    """The budget line rounded the last, short group of batches down: 5 steps promised where the Trainer ran 6."""
    import math

    from curatune.config.train import TrainConfig
    from curatune.train.preflight import steps_for

    config = TrainConfig(per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation, num_train_epochs=epochs)
    per_epoch, total = steps_for(rows, config)
    batches = math.ceil(rows / batch)
    # transformers' Trainer (_inner_training_loop): len_dataloader // accumulation + (a remainder), at least 1
    trainer = max(batches // accumulation + int(batches % accumulation > 0), 1)
    assert (per_epoch, total) == (trainer, math.ceil(epochs * trainer))


def test_a_killed_training_attempt_is_counted_to_its_last_checkpoint(tmp_path):
    """kill -9 leaves a start and no end: its time counts up to the checkpoint the next attempt resumes from."""
    from curatune.train.run import _attempts_begin, _attempts_summary

    log = tmp_path / "attempts.jsonl"
    checkpoint = tmp_path / "checkpoints" / "checkpoint-40"
    checkpoint.mkdir(parents=True)
    started = checkpoint.stat().st_mtime - 100.0
    log.write_bytes(orjson.dumps({"started": started, "from_step": 0}) + b"\n")
    earlier = _attempts_begin(log, checkpoint)
    assert [(a["from_step"], a["at_step"], a["ended"]) for a in earlier] == [(0, 40, "killed")]
    assert earlier[0]["seconds"] == pytest.approx(100.0, abs=0.01)
    summary = _attempts_summary(earlier, 30.0, 40, 60)
    assert summary["train_seconds"] == pytest.approx(130.0, abs=0.01) and summary["interrupted"] and summary["resumed_from_step"] == 40
    assert _attempts_begin(log, None) == [] and len(log.read_bytes().splitlines()) == 1  # a fresh start forgets them


def test_tables_are_not_cut_when_piped(tmp_path, monkeypatch):
    """Piped, rich drew tables 80 columns wide: two rows of the curate table read "filter.goph..."."""
    import io

    from curatune.cli import render

    monkeypatch.delenv("COLUMNS", raising=False)
    assert render._width(io.StringIO()) == 200  # not a terminal: wide enough for any table
    monkeypatch.setattr(render.out, "_width", render._width(io.StringIO()))  # (xdist workers run with COLUMNS=80)
    data = write_data(tmp_path / "d.jsonl", ["a fine answer to the question", "another fine answer to it"])
    steps = "".join(f"    - step: {s}\n" for s in ("filter.placeholder_answer", "filter.gopher_repetition", "filter.gopher_quality"))
    result = curate(tmp_path, data, steps=steps)
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in ("filter.placeholder_answer", "filter.gopher_repetition", "filter.gopher_quality"))
    assert "…" not in result.output
