"""curatune tune on a tiny model: a search with pruning, its budget across reruns, an interruption, the best recipe, the MLflow tree."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tiny_models import arithmetic, build_tiny_lm, write_jsonl

from curatune.config.recipe import load_recipe, parse_recipe
from curatune.errors import RecipeError
from curatune.stages.tune import default_storage, tune
from curatune.train.run import TrainingInterrupted

# Cheap trials: 10 to 20 steps of 8 examples, evaluated every 5.
TRAIN = {
    "method": "full",
    "max_steps": 10,
    "eval_steps": 5,
    "per_device_train_batch_size": 8,
    "max_seq_len": 64,
    "save_model": False,
    "loss_rank_top": 0,
}


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02)


@pytest.fixture
def data(tmp_path) -> Path:
    return write_jsonl(tmp_path / "d.jsonl", arithmetic(120))


def raw(tmp_path: Path, data: Path, lm: Path, train: dict | None = None, **tune) -> dict:
    space = tune.pop("space", {"learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 1e-1}})
    return {
        "name": "search",
        "runs_dir": str(tmp_path / "runs"),
        "data": {"path": str(data)},
        "train": {"model": str(lm), **TRAIN, **(train or {})},
        "tune": {"space": space, **tune},
    }


def quiet(s: str) -> None:
    pass


def test_absurd_rates_are_pruned_and_the_best_recipe_trains_the_best_trial(tmp_path, data, lm):
    import mlflow
    import optuna

    r = parse_recipe(
        raw(
            tmp_path,
            data,
            lm,
            {"max_steps": 15},
            space={"learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 1e3}},
            n_trials=4,
            pruner="median",
        )
    )
    # The order is fixed so that the outcome is too: two sensible rates finish first, then two absurd ones meet the median.
    (tmp_path / "runs" / "search" / "tune").mkdir(parents=True)
    study = optuna.create_study(storage=default_storage(r), study_name="search", direction="minimize")
    for lr in (0.02, 0.05, 300.0, 1000.0):
        study.enqueue_trial({"learning_rate": lr})
    res = tune(r, echo=quiet, track=True)
    trials = res.study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    for t in trials[2:4]:
        folder = Path(t.user_attrs["folder"])
        assert t.user_attrs["steps"] < 15 and (folder / "pruned.json").is_file()
        assert not (folder / "summary.json").exists() and not (folder / "checkpoints").exists()

    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert res.summary["best"]["number"] == best.number
    again = load_recipe(res.best_recipe)
    assert again.tune is None and again.train.learning_rate == best.params["learning_rate"]
    assert again.train.max_steps == 15 and again.name == "search"
    rows = list(csv.DictReader((res.folder / "trials.csv").open()))
    assert [row["state"] for row in rows] == [t.state.name for t in trials]
    assert (res.folder / "optimization_history.png").stat().st_size > 5000
    assert "optimization_history.png" in (res.folder / "report.md").read_text()

    # One MLflow run for the search, every trial nested under it; pruned trials stopped, not failed.
    mlflow.set_tracking_uri(res.summary["mlflow"]["uri"])
    parent = res.summary["mlflow"]["run_id"]
    assert mlflow.get_run(parent).info.status == "FINISHED"
    children = mlflow.search_runs(
        experiment_names=["curatune"], filter_string=f"tags.mlflow.parentRunId = '{parent}'", output_format="list"
    )
    assert len(children) == 4
    states = sorted((c.data.tags.get("curatune.trial_state", ""), c.info.status) for c in children)
    assert states.count(("PRUNED", "KILLED")) == 2 and states.count(("", "FINISHED")) == 2


def test_n_trials_is_the_studys_total_across_reruns(tmp_path, data, lm):
    lines: list[str] = []
    first = tune(parse_recipe(raw(tmp_path, data, lm, n_trials=2)), echo=lines.append, track=False)
    assert len(first.study.trials) == 2
    second = tune(parse_recipe(raw(tmp_path, data, lm, n_trials=3)), echo=lines.append, track=False)
    assert len(second.study.trials) == 3 and any("(resumed: 2 finished): 1 more trials" in line for line in lines)
    lines.clear()
    third = tune(parse_recipe(raw(tmp_path, data, lm, n_trials=3)), echo=lines.append, track=False)
    assert len(third.study.trials) == 3 and "nothing to run" in lines[0]
    # Other training settings would make the trials incomparable: said, not mixed.
    with pytest.raises(RecipeError, match=r"other settings \(train.max_steps changed\).*tune.study_name"):
        tune(parse_recipe(raw(tmp_path, data, lm, {"max_steps": 12}, n_trials=4)), echo=quiet, track=False)


def test_an_interrupted_search_resumes_and_retries_the_interrupted_trial_from_its_checkpoint(tmp_path, data, lm):
    from transformers import TrainerCallback

    class InterruptTheSecondTrial(TrainerCallback):
        trainings = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.trainings += 1

        def on_step_end(self, args, state, control, **kwargs):
            if self.trainings == 2 and state.global_step == 7:
                raise KeyboardInterrupt

    recipe = parse_recipe(raw(tmp_path, data, lm, n_trials=2))
    with pytest.raises(TrainingInterrupted):
        tune(recipe, echo=quiet, track=False, extra_callbacks=[InterruptTheSecondTrial()])
    lines: list[str] = []
    res = tune(recipe, echo=lines.append, track=False, verbose=True)
    states = [t.state.name for t in res.study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]
    retry = res.study.trials[2]
    assert retry.user_attrs["retry_of"] == 1 and retry.params == res.study.trials[1].params
    assert retry.user_attrs["folder"].endswith("trial-1/train")
    assert any("Resuming from" in line and "checkpoint-7" in line for line in lines)
    assert res.best_recipe is not None and res.best_recipe.is_file()


def test_a_space_that_cannot_be_searched_says_why(tmp_path, data, lm):
    with pytest.raises(RecipeError, match=r"'lerning_rate' is not a train: field \(did you mean 'learning_rate'\?\)"):
        parse_recipe(raw(tmp_path, data, lm, space={"lerning_rate": {"type": "log_uniform", "low": 1e-5, "high": 1e-3}}))
    with pytest.raises(RecipeError, match="log_uniform range must be above 0"):
        parse_recipe(raw(tmp_path, data, lm, space={"weight_decay": {"type": "log_uniform", "low": 0, "high": 0.1}}))
    with pytest.raises(RecipeError, match="per_device_train_batch_size takes whole numbers; give it type: int"):
        parse_recipe(raw(tmp_path, data, lm, space={"per_device_train_batch_size": {"type": "uniform", "low": 4, "high": 16}}))
    with pytest.raises(RecipeError, match="tune.space.lora_r has no effect: train.method is 'full'"):
        tune(parse_recipe(raw(tmp_path, data, lm, space={"lora_r": {"type": "categorical", "choices": [4, 8]}})), echo=quiet, track=False)
    with pytest.raises(RecipeError, match="no validation data"):
        tune(parse_recipe(raw(tmp_path, data, lm, {"val_set_size": 0.0})), echo=quiet, track=False)
    grid = parse_recipe(
        raw(
            tmp_path,
            data,
            lm,
            space={
                "learning_rate": {"type": "log_uniform", "low": 1e-4, "high": 1e-2, "grid_points": 3},
                "lora_r": {"type": "int", "low": 4, "high": 16, "grid_points": 4},
                "lr_scheduler_type": {"type": "categorical", "choices": ["cosine", "constant"]},
            },
        )
    )
    assert grid.tune.grid() == {"learning_rate": [1e-4, 1e-3, 1e-2], "lora_r": [4, 8, 12, 16], "lr_scheduler_type": ["cosine", "constant"]}


def test_cli_lr_find_then_tune_print_the_suggestion_and_the_best_recipe(tmp_path, data, lm):
    import yaml
    from typer.testing import CliRunner

    from curatune.cli import app

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(raw(tmp_path, data, lm, n_trials=1)))
    runner = CliRunner()
    found = runner.invoke(app, ["lr-find", str(recipe), "--num-steps", "30", "--start-lr", "1e-5", "--end-lr", "1"])
    assert found.exit_code == 0, found.output
    text = " ".join(found.output.split())
    assert "suggested learning rate:" in text and "lr_find.png" in text
    searched = runner.invoke(app, ["tune", str(recipe), "--no-tracking", "-s", "tune.sampler=random"])
    assert searched.exit_code == 0, searched.output
    text = " ".join(searched.output.split())
    assert "1 complete" in text and "best_recipe.yaml" in text and "report.md" in text
    bad = runner.invoke(app, ["tune", str(recipe), "-s", "tune.sampler=bayes"])
    assert bad.exit_code == 2 and "tune.sampler" in bad.output


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tmp_path, data, lm):
    res = tune(parse_recipe(raw(tmp_path, data, lm, n_trials=4, n_jobs=2, sampler="random")), echo=quiet, track=False)
    finished = [t for t in res.study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4 and len({t.params["learning_rate"] for t in finished}) == 4
    assert res.best_recipe is not None and res.best_recipe.is_file()
