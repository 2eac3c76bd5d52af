"""curatune ablate on a tiny model: exact arm sizes, equal step and token budgets, finished arms skipped, overlap refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from curatune.cli import app
from curatune.config.recipe import load_recipe
from curatune.evaluate.ablation import ArmValues, seeded_paired_bootstrap
from curatune.stages.ablate import ablate

WORDS = "apple river stone cloud green quick orange silver window garden market yellow winter summer candle paper".split()


def _pool(n: int, seed: int = 0) -> list[dict]:
    """Instruction records with unique text and answers of 3 to 40 words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(3, 41))]
        rows.append(
            {"instruction": f"Task {i}: list some words about topic {i * 7919 % 1000}.", "input": "", "output": f"{i} " + " ".join(words)}
        )
    return rows


def _references(n: int) -> list[dict]:
    return [
        {"instruction": f"Question number {i} about something else entirely?", "input": "", "output": f"Reference answer {i} here."}
        for i in range(n)
    ]


def _recipe(tmp_path: Path, lm: str, pool: list[dict], refs: list[dict], **ablate_extra) -> Path:
    (tmp_path / "pool.json").write_text(json.dumps(pool))
    (tmp_path / "refs.json").write_text(json.dumps(refs))
    recipe = {
        "name": "abl",
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": str(tmp_path / "pool.json")},
        "curate": {"workers": 1, "steps": [{"step": "dedup.exact"}]},
        "train": {"model": lm, "method": "lora", "lora_r": 4, "lora_alpha": 8, "learning_rate": 1e-3, "max_steps": 3,
                  "per_device_train_batch_size": 2, "max_seq_len": 256, "on_too_long": "truncate", "seed": 0},
        "ablate": {"budget": 10, "references": [str(tmp_path / "refs.json")], "holdout": 5, "random_seeds": 2, "max_new_tokens": 4,
                   "batch_size": 4, **ablate_extra},
    }  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_ablation_end_to_end_sizes_budgets_and_rerun(tmp_path, demo_lm):
    pool = _pool(60)
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps(r) + "\n" for r in pool[:7]))
    path = _recipe(tmp_path, demo_lm, pool, _references(8), arms={"mine": str(mine)})
    lines: list[str] = []
    first = ablate(load_recipe(path), echo=lines.append, track=False)
    result = first.result
    arms = result["arms"]
    assert set(arms) == {"curated", "random-0", "random-1", "longest", "full", "mine"}
    # one arm of every kind runs first, the other random seeds last: a run cut short compares every kind
    assert list(arms) == ["curated", "random-0", "longest", "full", "mine", "random-1"]
    # 5 held out of 60; the budget keeps 10; random and longest get exactly as many as curated
    assert result["pool"]["records"] == 55
    assert arms["curated"]["records"] == 10
    assert [arms[a]["records"] for a in ("random-0", "random-1", "longest")] == [10, 10, 10]
    assert arms["full"]["records"] == 55 and arms["mine"]["records"] == 7
    # the longest arm holds exactly the ten longest answers of the pool
    kept = [json.loads(line) for line in (first.folder / "pool.jsonl").read_text().splitlines()]
    lengths = sorted((len(r["messages"][-1]["content"].split()) for r in kept), reverse=True)
    assert arms["longest"]["answer_words_median"] == float(np.median(lengths[:10]))
    # random draws differ from each other
    ids = {
        a: {json.loads(x)["id"] for x in (first.folder / "arms" / a / "data.jsonl").read_text().splitlines()}
        for a in ("random-0", "random-1")
    }
    assert ids["random-0"] != ids["random-1"]
    # the same budget: equal steps and equal token capacity; processed tokens fill the packed rows
    assert {a["steps"] for a in arms.values()} == {3}
    capacity = result["budget"]["token_capacity"]
    assert capacity == 3 * 2 * 256
    for name, a in arms.items():
        assert 0 < a["processed_tokens"] <= capacity, name
    assert result["references"]["pool-heldout"]["examples"] == 5 and result["references"]["refs"]["examples"] == 8
    comparisons = result["comparisons"]
    assert {(c["references"], c["metric"], c["other"]) for c in comparisons} >= {("refs", "nll", "random"), ("refs", "nll", "longest")}
    random_row = next(c for c in comparisons if c["references"] == "refs" and c["metric"] == "nll" and c["other"] == "random")
    assert random_row["seeds"] == 2 and random_row["low"] <= random_row["difference"] <= random_row["high"]
    assert (first.folder / "ablation.png").stat().st_size > 0 and "Ablation" in (first.folder / "report.html").read_text()
    assert (first.folder / "human" / "random-0" / "sheet.csv").is_file()
    assert sorted(first.trained) == sorted(arms)
    # a rerun trains and scores nothing; a new arm is the only one trained
    second = ablate(load_recipe(path), echo=lines.append, track=False)
    assert second.trained == [] and second.scored == []
    assert orjson.loads((first.folder / "ablation.json").read_bytes())["arms"]["curated"]["estimates"] == arms["curated"]["estimates"]
    third = ablate(load_recipe(path, ["ablate.random_seeds=3"]), echo=lines.append, track=False)
    assert third.trained == ["random-2"]


def test_references_that_overlap_the_pool_are_refused_with_exit_2(tmp_path, demo_lm):
    pool = _pool(30)
    refs = _references(4)
    refs.append(dict(pool[3]))  # an exact copy
    near = dict(pool[8])
    near["output"] = near["output"] + " and one more sentence at the end"  # a near copy: the long shared run remains
    near["instruction"] = near["instruction"].replace("list", "give")
    refs.append(near)
    path = _recipe(tmp_path, demo_lm, pool, refs, holdout=0)
    result = CliRunner().invoke(app, ["ablate", str(path), "--no-tracking"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "2 references" in text and "on_overlap: drop" in text and "dedup.decontaminate" in text
    assert (
        "reference 'refs:5' ~ pool 'pool:4' (an exact copy)" in text
        and "reference 'refs:6' ~ pool 'pool:9' (29 shared 13-word runs)" in text
    )
    assert not (tmp_path / "runs" / "abl" / "arms").exists()  # stopped before any arm was built


def test_seeded_bootstrap_finds_a_planted_gain_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.normal(1.0, 0.3, 200)
    better = ArmValues(np.array([base - 0.1]))
    others = ArmValues(np.array([base + rng.normal(0, 0.02, 200) for _ in range(3)]))
    d = seeded_paired_bootstrap(better, others, higher_is_better=False)
    assert d.high < 0 and d.verdict == "better" and d.a_better_fraction == 1.0
    same = seeded_paired_bootstrap(ArmValues(np.array([base])), ArmValues(np.array([base, base])), higher_is_better=True)
    assert abs(same.low) < 1e-12 and abs(same.high) < 1e-12 and same.difference == 0.0 and same.verdict == "unclear"
    weighted = ArmValues(np.array([[2.0, 6.0]]), np.array([[1.0, 3.0]]))
    assert weighted.estimate() == 2.0


def test_one_arm_of_every_kind_runs_before_the_other_seeds():
    from curatune.stages.ablate import Arm, _kinds_first

    names = ["curated", "random-0", "random-1", "random-2", "longest", "full", "mine"]
    groups = ["curated", "random", "random", "random", "longest", "full", "mine"]
    arms = [Arm(n, g, [], "") for n, g in zip(names, groups)]
    assert [a.name for a in _kinds_first(arms)] == ["curated", "random-0", "longest", "full", "mine", "random-1", "random-2"]
