"""The recipe: unknown keys are errors with suggestions, every problem at once, overrides, resolved YAML."""

from __future__ import annotations

import orjson
import pytest
import yaml

from curatune.config.recipe import apply_overrides, load_recipe, parse_recipe, recipe_to_yaml
from curatune.curation.registry import build_step
from curatune.errors import RecipeError
from curatune.stages.curate import curate, resolve, run_key


def defaults(step: str) -> dict:
    return build_step(step).get_params()


def problems(raw) -> list[str]:
    with pytest.raises(RecipeError) as e:
        parse_recipe(raw)
    return e.value.problems


DATA_KEYS = "path, format, file_type, id_field, pairs, max_record_bytes, max_json_bytes"


def test_unknown_keys_at_every_level_with_suggestions():
    got = problems(
        {
            "nmae": "x",
            "data": {"pth": "a.jsonl", "formt": "auto"},
            "curate": {"workerz": 1, "steps": [{"step": "filter.min_length", "min_char": 3, "on_fial": "flag"}]},
        }
    )
    assert sorted(got) == sorted(
        [
            "Unknown key 'nmae'. Did you mean 'name'? Allowed here: name, runs_dir, data, curate, split, train, eval, tune, ablate.",
            f"Unknown key 'data.pth'. Did you mean 'path'? Allowed here: {DATA_KEYS}.",
            f"Unknown key 'data.formt'. Did you mean 'format'? Allowed here: {DATA_KEYS}.",
            (
                "Unknown key 'curate.workerz'. Did you mean 'workers'? Allowed here: steps, workers, batch_size, executor, address, "
                "global_steps, output_format."
            ),
            "curate.steps.0 (filter.min_length): filter.min_length has no parameter 'min_char'. Did you mean 'min_chars'? Its parameters: "
            "min_chars.",
            "curate.steps.0 (filter.min_length): Unknown key 'on_fial'. Did you mean 'on_fail'? (drop or flag)",
        ]
    )  # and no "'data.path' is required" on top of "did you mean 'path'"


def test_three_mistakes_three_lines_in_one_error():
    with pytest.raises(RecipeError) as e:
        parse_recipe(
            {
                "data": {"path": "a.jsonl", "format": "alpacca"},
                "curate": {
                    "batch_size": 0,
                    "steps": [{"step": "filter.min_length", "min_chars": -1}],
                },
            },
            "r.yaml",
        )
    assert e.value.problems == [
        "'data.format': must be 'auto' or one of curatune, preference, alpaca_pairs, argilla, intel, sharegpt_pairs, scored, unpaired, "
        "preference_implicit, sharegpt, messages, alpaca, prompt_completion, labelled, text. Got 'alpacca' instead.",
        "'curate.batch_size': Input should be greater than or equal to 1. Got 0 instead.",
        "curate.steps.0 (filter.min_length): The 'min_chars' parameter of filter.min_length must be greater than or equal to 0. Got -1 "
        "instead.",
    ]
    assert str(e.value).startswith("3 problems in r.yaml:\n  - 'data.format'")


def test_step_parameter_messages():
    with pytest.raises(RecipeError) as e:
        build_step("filter.min_length", {"min_chars": -1})
    assert e.value.problems == ["The 'min_chars' parameter of filter.min_length must be greater than or equal to 0. Got -1 instead."]
    with pytest.raises(RecipeError) as e:
        build_step("dedup.exact", {"fields": "everything"})
    assert e.value.problems == ["The 'fields' parameter of dedup.exact must be 'record', 'prompt' or 'response'. Got 'everything' instead."]


def test_unknown_step_suggests_close_names():
    (p,) = problems({"data": {"path": "a"}, "curate": {"steps": [{"step": "filter.min_lenght"}]}})
    assert p.startswith("curate.steps.0 (filter.min_lenght): Unknown step 'filter.min_lenght'. Did you mean 'filter.min_length'")
    assert p.endswith("List the steps with: curatune steps")


