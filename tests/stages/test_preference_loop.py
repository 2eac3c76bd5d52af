"""curatune run with a preference recipe on a tiny model: curate the pairs, split them, train with DPO, evaluate on held-out pairs
(rewards, generations, output safety, the blind sheet), report, compare."""

from __future__ import annotations

import json
import random

import pytest
from tiny_models import write_jsonl

from curatune.config.recipe import parse_recipe
from curatune.stages.compare import compare_runs
from curatune.stages.loop import run_loop


def pairs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randrange(10), rng.randrange(10)
        out.append({"id": f"s{seed}-{i}", "prompt": [{"role": "user", "content": f"{a}+{b}"}],
                    "chosen": [{"role": "assistant", "content": str(a + b)}],
                    "rejected": [{"role": "assistant", "content": f"no {(a + b + 3) % 19}"}]})  # fmt: skip
    return out


@pytest.mark.slow
def test_a_preference_recipe_runs_the_whole_loop(tmp_path, demo_lm):
    rows = pairs(100, seed=1)
    for row in rows[:6]:  # planted: nothing to prefer
        row["rejected"] = row["chosen"]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    test = write_jsonl(tmp_path / "test.jsonl", pairs(12, seed=2))
    raw = {
        "name": "dpo",
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": str(data)},
        "curate": {"workers": 1, "steps": [{"step": "pair.empty_side"}, {"step": "pair.same_answers"}]},
        "split": {"val": 0.1, "test": 0.0, "seed": 0},
        "train": {"model": demo_lm, "task": "dpo", "method": "lora", "learning_rate": 5e-3, "max_steps": 12, "eval_steps": 6,
                  "per_device_train_batch_size": 8, "max_seq_len": 64, "beta": 0.5, "warmup_ratio": 0.0},
        "eval": {"data": str(test), "max_new_tokens": 4, "human_sheet": True},
    }  # fmt: skip
    result = run_loop(parse_recipe(raw), echo=lambda s: None, track=False)
    assert result.stages["curate"]["kept"] == 94 and result.stages["curate"]["dropped"] == 6
    summary = json.loads((result.run_dir / "train" / "summary.json").read_text())
    assert summary["task"] == "dpo" and summary["train_pairs"]["reward_accuracy"] > 0.8
    metrics = json.loads((result.run_dir / "eval" / "metrics.json").read_text())
    assert metrics["task"] == "dpo" and metrics["n"] == 12
    reward = metrics["metrics"]["reward_accuracy"]
    assert reward["base"]["estimate"] == 0 and reward["tuned"]["estimate"] > 0.8 and reward["difference"]["low"] > 0
    assert metrics["metrics"]["reward_margin"]["tuned"]["estimate"] > 0
    assert set(metrics["safety"]) == {"base", "tuned", "reference"}
    assert metrics["human_sheet"]["items"] == 12
    row = json.loads((result.run_dir / "eval" / "generations.jsonl").read_text().splitlines()[0])
    assert set(row["metrics"]["tuned"]) >= {"reward_margin", "reward_accuracy", "preference_accuracy"}
    html = result.report.read_text(encoding="utf-8")
    assert "reward accuracy on the training pairs" in html and "<td>reward margin</td>" in html
    # The same training on the uncurated pairs, compared on the same held-out pairs.
    raw_run = {**raw, "name": "dpo-raw", "curate": {"workers": 1, "steps": []}}
    other = run_loop(parse_recipe(raw_run), echo=lambda s: None, track=False)
    comparison = compare_runs([other.run_dir, result.run_dir])
    assert comparison["pairs"][0]["shared_examples"] == 12 and "reward_margin" in comparison["pairs"][0]["metrics"]
    assert comparison["runs"][0]["settings"]["task"] == "dpo"
