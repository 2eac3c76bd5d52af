"""curatune run, compare, report and demo, end to end with a tiny model built here."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tiny_models import build_tiny_lm

from curatune.config.recipe import parse_recipe
from curatune.generate.triage import generate_triage
from curatune.stages.compare import compare_runs
from curatune.stages.demo import QUICK, demo_recipe, run_demo
from curatune.stages.loop import run_loop


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> str:
    return str(build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02))


@pytest.fixture(scope="module")
def demo(tmp_path_factory, lm):
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, quick=True, model=lm, track=False, echo=lambda s: None)


def truth(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_demo_curates_exactly_the_planted_junk_and_trains_both_runs(demo):
    junk = {
        t["id"] for t in truth(demo.out / "data" / "train.truth.jsonl") if t["noise"] in ("refusal", "placeholder", "empty", "duplicate")
    }
    raw, curated = demo.comparison["runs"]
    assert raw["funnel"]["dropped"] == 0
    assert curated["funnel"]["dropped"] >= len(junk)
    kept = {json.loads(l)["id"] for l in (demo.out / "runs" / "curated" / "data" / "kept.jsonl").read_text().splitlines()}
    assert not kept & junk
    for run in ("raw", "curated"):
        summary = json.loads((demo.out / "runs" / run / "train" / "summary.json").read_text())
        assert summary["steps"] == QUICK["max_steps"]
        metrics = json.loads((demo.out / "runs" / run / "eval" / "metrics.json").read_text())
        assert metrics["n"] == QUICK["n_test"] and "exact_match" in metrics["metrics"]


def test_compare_pairs_the_runs_on_the_same_test_examples(demo):
    pair = demo.comparison["pairs"][0]
    assert (pair["a"], pair["b"], pair["shared_examples"]) == ("raw", "curated", QUICK["n_test"])
    assert {"exact_match", "token_f1", "loss"} <= set(pair["metrics"])
    again = compare_runs([demo.out / "runs" / "raw", demo.out / "runs" / "curated"])
    assert again["pairs"][0]["metrics"]["loss"] == pair["metrics"]["loss"]  # same seed, same intervals


def test_report_is_one_self_contained_file_with_every_stage(demo):
    page = demo.report.read_text()
    for section in (
        "Did curation pay?",
        "Data: what went in",
        "Splits",
        "Training",
        "Evaluation: base model against the fine-tuned one",
        "Sample generations",
    ):
        assert section in page
    assert "refusal" in page and "placeholder_answer" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from a network
    assert 'src="data:image/png;base64,' in page  # the curves are inside the file
    assert "<script" not in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium (Debian's chromium package) is not installed")
def test_report_renders_in_headless_chromium(demo, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            demo.report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    img = Image.open(shot).convert("L")
    assert img.size == (1200, 2400)
    dark = sum(1 for p in img.getdata() if p < 128)
    assert dark > 20_000  # text, tables and the loss curves, not a blank page


def test_run_skips_unchanged_stages_and_keys_curation_apart_from_training(tmp_path, lm):
    data = generate_triage(tmp_path / "data", n_train=80, n_test=6, seed=1)
    raw = demo_recipe(
        "r", data["train"].path, data["test"].path, tmp_path / "runs", True, {**QUICK, "max_steps": 2, "eval_steps": 1, "limit": 4}, lm
    )
    lines: list[str] = []
    first = run_loop(parse_recipe(raw), echo=lines.append, track=False)
    assert not any(s.get("skipped") for s in first.stages.values())
    second = run_loop(parse_recipe(raw), echo=lines.append, track=False)
    assert all(s["skipped"] for s in second.stages.values())
    raw["train"]["learning_rate"] = 5e-4
    third = run_loop(parse_recipe(raw), echo=lines.append, track=False)
    assert third.stages["curate"]["skipped"] and third.stages["split"]["skipped"]
    assert not third.stages["train"]["skipped"] and not third.stages["eval"]["skipped"]
