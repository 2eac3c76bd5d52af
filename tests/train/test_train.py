"""curatune train on tiny models built here: each mode learns, overfitting is caught, the record after is right."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tiny_models import arithmetic, build_tiny_bert, build_tiny_lm, write_jsonl

from curatune.config.recipe import parse_recipe
from curatune.errors import RecipeError
from curatune.stages.train import train
from curatune.train.run import TrainingInterrupted


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    # A small initialisation, as real models have: a random wide one starts at a loss the tests cannot see fall.
    return build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02)


def noise(n: int, seed: int) -> list[dict]:
    """Unlearnable pairs: random answers, which a model can only memorise (the planted overfitting case)."""
    rng = random.Random(seed)
    word = lambda k: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(k))  # noqa: E731
    return [
        {"id": f"n{seed}-{i}", "messages": [{"role": "user", "content": word(4)}, {"role": "assistant", "content": word(12)}]}
        for i in range(n)
    ]


def recipe(tmp_path: Path, data: Path, **train) -> object:
    return parse_recipe({"name": "t", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "train": train})


def test_full_fine_tuning_lowers_validation_loss_and_ranks_every_example(tmp_path, lm):
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(200))
    r = recipe(
        tmp_path,
        data,
        model=str(lm),
        method="full",
        learning_rate=3e-3,
        max_steps=40,
        eval_steps=10,
        per_device_train_batch_size=8,
        max_seq_len=64,
    )
    res = train(r, track=False, echo=lambda s: None)
    evals = [e["eval_loss"] for e in res.summary["evaluations"]]
    assert len(evals) == 4 and evals[-1] < evals[0] * 0.8
    losses = [json.loads(line) for line in (res.train_dir / "losses.jsonl").read_text().splitlines()]
    assert len(losses) == 180 == res.summary["train_examples"]  # 10% held out
    assert [x["score"] for x in losses] == sorted((x["score"] for x in losses), reverse=True)  # worst for its length first
    assert all(x["tokens"] >= 1 and x["expected"] > 0 for x in losses)
    assert (res.train_dir / "curves.png").stat().st_size > 5000
    assert (res.train_dir / "model" / "model.safetensors").is_file()
    pre = json.loads((res.train_dir / "preflight.json").read_text())
    assert pre["train"]["end_of_turn"]["trained"] and pre["train"]["budget"]["total_steps"] == 40
    # An unchanged rerun is skipped.
    assert train(r, track=False, echo=lambda s: None).skipped


def test_planted_overfitting_is_warned_and_stopped_early_with_the_best_checkpoint_kept(tmp_path, lm):
    train_file = write_jsonl(tmp_path / "train.jsonl", noise(16, seed=1))
    val_file = write_jsonl(tmp_path / "val.jsonl", noise(16, seed=2))
    r = recipe(
        tmp_path,
        train_file,
        model=str(lm),
        method="full",
        val_data=str(val_file),
        learning_rate=1e-2,
        max_steps=300,
        eval_steps=5,
        per_device_train_batch_size=8,
        warmup_ratio=0.0,
        lr_scheduler_type="constant",
        early_stopping_patience=3,
        overfit_gap=1.0,
    )
    res = train(r, track=False, echo=lambda s: None)
    s = res.summary
    assert s["stopped_early"] and s["steps"] < 300
    assert s["best_step"] < s["steps"]
    assert s["best_eval_loss"] == min(e["eval_loss"] for e in s["evaluations"])
    kinds = {w["kind"] for w in s["overfitting_warnings"]}
    assert "diverging" in kinds or "gap" in kinds
    # The model kept is the best checkpoint's: its validation loss is the best one, not the last, and it is what was saved.
    import torch
    from safetensors.torch import load_file

    assert res.trainer.evaluate(metric_key_prefix="check")["check_loss"] == pytest.approx(s["best_eval_loss"], rel=1e-4)
    saved = load_file(res.train_dir / "model" / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in res.trainer.model.state_dict().items() if k in saved)


def test_lora_adapter_reloads_and_generates(tmp_path, lm):
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(120))
    r = recipe(
        tmp_path,
        data,
        model=str(lm),
        method="lora",
        lora_r=4,
        lora_alpha=8,
        learning_rate=1e-2,
        max_steps=15,
        eval_steps=5,
        per_device_train_batch_size=8,
    )
    res = train(r, track=False, echo=lambda s: None)
    s = res.summary
    assert 0 < s["trainable_params"] < s["total_params"] * 0.5
    adapter = res.train_dir / "model"
    assert (adapter / "adapter_config.json").is_file()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(lm)
    tuned = PeftModel.from_pretrained(base, adapter).eval()
    tok = AutoTokenizer.from_pretrained(adapter)
    ids = tok.apply_chat_template([{"role": "user", "content": "2+3"}], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = tuned.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3 or out[0, -1].item() == tok.eos_token_id
    # The reloaded adapter computes what the trained model computed.
    trained = res.trainer.model.eval()
    with torch.inference_mode():
        assert torch.allclose(trained(**ids).logits, tuned(**ids).logits, atol=1e-5)


def test_freeze_trains_only_the_top_layers(tmp_path, lm):
    import torch
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(60))
    r = recipe(tmp_path, data, model=str(lm), method="freeze", train_top_layers=1, learning_rate=1e-2, max_steps=5, val_set_size=0.0)
    res = train(r, track=False, echo=lambda s: None)
    before, after = load_file(lm / "model.safetensors"), load_file(res.train_dir / "model" / "model.safetensors")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("model.layers.1.") or k == "model.norm.weight" for k in changed)
    assert any(k.startswith("model.layers.1.") for k in changed)


def test_packing_wastes_no_tokens_on_padding_and_padding_does_without_it(tmp_path, lm):
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(100))
    packed = train(
        recipe(tmp_path, data, model=str(lm), method="full", packing=True, max_seq_len=128, max_steps=3, val_set_size=0.0),
        track=False,
        echo=lambda s: None,
    )
    assert packed.summary["tokens"]["padding_waste"] == 0.0
    padded = train(
        recipe(tmp_path, data, model=str(lm), method="full", packing=False, max_seq_len=128, max_steps=3, val_set_size=0.0),
        force=True,
        track=False,
        echo=lambda s: None,
    )
    assert padded.summary["tokens"]["padding_tokens"] > 0


def test_packed_sequences_do_not_attend_across_examples(lm):
    """Two sequences packed with restarting position ids give the logits each gives alone.

    transformers builds the block-diagonal mask from the position ids only without a cache:
    TRL's SFTTrainer passes ``use_cache=False`` in training; with a cache the second sequence
    would see the first.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(lm).eval()
    a, b = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[9, 10, 11]])
    with torch.inference_mode():
        alone = torch.cat([model(input_ids=a).logits, model(input_ids=b).logits], dim=1)
        packed = model(input_ids=torch.cat([a, b], 1), position_ids=torch.tensor([[0, 1, 2, 3, 0, 1, 2]]), use_cache=False).logits
    assert torch.allclose(alone, packed, atol=1e-5)


