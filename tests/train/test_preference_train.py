"""Preference training (task: dpo, kto) on a tiny model built here: the reward margin on the training pairs rises, the checks
before count what they should, and the recipe keys that do not fit a preference task are refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tiny_models import build_tiny_lm, write_jsonl

from curatune.config.recipe import parse_recipe
from curatune.errors import InputError, RecipeError
from curatune.stages.train import train


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02)


def sums(n: int, seed: int = 0) -> list[dict]:
    """Preference pairs a tiny model can learn and carry to pairs it has not seen: chosen is the sum, rejected a refusal
    followed by a wrong sum (what is preferred is the same on every pair)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randrange(10), rng.randrange(10)
        wrong = (a + b + rng.randrange(1, 9)) % 19
        out.append({"id": f"p{seed}-{i}", "prompt": [{"role": "user", "content": f"{a}+{b}"}],
                    "chosen": [{"role": "assistant", "content": str(a + b)}],
                    "rejected": [{"role": "assistant", "content": f"no {wrong}"}]})  # fmt: skip
    return out


def recipe(tmp_path: Path, data: Path, **train_keys) -> object:
    return parse_recipe({"name": "p", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "train": train_keys})


def test_dpo_raises_the_reward_margin_on_training_pairs_and_ranks_every_pair(tmp_path, lm):
    data = write_jsonl(tmp_path / "pairs.jsonl", sums(120))
    r = recipe(tmp_path, data, model=str(lm), method="lora", lora_r=8, lora_alpha=16, learning_rate=5e-3, max_steps=30, eval_steps=10,
               per_device_train_batch_size=8, max_seq_len=64, beta=0.5, warmup_ratio=0.0)  # fmt: skip
    res = train(r, track=False, echo=lambda s: None)
    s = res.summary
    assert s["task"] == "dpo" and s["steps"] == 30
    # Before the first step the policy is the reference: every margin is 0. After: positive, and most pairs ranked right.
    assert s["train_pairs"]["pairs"] == 108 == s["train_examples"]  # 10% of 120 held out
    assert s["train_pairs"]["reward_margin"] > 0.2 and s["train_pairs"]["reward_accuracy"] > 0.8
    margins = [e["eval_reward_margin"] for e in s["evaluations"]]
    assert len(margins) == 3 and margins[-1] > margins[0] > 0
    rows = [json.loads(line) for line in (res.train_dir / "pair_rewards.jsonl").read_text().splitlines()]
    assert len(rows) == 108 and [x["margin"] for x in rows] == sorted(x["margin"] for x in rows)
    assert (res.train_dir / "model" / "adapter_config.json").is_file()
    pre = json.loads((res.train_dir / "preflight.json").read_text())
    assert pre["train"]["examples"] == 108 and pre["train"]["too_long"] == [] and pre["train"]["budget"]["total_steps"] == 30
    assert train(r, track=False, echo=lambda s: None).skipped


def test_preflight_lists_pairs_over_max_seq_len_per_side_and_drops_those_with_no_answer_left(tmp_path, lm):
    pairs = sums(20)
    pairs[0]["chosen"][0]["content"] = " ".join(["9"] * 80)  # one long side
    pairs[1]["prompt"][0]["content"] = " ".join(["1+1"] * 60)  # a prompt that fills max_seq_len alone
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    base = dict(model=str(lm), method="full", learning_rate=1e-3, max_steps=1, per_device_train_batch_size=4, max_seq_len=48,
                val_set_size=0.0, rank_losses=False, save_model=False)  # fmt: skip
    res = train(recipe(tmp_path / "d", data, **base), track=False, echo=lambda s: None)
    pre = json.loads((res.train_dir / "preflight.json").read_text())["train"]
    assert sorted(t["id"] for t in pre["too_long"]) == ["p0-0", "p0-1"] and res.summary["train_examples"] == 18
    long_answer = next(t for t in pre["too_long"] if t["id"] == "p0-0")
    assert long_answer["tokens"]["chosen"] > 48 >= long_answer["tokens"]["rejected"]  # each side measured
    res = train(recipe(tmp_path / "t", data, on_too_long="truncate", **base), track=False, echo=lambda s: None)
    pre = json.loads((res.train_dir / "preflight.json").read_text())["train"]
    assert pre["no_trained"] == ["p0-1"] and res.summary["train_examples"] == 19  # the long answer is cut, the long prompt left out
    with pytest.raises(InputError, match="2 preference records have a side longer than max_seq_len 48"):
        train(recipe(tmp_path / "e", data, on_too_long="error", **base), track=False, echo=lambda s: None)


