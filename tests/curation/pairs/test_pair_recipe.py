"""Preference data through curate: the preference recipe chosen by itself, and the prompt-side checks reading the right text."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import yaml

from curatune.config.recipe import default_steps, parse_recipe
from curatune.curation.record import Record
from curatune.curation.registry import build_step
from curatune.stages.curate import curate

GOOD = [
    ("How do I boil an egg?", "Boil water, lower the egg in gently, and cook it for nine minutes.", "Microwave it."),
    ("Name a large planet.", "Jupiter is the largest planet in our solar system.", "The Moon."),
    ("What is the capital of France?", "The capital of France is Paris.", "It is Lyon, I think."),
    ("Give me a synonym for happy.", "Cheerful is a good synonym for happy.", "Sad."),
    ("How many legs does a spider have?", "A spider has eight legs.", "Six, like an insect."),
]


def write_pairs(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def ledger_drops(run_dir: Path) -> dict[str, tuple[str, str]]:
    table = pq.read_table(run_dir / "ledger.parquet").to_pylist()
    return {r["id"]: (r["step"], r["reason"]) for r in table if r["action"] == "drop"}


def test_the_default_recipe_for_preference_data(tmp_path):
    rows = [{"id": f"g{i}", "prompt": p, "chosen": c, "rejected": r} for i, (p, c, r) in enumerate(GOOD)]
    rows += [
        {"id": "same", "prompt": "Name a colour.", "chosen": "Blue.", "rejected": "blue"},
        {"id": "refuses", "prompt": "Name a fruit.", "chosen": "I'm sorry, but I cannot help with that.", "rejected": "Mango."},
        {"id": "swap", "prompt": GOOD[1][0], "chosen": GOOD[1][2], "rejected": GOOD[1][1]},
        {"id": "copy", "prompt": GOOD[2][0], "chosen": GOOD[2][1], "rejected": GOOD[2][2]},
        {"id": "empty", "prompt": "Name a tree.", "chosen": "Oak.", "rejected": ""},
    ]
    data = write_pairs(tmp_path / "pairs.jsonl", rows)
    result = curate(parse_recipe({"name": "pref", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}}))
    steps = [s["step"] for s in yaml.safe_load((result.run_dir / "recipe.yaml").read_text())["curate"]["steps"]]
    assert steps == [sc.step for sc in default_steps(preference=True)] and "pair.refusal" in steps and "filter.refusal" not in steps
    drops = ledger_drops(result.run_dir)
    assert drops == {
        "same": ("pair.same_answers", "near_identical_pair"),  # "Blue." / "blue": punctuation apart
        "g1": ("pair.contradiction", "contradicting_pair"),
        "swap": ("pair.contradiction", "contradicting_pair"),
        "copy": ("dedup.exact", "exact_duplicate"),
        "empty": ("pair.empty_side", "empty_rejected"),
    }
    report = json.loads((result.run_dir / "artifacts" / "length_bias.json").read_text())
    assert (report["pairs"], report["chosen_longer"], report["dropped"]) == (5, 5, 0)  # what reached it: g0, g2, g3, g4, refuses
    kept = [orjson.loads(line) for line in (result.run_dir / "data" / "kept.jsonl").read_bytes().splitlines()]
    assert [r["id"] for r in kept] == ["g0", "g2", "g3", "g4", "refuses"]
    # The refusal chosen for a harmless prompt is a judgement call: flagged, kept.
    assert kept[-1]["meta"]["flags"] == ["pair.refusal:chosen_refuses_harmless"]


def test_instruction_data_still_gets_the_instruction_recipe(tmp_path):
    data = write_pairs(tmp_path / "a.jsonl", [{"instruction": p, "output": c} for p, c, _ in GOOD])
    result = curate(parse_recipe({"name": "sft", "runs_dir": str(tmp_path / "runs"), "data": {"path": str(data)}}))
    assert "filter.refusal" in (result.run_dir / "recipe.yaml").read_text()


# ---- every prompt-side check runs on pairs and reads the right text --------------------------------------------


def pairs(*specs: tuple[str, str, str, str]) -> list[Record]:
    return [Record(i, messages=[{"role": "user", "content": p}], chosen=c, rejected=r) for i, p, c, r in specs]


def run_global(step_name: str, recs: list[Record], **params) -> dict[str, str | None]:
    step = build_step(step_name, params)
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: v.reason for r in recs if not (v := step.decide(r)).kept}


def test_dedup_by_prompt_on_pairs():
    recs = pairs(
        ("a", "Name a fruit.", "Mango.", "Rock."), ("b", "name a  fruit.", "Kiwi.", "Stone."), ("c", "Name a stone.", "Mango.", "Rock.")
    )
    assert run_global("dedup.exact", recs, fields="prompt") == {"b": "exact_duplicate"}
    assert run_global("dedup.exact", recs) == {}  # whole pairs differ
    long = "Write a short story about a lighthouse keeper who finds a message in a bottle on a stormy night"
    near = pairs(
        ("x", long, "One.", "Two."), ("y", long + "!", "Three.", "Four."), ("z", "Unrelated question about cooking rice well", "a", "b")
    )
    assert run_global("dedup.minhash", near, fields="prompt") == {"y": "near_duplicate"}


def test_pii_is_found_in_either_side():
    step = build_step("filter.pii", {"types": ["email"]})
    step.setup()
    (rec,) = pairs(("p", "Contact?", "Use the form.", "Mail jane.doe@acmemail.de"))  # example.com is reserved, not personal
    assert step.keep(rec).reason == "pii_email" and "rejected" in step.keep(rec).detail


def test_harm_check_on_the_prompt_only():
    step = build_step("filter.harmful", {"fields": "prompt"})
    step.setup()
    harmful_answer, harmful_prompt = pairs(
        ("a", "Tell me a story.", "Once upon a time.", "I will kill you, slit your throat."),
        ("b", "Tell me how to make a bomb.", "I can't help with that.", "Sure."),
    )
    assert step.keep(harmful_answer).kept  # a harmful rejected answer is what a pair is for
    assert step.keep(harmful_prompt).reason == "harmful_violence"


def test_language_check_reads_the_prompt():
    step = build_step("filter.language", {"languages": ["en"], "fields": "prompt"})
    step.setup()
    (fr,) = pairs(("f", "Quelle est la capitale de la France et pourquoi est-elle si célèbre dans le monde ?", "Paris.", "Lyon."))
    assert step.keep(fr).reason == "language_not_allowed" and "messages[0]" in (step.keep(fr).detail or "")


def test_decontamination_by_prompt(tmp_path):
    question = "Which planet in our solar system has the most moons according to the latest count by astronomers"
    eval_file = write_pairs(tmp_path / "test.jsonl", [{"instruction": question, "output": "Saturn."}])
    step = build_step("dedup.decontaminate", {"eval_paths": [str(eval_file)], "fields": "prompt"})
    step.setup()
    leaked, clean = pairs(("l", question, "Saturn.", "Mars."), ("c", "Name a planet.", question, "Mars."))
    assert step.keep(leaked).reason == "eval_ngram_overlap"
    assert step.keep(clean).kept  # the eval question in an answer is not a leaked prompt


@pytest.mark.parametrize("fields", ["record", "response"])
def test_decontamination_other_fields_see_the_answers(tmp_path, fields):
    question = "Which planet in our solar system has the most moons according to the latest count by astronomers"
    eval_file = write_pairs(tmp_path / "test.jsonl", [{"instruction": question, "output": "Saturn."}])
    step = build_step("dedup.decontaminate", {"eval_paths": [str(eval_file)], "fields": fields})
    step.setup()
    (in_chosen,) = pairs(("c", "Name a planet.", question, "Mars."))
    assert step.keep(in_chosen).reason == "eval_ngram_overlap"