def test_interrupted_training_leaves_a_checkpoint_and_resumes_from_it(tmp_path, lm):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 7:
                raise KeyboardInterrupt

    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(80))
    r = recipe(tmp_path, data, model=str(lm), method="full", max_steps=12, eval_steps=5, learning_rate=1e-3)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 7.*checkpoint of step 7.*resume"):
        train(r, track=False, echo=lambda s: None, extra_callbacks=[Interrupt()])
    lines: list[str] = []
    res = train(r, track=False, echo=lines.append)
    assert any("Resuming from" in line and "checkpoint-7" in line for line in lines)
    assert res.summary["steps"] == 12
    # summary.json tells of the interruption, and times both attempts (it counted only the resumed one).
    s = json.loads((res.train_dir / "summary.json").read_text())
    assert s["interrupted"] is True and s["resumed_from_step"] == 7
    assert [(a["from_step"], a["at_step"], a["ended"]) for a in s["attempts"]] == [(0, 7, "interrupted"), (7, 12, "finished")]
    assert s["train_seconds"] == pytest.approx(sum(a["seconds"] for a in s["attempts"]), abs=0.02)
    assert s["train_seconds"] > s["train_seconds_last_attempt"] > 0


def test_dropout_sets_every_dropout_key_the_config_has(tmp_path, lm):
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(40))
    res = train(
        recipe(tmp_path, data, model=str(lm), method="full", dropout=0.2, max_steps=1, val_set_size=0.0), track=False, echo=lambda s: None
    )
    assert res.summary["dropout_keys_set"] == ["attention_dropout"]
    assert all(layer.self_attn.attention_dropout == 0.2 for layer in res.trainer.model.model.layers)