def test_steps_as_plain_names_and_params_block():
    r = parse_recipe(
        {"data": {"path": "a"}, "curate": {"steps": ["dedup.exact", {"step": "filter.min_length", "params": {"min_chars": 4}}]}}
    )
    # Validated parameters: every one written out (other helpers own these steps, so read their defaults).
    assert [(s.step, s.on_fail, s.params) for s in r.curate.steps] == [
        ("dedup.exact", "drop", defaults("dedup.exact")),
        ("filter.min_length", "drop", {**defaults("filter.min_length"), "min_chars": 4}),
    ]


def test_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data:\n  path: a.jsonl\ncurate:\n  steps:\n    - step: filter.min_length\n      min_chars: 3\n")
    r = load_recipe(path, ["curate.workers=1", "curate.steps.0.min_chars=9", "data.format=alpaca", "runs_dir=out"])
    assert (r.curate.workers, r.curate.steps[0].params, r.data.format, r.runs_dir, r.name) == (1, {"min_chars": 9}, "alpaca", "out", "r")
    with pytest.raises(RecipeError) as e:
        apply_overrides({"data": {"path": "a"}, "curate": {"steps": [{"step": "x"}]}}, ["novalue", "data.path.x=1", "curate.steps.3.a=1"])
    assert e.value.problems == [
        "Override 'novalue' must look like key.path=value, e.g. curate.workers=1.",
        "Override 'data.path.x=1': 'data.path' is not a section.",
        "Override 'curate.steps.3.a=1': 'curate.steps' is a list of 1; use an index 0 to 0.",
    ]


def test_missing_and_invalid_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(RecipeError, match="is not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")


def test_resolved_recipe_has_every_default_and_loads_back_to_the_same_key(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"".join(orjson.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + b"\n" for i in range(5)))
    recipe = parse_recipe(
        {
            "name": "r",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"path": str(data)},
            "curate": {"steps": [{"step": "dedup.exact"}, {"step": "filter.min_length", "on_fail": "flag"}]},
        }
    )
    result = curate(recipe)
    text = (result.run_dir / "recipe.yaml").read_text()
    written = yaml.safe_load(text)
    assert written == {
        "name": "r",
        "runs_dir": str(tmp_path / "runs"),
        "data": {
            "path": str(data),
            "format": "auto",
            "file_type": "auto",
            "id_field": "id",
            "pairs": {"rule": "best_vs_random", "min_margin": 0.0, "score_field": "auto", "seed": 0},
            "max_record_bytes": 64 << 20,
            "max_json_bytes": 64 << 20,
        },
        "curate": {
            "steps": [
                {"step": "dedup.exact", "on_fail": "drop", **defaults("dedup.exact")},
                {"step": "filter.min_length", "on_fail": "flag", **defaults("filter.min_length")},
            ],
            "workers": "auto",
            "batch_size": 256,
            "executor": "local",
            "address": None,
            "global_steps": "driver",
            "output_format": "curatune",
        },
    }
    again = resolve(load_recipe(result.run_dir / "recipe.yaml"))
    assert recipe_to_yaml(again) == text
    paths = [data]
    assert run_key(recipe_to_yaml(again), paths)[0] == orjson.loads((result.run_dir / "run.json").read_bytes())["key"]
    # and running the written recipe is recognised as the same run
    assert curate(load_recipe(result.run_dir / "recipe.yaml")).skipped


def test_docs_recipe_reference_is_generated_from_the_current_schema():
    """docs/recipe.md is `curatune reference`'s output; after changing a recipe field, run: curatune reference > docs/recipe.md"""
    from pathlib import Path

    from curatune.config.reference import recipe_reference

    doc = Path(__file__).resolve().parents[2] / "docs" / "recipe.md"
    assert doc.read_text(encoding="utf-8") == recipe_reference()
    for key in (
        "`learning_rate`",
        "`early_stopping_patience`",
        "`lora_top_layers`",
        "## `train`",
        "## `tune.space`",
        "## `split`",
        "## `eval`",
    ):
        assert key in doc.read_text(encoding="utf-8")
