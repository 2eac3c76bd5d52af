"""Every recipe in examples/ loads and validates; the instruction recipe runs on generated data."""

from __future__ import annotations

from pathlib import Path

import pytest

from curatune.config.recipe import load_recipe
from curatune.stages.curate import curate, resolve

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_there_are_examples():
    assert {p.stem for p in EXAMPLES} >= {"instruction", "chat", "classification", "plain_text"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_recipe_is_valid(path):
    recipe = resolve(load_recipe(path))
    assert recipe.curate.steps, f"{path.name} has no steps"


def test_instruction_example_runs_on_generated_data(tmp_path):
    from curatune.generate import generate_noisy

    data = tmp_path / "noisy.jsonl"
    gen = generate_noisy(data, n=400, defect_rate=0.2, seed=3)
    recipe = load_recipe(
        EXAMPLES[[p.stem for p in EXAMPLES].index("instruction")], [f"data.path={data}", f"runs_dir={tmp_path}", "curate.workers=1"]
    )
    result = curate(recipe)
    assert result.stats["input"] == gen.n_lines
    assert result.stats["kept"] + result.stats["dropped"] == gen.n_lines
    assert 0 < result.stats["dropped"] < gen.n_lines
