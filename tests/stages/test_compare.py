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


def test_each_runs_figures_are_its_own_eval_metrics(demo):
    """compare showed chrF 29.49 and loss 1.871 where the run's eval/metrics.json said 20.28 and 2.14 (per-example means)."""
    import json

    for run in demo.comparison["runs"]:
        own = json.loads((demo.out / "runs" / run["name"] / "eval" / "metrics.json").read_text())["metrics"]
        for metric in ("loss", "chrf"):
            if metric in own:
                assert run["metrics"][metric]["estimate"] == own[metric]["tuned"]["estimate"]
                assert run["metrics"][metric]["source"] == "eval/metrics.json"


def test_cli_prints_the_funnel_in_words_and_says_when_runs_share_no_example(demo, tmp_path):
    import shutil

    import orjson
    from typer.testing import CliRunner

    from curatune.cli import app

    runs = demo.out / "runs"
    other = tmp_path / "elsewhere"
    shutil.copytree(runs / "curated", other)
    gens = other / "eval" / "generations.jsonl"
    rows = [orjson.loads(line) for line in gens.read_bytes().splitlines()]
    gens.write_bytes(b"".join(orjson.dumps({**r, "id": f"other-{r['id']}"}) + b"\n" for r in rows))
    result = CliRunner().invoke(app, ["compare", str(runs / "raw"), str(other)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "{" not in text  # no raw dict for the funnel or the settings
    assert "records in" in text and "kept" in text and "steps" in text
    assert "raw and elsewhere share no evaluated example" in text
    assert "eval/metrics.json" in text