def test_classification_on_a_tiny_bert_learns_the_labels(tmp_path):
    rng = random.Random(0)
    pos, neg = ["good", "great", "fine", "nice"], ["bad", "awful", "poor", "sad"]
    rows = []
    for i in range(160):
        label = i % 2
        words = [rng.choice(pos if label else neg) for _ in range(3)] + [rng.choice(pos + neg)]
        rows.append({"id": f"c{i}", "text": " ".join(words), "label": "pos" if label else "neg"})
    data = write_jsonl(tmp_path / "c.jsonl", rows)
    bert = build_tiny_bert(tmp_path / "bert", pos + neg)
    r = recipe(
        tmp_path,
        data,
        model=str(bert),
        method="full",
        learning_rate=5e-3,
        max_steps=40,
        eval_steps=10,
        per_device_train_batch_size=16,
        max_seq_len=16,
    )
    res = train(r, track=False, echo=lambda s: None)
    evals = [e["eval_loss"] for e in res.summary["evaluations"]]
    assert res.summary["task"] == "classification" and evals[-1] < evals[0] * 0.5
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(res.train_dir / "model").id2label == {0: "neg", 1: "pos"}


def test_mlflow_run_holds_the_recipe_the_fingerprint_and_the_metrics(tmp_path, lm):
    import mlflow

    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(60))
    r = recipe(tmp_path, data, model=str(lm), method="full", max_steps=6, eval_steps=3, learning_rate=2e-3)
    res = train(r, echo=lambda s: None)
    info = res.summary["mlflow"]
    assert info["uri"] == f"sqlite:///{(tmp_path / 'runs').resolve() / 'mlflow.db'}"
    mlflow.set_tracking_uri(info["uri"])
    run = mlflow.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.learning_rate"] == "0.002" and run.data.params["train.max_steps"] == "6"
    assert run.data.params["dataset.fingerprint"] == res.summary["data"]["fingerprint"]
    assert {"eval_loss", "loss", "best_eval_loss", "tokens_per_second"} <= set(run.data.metrics)
    history = mlflow.MlflowClient().get_metric_history(info["run_id"], "eval_loss")
    assert [m.step for m in history] == [3, 6]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(info["run_id"])}
    assert {"curves.png", "preflight.json", "train.yaml", "model"} <= artifacts


def test_axolotl_names_are_accepted_and_written_back_with_ours(tmp_path):
    r = parse_recipe(
        {"data": {"path": "x"}, "train": {"num_epochs": 2, "micro_batch_size": 4, "sequence_len": 512, "train_on_inputs": True}}
    )
    resolved = r.train.resolved()
    assert (
        resolved["num_train_epochs"],
        resolved["per_device_train_batch_size"],
        resolved["max_seq_len"],
        resolved["train_on_inputs"],
    ) == (2.0, 4, 512, True)
    assert "num_epochs" not in resolved
    with pytest.raises(RecipeError, match="train.lerning_rate'. Did you mean 'learning_rate'"):
        parse_recipe({"data": {"path": "x"}, "train": {"lerning_rate": 1e-4}})
    with pytest.raises(RecipeError, match="train_top_layers only applies to method: freeze"):
        parse_recipe({"data": {"path": "x"}, "train": {"train_top_layers": 2}})


def test_lora_top_layers_adapts_only_the_top_layers(lm):
    from curatune.config.train import TrainConfig
    from curatune.train.model import load_model

    loaded = load_model(TrainConfig(model=str(lm), method="lora", lora_top_layers=1), "sft")
    adapted = {n.split(".layers.")[1].split(".")[0] for n, p in loaded.model.named_parameters() if p.requires_grad}
    assert adapted == {"1"}


def test_train_command_reads_the_recipe_and_its_overrides(tmp_path, lm):
    import yaml
    from typer.testing import CliRunner

    from curatune.cli import app

    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(40))
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(
        yaml.safe_dump(
            {
                "name": "cli",
                "runs_dir": str(tmp_path / "runs"),
                "data": {"path": str(data)},
                "train": {"model": str(lm), "method": "full", "max_steps": 2, "eval_steps": 1},
            }
        )
    )
    result = CliRunner().invoke(app, ["train", str(recipe_file), "-s", "train.learning_rate=0.005", "--no-tracking"])
    assert result.exit_code == 0, result.output
    assert "worst-fitted training examples" in result.output and "Training folder:" in result.output
    assert yaml.safe_load((tmp_path / "runs" / "cli" / "train" / "train.yaml").read_text())["learning_rate"] == 0.005
    missing = CliRunner().invoke(app, ["train", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
