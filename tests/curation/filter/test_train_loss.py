"""filter.train_loss: the worst-fitted training examples, read from curatune train's losses.jsonl."""

from __future__ import annotations

import json

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.errors import InputError


def losses_file(tmp_path, n: int = 100):
    path = tmp_path / "losses.jsonl"
    rows = [{"rank": i + 1, "id": f"r{i}", "loss": float(n - i)} for i in range(n)]  # r0 has the highest loss
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def failed(step, ids):
    return [i for i in ids if not step.keep(Record(i, text="x")).kept]


def test_top_fraction_fails_exactly_the_worst(tmp_path):
    step = build_step("filter.train_loss", {"losses": str(losses_file(tmp_path)), "top_fraction": 0.05})
    assert failed(step, [f"r{i}" for i in range(100)]) == ["r0", "r1", "r2", "r3", "r4"]
    v = step.keep(Record("r0", text="x"))
    assert (v.reason, v.value, v.threshold) == ("high_train_loss", 100.0, 96.0)


def test_max_loss_and_unlisted_records(tmp_path):
    step = build_step("filter.train_loss", {"losses": str(losses_file(tmp_path)), "top_fraction": 0.0, "max_loss": 97.5})
    assert failed(step, [f"r{i}" for i in range(100)] + ["new-record"]) == ["r0", "r1", "r2"]


def test_missing_or_broken_file_names_the_fix(tmp_path):
    with pytest.raises(InputError, match="written by curatune train"):
        build_step("filter.train_loss", {"losses": str(tmp_path / "nope.jsonl")})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "loss": 1}\n{"id": "b"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: expected a JSON object with 'id' and 'loss'"):
        build_step("filter.train_loss", {"losses": str(bad)})


def test_short_correct_answers_are_not_the_worst(tmp_path):
    """By mean loss per token, short correct answers ("cmptr" -> "computer") came first; for their length, the planted wrong ones do."""
    import random

    from curatune.train.loss_rank import write_losses

    rng = random.Random(0)
    ids, losses, tokens = [], [], []
    for i in range(300):  # correct answers: short ones have a high mean loss per token, long ones a low one
        short = i % 2 == 0
        ids.append(f"ok{i}")
        tokens.append(rng.randint(2, 4) if short else rng.randint(40, 80))
        losses.append(rng.gauss(3.0, 0.3) if short else rng.gauss(1.0, 0.1))
    for i in range(6):  # wrong answers: above the others of their length, below the short correct ones for the long
        short = i % 2 == 0
        ids.append(f"wrong{i}")
        tokens.append(3 if short else 60)
        losses.append(6.0 if short else 2.0)
    path = tmp_path / "losses.jsonl"
    rows = write_losses(ids, losses, path, tokens)
    assert {r["id"] for r in rows[:6]} == {f"wrong{i}" for i in range(6)}
    by_loss = sorted(zip(losses, ids), reverse=True)[:6]
    assert sum(i.startswith("ok") for _, i in by_loss) >= 3  # what the plain loss ranking would have flagged
    step = build_step("filter.train_loss", {"losses": str(path), "top_fraction": 6 / 306})
    assert failed(step, ids) == [f"wrong{i}" for i in range(6)]
