"""Training on several processes (torchrun, gloo on CPUs): the same curve as one process with the same global batch,
and the run folder, the MLflow runs and the evaluation written once, by rank 0.

The launches are real (``torchrun --standalone --nproc_per_node 2 -m curatune ...``, offline), so these are slow
tests; the pieces they rest on (which rank writes, the lock, the configs) are checked fast below them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from tiny_models import arithmetic, build_tiny_lm, write_jsonl

import curatune
from curatune.config.recipe import parse_recipe
from curatune.config.train import TrainConfig
from curatune.distributed import Launch, from_main, launch
from curatune.errors import CuratuneError, RecipeError
from curatune.stages.train import train
from curatune.staging import lock_file, locked
from curatune.train.accelerate_config import STRATEGIES, accelerate_config, write_accelerate_config

SRC = Path(curatune.__file__).parents[1]


def torchrun(args: list[str], cwd: Path, processes: int = 2) -> subprocess.CompletedProcess:
    """``curatune ARGS`` under torchrun with ``processes`` CPU processes (a free port: ``--standalone``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", "curatune", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def losses(train_dir: Path) -> tuple[dict[int, float], dict[int, float], list[dict]]:
    rows = [json.loads(line) for line in (train_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}, {r["step"]: r["eval_loss"] for r in rows if "eval_loss" in r}, rows


def mlflow_runs(runs_dir: Path) -> list:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{runs_dir.resolve() / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=["curatune"], output_format="list")


@pytest.mark.slow
def test_two_processes_follow_the_one_process_curve_and_write_the_run_folder_once(tmp_path):
    lm = build_tiny_lm(tmp_path / "lm", hidden=32, layers=2, initializer_range=0.02)
    write_jsonl(tmp_path / "d.jsonl", arithmetic(200))
    section = dict(model=str(lm), method="full", learning_rate=3e-3, max_steps=12, eval_steps=4, max_seq_len=64, dropout=0.0)
    # The same global batch of 8: 8 in one process, 4 in each of two.
    one = parse_recipe(
        {
            "name": "one",
            "runs_dir": str(tmp_path / "runs1"),
            "data": {"path": "d.jsonl"},
            "train": {**section, "per_device_train_batch_size": 8},
        }
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        single = train(one, echo=lambda s: None)
    finally:
        os.chdir(cwd)
    raw = {"name": "two", "runs_dir": "runs2", "data": {"path": "d.jsonl"}, "train": {**section, "per_device_train_batch_size": 4}}
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(raw))

    done = torchrun(["train", "two.yaml"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    train_dir = tmp_path / "runs2" / "two" / "train"
    summary = json.loads((train_dir / "summary.json").read_text())
    assert summary["processes"] == 2 and single.summary["processes"] == 1
    assert summary["steps"] == single.summary["steps"] == 12 and summary["epochs"] == single.summary["epochs"]
    # Every token of both processes counted, as one process counts its own.
    assert summary["tokens"]["processed_tokens"] > 0.8 * single.summary["tokens"]["processed_tokens"]

    train2, eval2, rows = losses(train_dir)
    train1, eval1, _ = losses(single.train_dir)
    assert sorted(train2) == sorted(train1) == [4, 8, 12] and sorted(eval2) == sorted(eval1) == [4, 8, 12]
    for step in train1:  # the same batches in the same order, the gradients averaged: equal up to summation order
        assert train2[step] == pytest.approx(train1[step], rel=1e-3)
        assert eval2[step] == pytest.approx(eval1[step], rel=1e-2)
    assert train1[12] < train1[4]  # a curve that moves, not a flat line matched to itself
    # Written once: one line per log in metrics.jsonl, every example ranked once, one MLflow run with one point per step.
    assert len(rows) == len({(r["step"], tuple(sorted(r))) for r in rows}) == 7
    ranked = [json.loads(line)["id"] for line in (train_dir / "losses.jsonl").read_text().splitlines()]
    assert len(ranked) == len(set(ranked)) == 180
    assert (train_dir / "model" / "model.safetensors").is_file() and (train_dir / "preflight.json").is_file()
    runs = mlflow_runs(tmp_path / "runs2")
    assert [r.info.run_name for r in runs] == ["two/train"] and runs[0].info.status == "FINISHED"
    from mlflow import MlflowClient

    assert [m.step for m in MlflowClient().get_metric_history(runs[0].info.run_id, "loss")] == [4, 8, 12]
    # Rank 0 speaks for both.
    assert done.stdout.count("trained 12 steps") == 1 and done.stdout.count("Training folder:") == 1

    # A rerun with nothing changed is skipped by every rank, on rank 0's word.
    again = torchrun(["train", "two.yaml"], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Unchanged since the last training") == 1
    assert len(mlflow_runs(tmp_path / "runs2")) == 1


@pytest.mark.slow
def test_the_whole_loop_on_two_processes_curates_evaluates_and_reports_once(tmp_path, demo_lm):
    from curatune.generate.triage import generate_triage
    from curatune.stages.demo import QUICK, demo_recipe
    from curatune.stages.loop import run_loop

    data = generate_triage(tmp_path / "data", n_train=80, n_test=6, seed=1)
    settings = {**QUICK, "max_steps": 4, "eval_steps": 2, "limit": 4}
    raw = demo_recipe("r", data["train"].path, data["test"].path, tmp_path / "runs2", True, settings, demo_lm)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    done = torchrun(["run", "r.yaml"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs2" / "r"
    assert (run / "run.json").is_file() and (run / "eval" / "key.json").is_file() and (run / "report.html").is_file()
    assert json.loads((run / "train" / "summary.json").read_text())["processes"] == 2
    assert done.stdout.count("curate: ") == 1 and done.stdout.count("Run folder:") == 1

    # The same MLflow runs as one process makes: none twice.
    one = demo_recipe("r", data["train"].path, data["test"].path, tmp_path / "runs1", True, settings, demo_lm)
    run_loop(parse_recipe(one), echo=lambda s: None)
    names = Counter(r.info.run_name for r in mlflow_runs(tmp_path / "runs2"))
    assert names == Counter(r.info.run_name for r in mlflow_runs(tmp_path / "runs1")) and max(names.values()) == 1


@pytest.mark.slow
def test_a_search_on_two_processes_prunes_like_one_and_records_each_trial_once(tmp_path):
    import optuna

    from curatune.stages.tune import default_storage

    lm = build_tiny_lm(tmp_path / "lm", hidden=32, layers=2, initializer_range=0.02)
    write_jsonl(tmp_path / "d.jsonl", arithmetic(120))
    train_section = {"model": str(lm), "method": "full", "max_steps": 15, "eval_steps": 5, "per_device_train_batch_size": 4}
    train_section |= {"max_seq_len": 64, "save_model": False, "loss_rank_top": 0}
    space = {"learning_rate": {"type": "log_uniform", "low": 1e-3, "high": 1e3}}
    raw = {"name": "search", "runs_dir": "runs", "data": {"path": "d.jsonl"}, "train": train_section}
    raw["tune"] = {"space": space, "n_trials": 4, "pruner": "median"}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    # As in test_tune's one-process search: two sensible rates finish first, then two absurd ones meet the median.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        (tmp_path / "runs" / "search" / "tune").mkdir(parents=True)
        study = optuna.create_study(storage=default_storage(parse_recipe(raw)), study_name="search", direction="minimize")
    finally:
        os.chdir(cwd)
    for lr in (0.02, 0.05, 300.0, 1000.0):
        study.enqueue_trial({"learning_rate": lr})

    done = torchrun(["tune", "r.yaml"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = optuna.load_study(study_name="search", storage=study._storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    tune_dir = tmp_path / "runs" / "search" / "tune"
    for t in trials:
        summary = tmp_path / t.user_attrs["folder"] / "summary.json"
        if t.state.name == "COMPLETE":
            assert json.loads(summary.read_text())["processes"] == 2
        else:  # stopped on both ranks at the same evaluation, its folder marked by rank 0
            assert t.user_attrs["steps"] < 15 and not summary.exists() and (summary.parent / "pruned.json").is_file()
    assert (tune_dir / "best_recipe.yaml").is_file()
    rows = (tune_dir / "trials.csv").read_text().splitlines()
    assert len(rows) == 5
    names = Counter(r.info.run_name for r in mlflow_runs(tmp_path / "runs"))
    assert sum(names.values()) == 5 and max(names.values()) == 1  # the search and its four trials, each once
    assert done.stdout.count("trial 3") == 1


# ---- the pieces, fast ---------------------------------------------------------------------------------------------


def as_rank(monkeypatch, rank: int, world: int = 2) -> None:
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("LOCAL_RANK", str(rank))


def test_the_launchers_environment_names_the_rank(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert launch() == Launch(0, 1, 0) and launch().is_main and not launch().distributed
    assert from_main(lambda: 7) == 7  # one process: no group, the work done here
    as_rank(monkeypatch, 1)
    assert launch() == Launch(1, 2, 1) and not launch().is_main and launch().distributed
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(CuratuneError, match="RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers"):
        launch()


def test_only_rank_0_takes_the_run_folders_lock(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    as_rank(monkeypatch, 1)
    with locked(folder):
        assert not lock_file(folder).exists()
    as_rank(monkeypatch, 0)
    with locked(folder):
        assert lock_file(folder).exists()


def test_learning_rate_auto_and_tune_in_worker_processes_refuse_to_start_on_several_processes(tmp_path, monkeypatch):
    from curatune.stages.tune import tune

    write_jsonl(tmp_path / "d.jsonl", arithmetic(20))
    as_rank(monkeypatch, 0)
    r = parse_recipe(
        {
            "name": "t",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"path": str(tmp_path / "d.jsonl")},
            "train": {"learning_rate": "auto"},
            "tune": {"space": {"lora_r": {"type": "categorical", "choices": [4, 8]}}, "n_jobs": 2},
        }
    )
    with pytest.raises(RecipeError, match="range test runs in one process.*curatune lr-find RECIPE"):
        train(r, track=False, echo=lambda s: None)
    with pytest.raises(RecipeError, match="tune.n_jobs is 2.*every process trains each trial together. Set tune.n_jobs: 1"):
        tune(r, track=False)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_writes_a_config_accelerate_reads(tmp_path, strategy):
    from accelerate.commands.config.config_args import load_config_from_file

    config = TrainConfig(gradient_accumulation_steps=4, max_grad_norm=0.5, bf16=True)
    path = write_accelerate_config(tmp_path / "a.yaml", accelerate_config(strategy, config, 8), "r.yaml", strategy)
    assert "accelerate launch --config_file" in path.read_text().splitlines()[1]
    loaded = load_config_from_file(str(path))  # Accelerate's own reader: an unknown key is an error there
    assert loaded.num_processes == 8 and loaded.mixed_precision == "bf16"
    assert str(loaded.distributed_type).endswith(
        {"ddp": "MULTI_GPU", "fsdp2": "FSDP", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED"}[strategy]
    )
    if strategy.startswith("zero"):
        ds = loaded.deepspeed_config
        assert (ds["zero_stage"], ds["gradient_accumulation_steps"], ds["gradient_clipping"]) == (int(strategy[-1]), 4, 0.5)
    if strategy == "fsdp2":
        assert loaded.fsdp_config["fsdp_version"] == 2 and loaded.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_a_config_that_cannot_work_is_refused_with_every_reason():
    with pytest.raises(RecipeError) as e:
        accelerate_config("zero4", TrainConfig(), 3, num_machines=2)
    text = str(e.value)
    assert "--strategy must be one of ddp, fsdp2, zero2, zero3. Got 'zero4'" in text
    assert "positive multiple of --num-machines" in text and "--main-process-ip" in text
    with pytest.raises(RecipeError, match="--cpu goes with --strategy ddp only"):
        accelerate_config("fsdp2", TrainConfig(), 2, cpu=True)
    assert accelerate_config("ddp", TrainConfig(), 2, cpu=True)["mixed_precision"] == "no"


FAILING_ON_RANK_0 = """
import sys
from curatune.distributed import from_main, end_group
from curatune.errors import InputError

def work():
    raise InputError("data.jsonl line 3: no messages")

try:
    from_main(work)
except Exception as e:
    print(f"{type(e).__name__} {getattr(e, 'exit_code', None)}: {e}")
finally:
    end_group()
"""


@pytest.mark.slow
def test_a_failure_on_rank_0_stops_the_others_with_its_message_and_exit_code(tmp_path):
    (tmp_path / "fail.py").write_text(FAILING_ON_RANK_0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "fail.py"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = sorted(line for line in done.stdout.splitlines() if "data.jsonl" in line)
    assert lines == [
        "InputError 3: data.jsonl line 3: no messages",
        "RankFailed 3: rank 0 failed, so rank 1 stops: data.jsonl line 3: no messages",
    ]
