"""curatune compare on the demo's two runs: paired on the same test examples, the same intervals again."""

from __future__ import annotations

from curatune.stages.compare import compare_runs
from curatune.stages.demo import QUICK


def test_compare_pairs_the_runs_on_the_same_test_examples(demo):
    pair = demo.comparison["pairs"][0]
    assert (pair["a"], pair["b"], pair["shared_examples"]) == ("raw", "curated", QUICK["n_test"])
    assert {"exact_match", "token_f1", "loss"} <= set(pair["metrics"])
    again = compare_runs([demo.out / "runs" / "raw", demo.out / "runs" / "curated"])
    assert again["pairs"][0]["metrics"]["loss"] == pair["metrics"]["loss"]  # same seed, same intervals
