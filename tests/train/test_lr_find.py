"""The learning-rate range test on a tiny model: weights put back exactly, a rate suggested inside the range, ``learning_rate: auto``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tiny_models import arithmetic, build_tiny_lm, write_jsonl

from curatune.config.recipe import parse_recipe
from curatune.errors import RecipeError
from curatune.stages.lr_find import lr_find
from curatune.stages.train import train
from curatune.train.lr_find import Curve, RangeTestSettings, cannot_tell, range_test, suggest


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("lm"), hidden=32, layers=2, initializer_range=0.02)


def recipe(tmp_path: Path, data: Path, **train) -> object:
    return parse_recipe({"name": "lr", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}, "train": train})


@pytest.mark.parametrize("method", ["full", "lora"])
def test_range_test_restores_every_weight_and_suggests_a_rate_inside_the_range(tmp_path, lm, method):
    import torch
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(200))
    r = recipe(tmp_path, data, model=str(lm), method=method, per_device_train_batch_size=8, max_seq_len=64)
    settings = RangeTestSettings(start_lr=1e-6, end_lr=10.0, num_steps=40)
    res = lr_find(r, settings, echo=lambda s: None)
    assert settings.start_lr <= res.suggestion.steepest <= settings.end_lr
    assert settings.start_lr <= res.suggestion.min_div_10 <= settings.end_lr
    assert len(res.curve.lrs) <= 40 and res.curve.lrs[0] == pytest.approx(1e-6)
    assert (res.folder / "lr_find.png").stat().st_size > 5000
    stored = json.loads((res.folder / "lr_find.json").read_text())
    assert stored["learning_rate"] == res.suggestion.min_div_10 and len(stored["points"]) == len(res.curve.lrs)

    model = res.trainer.model
    if method == "full":
        # After the test the weights are the ones on disk, not the ones it trained.
        on_disk = load_file(lm / "model.safetensors")
        assert all(torch.equal(on_disk[k], v) for k, v in model.state_dict().items() if k in on_disk)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    curve = range_test(res.trainer, 1e-3, 1.0, 8)
    assert len(set(curve.losses)) > 1  # it did train
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)

    # The same test again is read back, not run.
    again = lr_find(r, settings, echo=lambda s: None)
    assert again.reused and again.suggestion.steepest == res.suggestion.steepest


def test_learning_rate_auto_trains_with_the_range_tests_suggestion(tmp_path, lm):
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(120))
    r = recipe(
        tmp_path,
        data,
        model=str(lm),
        method="full",
        learning_rate="auto",
        max_steps=6,
        eval_steps=3,
        per_device_train_batch_size=8,
        save_model=False,
    )
    lines: list[str] = []
    res = train(r, track=False, echo=lines.append)
    source = res.summary["learning_rate"]
    found = json.loads(Path(source["file"]).read_text())
    assert source["source"] == "lr_find" and source["value"] == float(f"{found['learning_rate']:.3g}")
    assert res.trainer.args.learning_rate == source["value"]
    assert json.loads((res.train_dir / "summary.json").read_text())["learning_rate"] == source
    assert any("learning_rate: auto ->" in line for line in lines)
    # Unchanged, the rerun is skipped: the range test is reused, so the key is the same.
    assert train(r, track=False, echo=lambda s: None).skipped


def test_suggestions_on_a_known_curve():
    lrs = [1e-6 * 10 ** (i / 10) for i in range(61)]  # 1e-6 .. 1
    # Flat, a fall centred on 1e-3, a minimum at 1e-2, then divergence.
    losses = [2.0 - 1.0 / (1 + math.exp(-4 * (math.log10(lr) + 3))) + (max(0.0, math.log10(lr) + 2) ** 2) for lr in lrs]
    s = suggest(Curve(lrs, losses, losses, diverged=True))
    assert s.steepest == pytest.approx(1e-3, rel=0.3)
    assert s.min_loss_lr == pytest.approx(1e-2, rel=0.3) and s.min_div_10 == pytest.approx(s.min_loss_lr / 10)
    # A loss that never falls has no steepest descent: min / 10 stands in.
    rising = [1.0 + i for i in range(len(lrs))]
    s = suggest(Curve(lrs, rising, rising, diverged=True))
    assert s.steepest_index == -1 and s.steepest == s.min_div_10 == pytest.approx(1e-7)
    # ... and that is below the first rate tried: refused, never suggested.
    reason = cannot_tell(Curve(lrs, rising, rising, diverged=True), s, RangeTestSettings(start_lr=1e-6, end_lr=1.0, num_steps=61))
    assert reason is not None and "below the tested range" in reason and "lower start_lr" in reason
    assert cannot_tell(Curve(lrs, losses, losses, diverged=True), suggest(Curve(lrs, losses, losses, True)), RangeTestSettings()) is None


def test_a_test_too_short_to_tell_is_refused_with_the_reason(tmp_path, lm):
    """12 steps from 1e-7 suggested 1e-8 ("Use it"): below its own start, from a curve shorter than the smoothing's lag."""
    data = write_jsonl(tmp_path / "d.jsonl", arithmetic(200))
    r = recipe(tmp_path, data, model=str(lm), method="full", per_device_train_batch_size=8, max_seq_len=64)
    with pytest.raises(RecipeError, match=r"too short to tell: 12 steps ran.* at least 27 are needed.* raise num_steps"):
        lr_find(r, RangeTestSettings(num_steps=12), echo=lambda s: None)
    assert not (tmp_path / "runs" / "lr" / "lr_find" / "lr_find.json").exists()  # nothing a rerun would reuse


def test_impossible_settings_say_what_to_change():
    with pytest.raises(RecipeError, match="start_lr .* must be above 0 and below end_lr"):
        RangeTestSettings(start_lr=1.0, end_lr=0.1).check()
    with pytest.raises(RecipeError, match="num_steps must be at least 5"):
        RangeTestSettings(num_steps=2).check()
