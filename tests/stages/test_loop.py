"""curatune run: each stage keyed on its own inputs and skipped when they are unchanged, with a tiny model built here."""

from __future__ import annotations

from curatune.config.recipe import parse_recipe
from curatune.generate.triage import generate_triage
from curatune.stages.demo import QUICK, demo_recipe
from curatune.stages.loop import run_loop


def test_run_skips_unchanged_stages_and_keys_curation_apart_from_training(tmp_path, demo_lm):
    data = generate_triage(tmp_path / "data", n_train=80, n_test=6, seed=1)
    raw = demo_recipe(
        "r", data["train"].path, data["test"].path, tmp_path / "runs", True, {**QUICK, "max_steps": 2, "eval_steps": 1, "limit": 4}, demo_lm
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
