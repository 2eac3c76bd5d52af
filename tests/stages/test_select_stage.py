"""The select stage: -s overrides reach the steps, the composition report, and no partial folder after an interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curatune.cli import app
from curatune.embed import model as embed_model
from curatune.errors import RecipeError
from curatune.stages.select import select, selection_recipe

runner = CliRunner()

TASKS = [
    ("Rewrite the sentence in the past tense.", "She walks to the {i} market.", "She walked to the {i} market."),
    ("Classify the animal as a mammal or a bird.", "animal number {i}: the sparrow", "Bird."),
    ("Write a short poem about the sea.", "", "The sea rolls in, grey and wide, number {i}, and carries the evening on its tide."),
]


def write_pool(path: Path, per_task: int = 20) -> Path:
    rows = [{"instruction": ins, "input": inp.format(i=i), "output": out.format(i=i)} for i in range(per_task) for ins, inp, out in TASKS]
    rows += [{"instruction": "Name a colour.", "input": "<noinput>", "output": "Blue is a colour of the sky on a clear day."}]
    path.write_text(json.dumps(rows))
    return path


def params(recipe, step):
    (found,) = [s for s in recipe.curate.steps if s.step == step]
    return found.params


def test_overrides_reach_the_steps_and_the_recipe(tmp_path):
    data = write_pool(tmp_path / "pool.json")
    recipe = selection_recipe(
        str(data),
        10,
        overrides=[
            "select.max_similarity=0.8",
            "select.length_buckets=0",
            "quality.w_length=0",
            "curate.workers=1",
            f"runs_dir={tmp_path}",
        ],
    )
    assert params(recipe, "select.budget")["max_similarity"] == 0.8
    assert params(recipe, "select.budget")["length_buckets"] == 0
    assert params(recipe, "score.quality")["w_length"] == 0
    assert recipe.curate.workers == 1
    with pytest.raises(RecipeError, match="no score.ifd step"):
        selection_recipe(str(data), 10, overrides=["ifd.batch_size=4"])
    with pytest.raises(RecipeError, match="bogus"):
        selection_recipe(str(data), 10, overrides=["select.bogus=1"])
    ifd = selection_recipe(str(data), 10, score_key="ifd", overrides=["ifd.batch_size=4"])
    assert (params(ifd, "score.ifd")["max_ifd"], params(ifd, "score.ifd")["batch_size"]) == (1.0, 4)


def test_select_keeps_every_task_and_leaves_out_placeholder_inputs(tmp_path):
    data = write_pool(tmp_path / "pool.json")
    res = runner.invoke(
        app, ["select", str(data), "--budget", "15", "--runs-dir", str(tmp_path / "runs"), "--name", "s", "-s", "select.clusters=3"]
    )
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / "s"
    kept = [json.loads(line) for line in (run / "data" / "kept.jsonl").read_text().splitlines()]
    assert len(kept) == 15
    firsts = [r["messages"][0]["content"].split()[0] for r in kept]
    assert {w: firsts.count(w) for w in set(firsts)} == {"Rewrite": 5, "Classify": 5, "Write": 5}
    summary = json.loads((run / "artifacts" / "selection.json").read_text())
    comp = summary["composition"]
    assert summary["reasons"]["defective"] == 1 and comp["selected"]["share_defective"] == 0.0
    assert comp["pool"]["share_with_input"] == round(41 / 61, 4) and comp["selected"]["share_with_input"] == round(10 / 15, 4)
    assert len(comp["clusters"]) == 3 and comp["clusters_below_a_third"] == []
    assert "answers under 20 words" in res.output


def test_an_interrupted_selection_leaves_no_partial_folder(tmp_path, monkeypatch):
    data = write_pool(tmp_path / "pool.json")

    def interrupt(texts):
        raise KeyboardInterrupt

    monkeypatch.setattr(embed_model, "load_embedder", lambda *a, **k: embed_model.Embedder(interrupt, "x", cache=False))
    with pytest.raises(KeyboardInterrupt):
        select(selection_recipe(str(data), 10, name="s", overrides=[f"runs_dir={tmp_path / 'runs'}"]))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.endswith(".lock")) == []


SIGTERM_RUN = """
import os, signal, sys
import numpy as np
from curatune.cli import app, stop_on_sigterm
from curatune.embed import model as embed_model

def terminated_midway(texts):
    os.kill(os.getpid(), signal.SIGTERM)  # as `timeout` does, while the embeddings are computed
    return np.ones((len(texts), 4), dtype=np.float32)

embed_model.load_embedder = lambda *a, **k: embed_model.Embedder(terminated_midway, "x", cache=False)
stop_on_sigterm()
app(sys.argv[1:])
"""


def test_sigterm_leaves_no_partial_folder(tmp_path):
    data = write_pool(tmp_path / "pool.json")
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "CURATUNE_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", SIGTERM_RUN, "select", str(data), "--budget", "10", "--runs-dir", str(runs), "--name", "s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode not in (0, -signal.SIGTERM), proc.stderr  # it stopped, and not killed where it stood
    assert sorted(p.name for p in runs.iterdir() if not p.name.endswith(".lock")) == []


def test_long_phases_report_their_progress(tmp_path):
    from contextlib import contextmanager

    from curatune.curation.phases import showing_phases

    shown: dict[str, list] = {}

    @contextmanager
    def record(description, total):
        shown[description] = [total, 0]

        def advance(n=1):
            shown[description][1] += n

        yield advance

    data = write_pool(tmp_path / "pool.json")
    with showing_phases(record):
        select(selection_recipe(str(data), 10, name="s", overrides=[f"runs_dir={tmp_path / 'runs'}", "select.clusters=3"]))
    # The embedding phase knows its total (so a bar can show an ETA) and reaches it; clustering is a spinner.
    assert shown == {"embedding 61 texts": [61, 61], "finding 3 task clusters": [None, 0]}