def test_kto_trains_on_pairs_split_into_desirable_and_undesirable_examples(tmp_path, lm):
    data = write_jsonl(tmp_path / "pairs.jsonl", sums(40))
    r = recipe(tmp_path, data, model=str(lm), task="kto", method="lora", learning_rate=5e-3, max_steps=4, eval_steps=2,
               per_device_train_batch_size=4, max_seq_len=64)  # fmt: skip
    s = train(r, track=False, echo=lambda s: None).summary
    assert s["task"] == "kto" and s["train_examples"] == 72  # 36 pairs, two examples each
    assert s["train_pairs"]["pairs"] == 36


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"task": "dpo", "packing": True}, "packing does not apply to task: dpo"),
        ({"task": "dpo", "learning_rate": "auto"}, "learning_rate: auto runs the range test"),
        ({"task": "sft", "beta": 0.2}, "beta applies to the preference tasks"),
        ({"task": "dpo", "simpo_gamma": 1.0}, "simpo_gamma applies to task: simpo only"),
        ({"task": "kto", "per_device_train_batch_size": 1}, "per_device_train_batch_size must be at least 2"),
        ({"start_from": "runs/sft", "model": "x"}, "start_from .* and model .* both name the model"),
    ],
)
def test_keys_that_do_not_fit_the_task_are_refused(tmp_path, keys, message):
    with pytest.raises(RecipeError, match=message):
        recipe(tmp_path, tmp_path / "x.jsonl", **keys)


def test_preference_records_with_the_wrong_task_are_refused_with_the_fix(tmp_path, lm):
    data = write_jsonl(tmp_path / "pairs.jsonl", sums(10))
    with pytest.raises(InputError, match="train.task is sft. Set train.task: dpo"):
        train(recipe(tmp_path, data, model=str(lm), task="sft"), track=False, echo=lambda s: None)
    unpaired = [{"id": f"u{i}", "prompt": [{"role": "user", "content": "1+1"}], "completion": [{"role": "assistant", "content": "2"}],
                 "label": i % 2 == 0} for i in range(10)]  # fmt: skip
    data = write_jsonl(tmp_path / "kto.jsonl", unpaired)
    with pytest.raises(InputError, match="10 records .* are unpaired KTO examples .* Set train.task: kto"):
        train(recipe(tmp_path / "b", data, model=str(lm), task="dpo"), track=False, echo=lambda s: None)


