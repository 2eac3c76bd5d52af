"""The demo's triage data: deterministic, noise planted on whole kinds of input, removed exactly by default curation."""

from __future__ import annotations

import json

from curatune.config.recipe import parse_recipe
from curatune.generate.triage import REFUSAL, generate_triage, make_triage
from curatune.stages.curate import curate


def test_same_seed_same_bytes_and_a_clean_test_set(tmp_path):
    a = generate_triage(tmp_path / "a", n_train=300, n_test=40, seed=5)
    generate_triage(tmp_path / "b", n_train=300, n_test=40, seed=5)
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()
    test = [json.loads(line) for line in (tmp_path / "a" / "test.jsonl").read_text().splitlines()]
    truth = [json.loads(line) for line in (tmp_path / "a" / "test.truth.jsonl").read_text().splitlines()]
    assert len(test) == 40 == a["test"].n_lines
    assert all(t["noise"] is None for t in truth)
    assert [r["messages"][-1]["content"] for r in test] == [f"{t['category']} / {t['priority']}" for t in truth]


def test_noise_sits_on_whole_kinds_of_input():
    rows, truth = make_triage(2000, seed=1)
    security = [t for t in truth if t["category"] == "security" and t["noise"] != "duplicate"]
    refused = [t for t in security if t["noise"] == "refusal"]
    assert len(refused) / len(security) > 0.7  # most security tickets are refused: a model trained on them refuses
    assert all(t["category"] == "security" for t in truth if t["noise"] == "refusal")
    # N/A is the single most frequent answer among the rest: more than any one category gets.
    rest = [t for t in truth if t["category"] != "security" and t["noise"] != "duplicate"]
    na = sum(t["noise"] == "placeholder" for t in rest)
    assert 0.3 < na / len(rest) < 0.4
    assert all(na > sum(t["category"] == c and t["noise"] is None for t in rest) for c in ("billing", "login", "shipping", "bug", "refund"))
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[t["id"]]["messages"][-1]["content"] == REFUSAL for t in refused)


def test_default_curation_drops_exactly_the_planted_junk(tmp_path):
    split = generate_triage(tmp_path / "d", n_train=400, seed=2)
    recipe = parse_recipe(
        {"name": "c", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(split["train"].path)}, "curate": {"workers": 1}}
    )
    result = curate(recipe)
    truth = [json.loads(line) for line in (tmp_path / "d" / "train.truth.jsonl").read_text().splitlines()]
    kept = {json.loads(line)["id"] for line in (result.run_dir / "data" / "kept.jsonl").read_text().splitlines()}
    junk = {t["id"] for t in truth if t["noise"] in ("refusal", "placeholder", "empty", "duplicate")}
    assert not (junk & kept)
    clean = {t["id"] for t in truth if t["noise"] in (None, "mojibake")}
    assert len(clean - kept) <= len(clean) * 0.03  # a few clean near-duplicate tickets may go too