@pytest.mark.parametrize("task", ["orpo", "simpo"])
def test_reference_free_tasks_train_through_trl_experimental_trainers(tmp_path, lm, task):
    data = write_jsonl(tmp_path / "pairs.jsonl", sums(60))
    r = recipe(tmp_path, data, model=str(lm), task=task, method="full", learning_rate=5e-3, max_steps=10, eval_steps=5,
               per_device_train_batch_size=8, max_seq_len=64, warmup_ratio=0.0, rank_losses=True)  # fmt: skip
    s = train(r, track=False, echo=lambda s: None).summary
    assert s["task"] == task and s["steps"] == 10
    losses = [e["eval_loss"] for e in s["evaluations"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    # Measured against the start model (a frozen copy kept for it), though no reference is in these losses: any sign.
    assert s["train_pairs"]["pairs"] == 54 and s["train_pairs"]["reward_margin"] != 0


def test_start_from_trains_the_supervised_runs_merged_model_and_saves_it_whole(tmp_path, lm):
    import torch
    from safetensors.torch import load_file

    sft_data = write_jsonl(
        tmp_path / "sft.jsonl", [{"id": f"c{i}", "messages": [p["prompt"][0], p["chosen"][0]]} for i, p in enumerate(sums(40))]
    )
    sft = parse_recipe({"name": "sft", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(sft_data)},
                        "train": {"model": str(lm), "method": "lora", "learning_rate": 5e-2, "max_steps": 5,
                                  "per_device_train_batch_size": 8, "val_set_size": 0.0, "rank_losses": False,
                                  "lora_dropout": 0.0}})  # fmt: skip
    sft_dir = train(sft, track=False, echo=lambda s: None).train_dir.parent
    data = write_jsonl(tmp_path / "pairs.jsonl", sums(16))
    # A learning rate of ~0: the model trained is the model started from, so what is saved is the supervised run's merged model.
    r = recipe(tmp_path, data, start_from=str(sft_dir), method="lora", learning_rate=1e-12, max_steps=1, per_device_train_batch_size=8,
               val_set_size=0.0)  # fmt: skip
    res = train(r, track=False, echo=lambda s: None)
    assert res.summary["model"] == str(lm) and res.summary["start_from"] == str(sft_dir)
    assert not (res.train_dir / "model" / "adapter_config.json").exists()
    saved = load_file(res.train_dir / "model" / "model.safetensors")
    base = load_file(lm / "model.safetensors")
    key = next(k for k in base if "q_proj.weight" in k)
    assert key in saved and not torch.allclose(saved[key], base[key], atol=1e-4)  # the adapter was merged in
    assert abs(res.summary["train_pairs"]["reward_margin"]) < 1e-3  # and it is the reference: no margin yet
    with pytest.raises(InputError, match="is not a finished training"):
        train(recipe(tmp_path / "x", data, start_from=str(tmp_path / "nowhere")), track=False, echo=lambda s: None)


def test_an_interrupted_dpo_training_resumes_from_its_checkpoint(tmp_path, lm):
    from transformers import TrainerCallback

    from curatune.train.run import TrainingInterrupted

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    data = write_jsonl(tmp_path / "pairs.jsonl", sums(40))
    r = recipe(tmp_path, data, model=str(lm), method="lora", learning_rate=5e-3, max_steps=6, eval_steps=2, per_device_train_batch_size=4,
               max_seq_len=64, rank_losses=False)  # fmt: skip
    with pytest.raises(TrainingInterrupted, match="interrupted at step 3.*checkpoint of step 3"):
        train(r, track=False, echo=lambda s: None, extra_callbacks=[Interrupt()])
    lines: list[str] = []
    res = train(r, track=False, echo=lines.append)
    assert any("Resuming from" in line and "checkpoint-3" in line for line in lines)
    assert res.summary["steps"] == 6 and [e["step"] for e in res.summary["evaluations"]] == [4, 6]


def test_the_watch_warns_when_the_validation_margin_falls_while_trainings_rises():
    from types import SimpleNamespace

    from curatune.train.callbacks import PreferenceWatcher

    def run(eval_margins: list[float]) -> list[str]:
        w = PreferenceWatcher(gap=10.0, rising=2)
        for step, (train_margin, eval_margin) in enumerate(zip([0.1, 0.5, 0.9], eval_margins), start=1):
            state = SimpleNamespace(global_step=step * 10)
            w.on_log(None, state, None, logs={"loss": 0.6, "rewards/margins": train_margin})
            w.on_evaluate(
                None, state, None, metrics={"eval_loss": 0.6, "eval_rewards/margins": eval_margin, "eval_rewards/accuracies": 0.5}
            )
        return [x["kind"] for x in w.warnings]

    assert run([0.3, 0.2, 0.1]) == ["margin_falling"]
    assert run([0.3, 0.2, 0.25]) == [] and run([0.1, 0.2, 0.3]) == []
