"""The recipe: one YAML file that says what to read and what to do with it.

Every field is documented right under it; a misspelled key is an error, and
every problem in a recipe is reported at once (see :func:`load_recipe`).

```yaml
name: my-run                  # the run folder: runs/my-run
data:
  path: data/*.jsonl          # a file, a glob, a folder, or a list of them
curate:
  steps:
    - step: filter.min_length # a registered step (list them: curatune steps)
      min_chars: 20           # its parameters
      on_fail: flag           # flag instead of drop
```
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..curation.formats import FORMAT_ALIASES, FORMATS
from ..curation.pairs.build import PairRule
from ..curation.read.files import FILE_TYPES
from ..curation.read.records import sniff_preference
from ..curation.read.rows import ReadLimits
from ..curation.registry import all_steps, get_step_class, param_problems
from ..curation.step import init_params
from ..errors import RecipeError
from ..run_folder import check_run_name, name_from_path, run_name_problem
from .ablate import AblateConfig
from .eval import EvalConfig
from .split import SplitConfig
from .train import TrainConfig
from .tune import TuneConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class PairsConfig(Strict):
    """How one preference pair is made of each row of scored completions (the ``scored`` format, UltraFeedback)."""

    rule: Literal["best_vs_random", "best_vs_worst"] = "best_vs_random"
    """Chosen: the best-scored completion. Rejected: one drawn at random among those scored lower (UltraFeedback-binarized's
    rule), or the worst-scored one."""
    min_margin: float = Field(0.0, ge=0)
    """The least score difference between chosen and rejected; ties are always skipped, and a row with no completion far
    enough below the best is a ``no_pair`` read drop."""
    score_field: str = "auto"
    """The completions' score field; ``auto`` takes the first of overall_score, score, rating that they have."""
    seed: int = 0
    """Seeds the random draw (with each record's id, so a pair does not depend on row order)."""

    def rule_object(self) -> PairRule:
        return PairRule(self.rule, self.min_margin, self.score_field, self.seed)


def pairs_rule(values: dict[str, Any]) -> PairRule:
    """The pair rule from option values (``curatune convert``), every bad value reported as a recipe problem."""
    try:
        return PairsConfig.model_validate(values).rule_object()
    except ValidationError as e:
        options = {"rule": "--pair-rule", "min_margin": "--min-margin", "score_field": "--score-field", "seed": "--pair-seed"}
        raise RecipeError(
            [f"{options.get(str(err['loc'][0]), err['loc'][0])}: {err['msg']}. Got {err.get('input')!r}." for err in e.errors()]
        ) from e


class DataConfig(Strict):
    path: str | list[str]
    """A file, a glob (``data/*.jsonl``), a folder, or a list of them."""
    format: str = "auto"
    """The dataset format, detected from the fields when ``auto``; see ``curatune formats``."""
    file_type: str = "auto"
    """jsonl, json, csv, tsv, parquet or hf (a datasets folder); from the file name when ``auto``."""
    id_field: str = "id"
    """The field that holds each record's id; records without one get ``<file stem>:<line>``."""
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    """How pairs are made of scored completions (only the ``scored`` format uses it)."""
    max_record_bytes: int = Field(ReadLimits.max_record_bytes, ge=1)
    """The longest record read (a JSONL line, a CSV row, an element of a JSON array), in bytes; a longer one is dropped as
    ``too_long`` with its size, never held in memory whole (a compressed file can hold a line of gigabytes)."""
    max_json_bytes: int = Field(ReadLimits.max_json_bytes, ge=1)
    """The largest .json file parsed whole, in bytes (decompressed); a larger one is read one element of its top-level array at
    a time (slower, in bounded memory)."""

    def limits(self) -> ReadLimits:
        return ReadLimits(self.max_record_bytes, self.max_json_bytes)

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v != "auto" and v not in FORMATS and v not in FORMAT_ALIASES:
            raise ValueError(f"must be 'auto' or one of {', '.join(FORMATS)}")
        return v

    @field_validator("file_type")
    @classmethod
    def _known_file_type(cls, v: str) -> str:
        if v != "auto" and v not in FILE_TYPES:
            raise ValueError(f"must be 'auto' or one of {', '.join(FILE_TYPES)}")
        return v


class StepConfig(Strict):
    step: str
    """The registered name of the step, e.g. ``filter.min_length``."""
    on_fail: Literal["drop", "flag"] = "drop"
    """What a record that fails the check gets: dropped, or kept and flagged in the ledger."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The step's parameters (in YAML, written beside ``step`` rather than under ``params``)."""


class CurateConfig(Strict):
    steps: list[StepConfig] | None = None
    """The steps in order; when absent, the default recipe (``curatune steps --default``)."""
    workers: int | Literal["auto"] = "auto"
    """Worker processes for the per-record steps; ``auto`` uses every core (at most 8)."""
    batch_size: int = Field(256, ge=1)
    """Records per batch handed to a worker."""
    executor: Literal["local", "ray"] = "local"
    """Where the per-record steps run: ``local`` (this machine: this process or ``workers`` processes) or ``ray`` (Ray Data on a
    Ray cluster: a local one of ``workers`` CPUs, or the one at ``address``). The same steps, ledger and kept set either way."""
    address: str | None = None
    """With ``executor: ray``, the cluster to join (``auto``, ``ray://host:10001``, ``host:6379``); none: start a local one."""
    global_steps: Literal["driver", "cluster"] = "driver"
    """With ``executor: ray``, where exact and MinHash dedup finish: ``driver`` (their compact state, about 1 KB a record, comes
    back to this process) or ``cluster`` (the state stays in Ray's object store: a hash shuffle for exact groups and band
    buckets, 12 bytes a record come back; MinHash verification reads the state once per 65,536 candidate pairs, so it is
    slow where near duplicates are many). The same verdicts either way."""
    output_format: str = "curatune"
    """Format of ``data/kept.jsonl``: ``curatune`` (lossless records), ``messages`` (chat JSONL), ``original``, or a format name."""


class Recipe(Strict):
    name: str | None = None
    """The run's name and folder under ``runs_dir`` (one folder: no path, not hidden, at most 100 characters); defaults to the recipe
    file's name."""
    runs_dir: str = "runs"
    """Where run folders go."""
    data: DataConfig
    """What to read."""
    curate: CurateConfig = Field(default_factory=CurateConfig)
    """How to clean, filter and deduplicate it."""
    split: SplitConfig | None = None
    """How ``curatune run`` splits the curated records (train/val/test, duplicates kept together)."""
    train: TrainConfig | None = None
    """How to fine-tune a model on it (``curatune train``); see :mod:`curatune.config.train`."""
    eval: EvalConfig | None = None
    """How ``curatune run`` evaluates the fine-tuned model against its base (``curatune eval``)."""
    tune: TuneConfig | None = None
    """What ``curatune tune`` searches, starting from ``train:``; see :mod:`curatune.config.tune`."""
    ablate: AblateConfig | None = None
    """Which arms ``curatune ablate`` trains and on which references it compares them; see :mod:`curatune.config.ablate`."""

    @field_validator("name")
    @classmethod
    def _one_folder(cls, v: str | None) -> str | None:
        problem = None if v is None else run_name_problem(v)
        if problem:
            raise ValueError(f"the run name {problem}; name the run with letters, digits, '-', '_' or '.', e.g. my-run")
        return v


def _step_items(raw_steps: Any) -> Any:
    """Allow parameters beside ``step:`` in YAML by moving them under ``params``."""
    if not isinstance(raw_steps, list):
        return raw_steps
    out = []
    for item in raw_steps:
        if isinstance(item, str):
            item = {"step": item}
        if isinstance(item, dict) and "params" not in item:
            params = {k: v for k, v in item.items() if k not in ("step", "on_fail")}
            item = {k: v for k, v in item.items() if k in ("step", "on_fail")} | {"params": params}
        out.append(item)
    return out


def _format_errors(e: ValidationError, raw: dict) -> list[str]:
    problems = []
    errors = e.errors()
    # A misspelled required key shows up twice (unknown 'pth', missing 'path'): say it once.
    suggested: set[tuple] = set()
    unknown: dict[int, tuple[str | None, list[str]]] = {}  # by error index: the closest allowed key, and all of them
    for i, err in enumerate(errors):
        if err["type"] == "extra_forbidden":
            parent_model = _model_at(err["loc"][:-1])
            allowed = list(parent_model.model_fields) if parent_model else []
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            if close:
                suggested.add((*err["loc"][:-1], close[0]))
            unknown[i] = (close[0] if close else None, allowed)
    for i, err in enumerate(errors):
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            closest, allowed = unknown[i]
            hint = f" Did you mean {closest!r}?" if closest else ""
            problems.append(f"Unknown key '{loc}'.{hint} Allowed here: {', '.join(allowed)}.")
        elif err["type"] == "missing":
            if tuple(err["loc"]) not in suggested:
                problems.append(f"'{loc}' is required.")
        else:
            problems.append(f"'{loc}': {err['msg'].removeprefix('Value error, ')}. Got {err.get('input')!r} instead.")
    return problems


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: Any = Recipe
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part)) if model else None
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = None
        for c in candidates:
            for cc in [c, *getattr(c, "__args__", ())]:
                if isinstance(cc, type) and issubclass(cc, BaseModel):
                    nxt = cc
        model = nxt
    return model


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=c`` overrides (values parsed as YAML) to a raw recipe dict.

    A number indexes a list: ``curate.steps.0.min_chars=5`` sets a parameter of the first step.
    """
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(f"Override {item!r} must look like key.path=value, e.g. curate.workers=1.")
            continue
        key, value = item.split("=", 1)
        node: Any = raw
        parts = key.strip().split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    problems.append(
                        f"Override {item!r}: '{'.'.join(parts[:depth])}' is a list of {len(node)}; use an index 0 to {len(node) - 1}."
                    )
                    break
                if last:
                    node[int(part)] = yaml.safe_load(value)
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = yaml.safe_load(value)
                else:
                    node = node.setdefault(part, {})
            else:
                problems.append(f"Override {item!r}: '{'.'.join(parts[:depth])}' is not a section.")
                break
    if problems:
        raise RecipeError(problems)
    return raw


def parse_recipe(raw: Any, source: str | None = None) -> Recipe:
    """Validate a raw recipe dict, checking every step and parameter; raise one RecipeError with all problems."""
    if not isinstance(raw, dict):
        raise RecipeError([f"A recipe must be a YAML mapping of keys to values, got {type(raw).__name__}."], source)
    raw = dict(raw)
    if isinstance(raw.get("curate"), dict):
        raw["curate"] = {**raw["curate"], "steps": _step_items(raw["curate"].get("steps"))}
    problems: list[str] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        problems.extend(_format_errors(e, raw))
    steps = recipe.curate.steps if recipe else None
    if steps is None and isinstance(raw.get("curate"), dict) and isinstance(raw["curate"].get("steps"), list):
        steps = [StepConfig.model_validate(s) for s in raw["curate"]["steps"] if _valid_step_config(s)]
    for i, sc in enumerate(steps or []):
        # Keys beside `step:` are parameters, but a misspelled `on_fail` is a recipe key: say so.
        for key in list(sc.params):
            if key not in _known_params(sc.step) and difflib.get_close_matches(key, ["on_fail"], n=1, cutoff=0.75):
                problems.append(f"curate.steps.{i} ({sc.step}): Unknown key {key!r}. Did you mean 'on_fail'? (drop or flag)")
                sc.params = {k: v for k, v in sc.params.items() if k != key}
        try:
            values, step_problems = param_problems(sc.step, sc.params)
        except RecipeError as e:
            step_problems = e.problems
        else:
            sc.params = values if not step_problems else sc.params
        problems.extend(f"curate.steps.{i} ({sc.step}): {p}" for p in step_problems)
    if problems:
        raise RecipeError(problems, source)
    assert recipe is not None
    return recipe


def _known_params(step: str) -> list[str]:
    try:
        return init_params(get_step_class(step))
    except RecipeError:
        return []


def _valid_step_config(s: Any) -> bool:
    try:
        StepConfig.model_validate(s)
        return True
    except ValidationError:
        return False


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    p = Path(path)
    if not p.is_file():
        raise RecipeError(
            [
                f"Recipe '{p}' does not exist. Examples to start from are in examples/; "
                "or run `curatune curate DATA` with the default recipe."
            ]
        )
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RecipeError([f"'{p}' is not valid YAML: {e}"]) from e
    raw = apply_overrides(raw or {}, overrides or [])
    recipe = parse_recipe(raw, str(p))
    if recipe.name is None:
        recipe.name = name_from_path(p, fallback="recipe")
    return recipe


CURATION_SECTIONS = ("name", "runs_dir", "data", "curate")


def recipe_to_yaml(recipe: Recipe, sections: tuple[str, ...] | None = None) -> str:
    """The resolved recipe with every default written out, parameters beside ``step:`` as users write them.

    ``sections`` keeps only those top-level keys (a curation run is keyed on ``CURATION_SECTIONS``,
    so changing the training settings does not redo the curation).
    """
    d = recipe.model_dump(mode="json")
    # Stages the recipe leaves out stay out (a written `train: null` would read as a stage asked for).
    d = {k: v for k, v in d.items() if (sections is None or k in sections) and v is not None}
    steps = d["curate"].get("steps")
    if steps is not None:  # None is the default recipe; [] is no curation at all
        d["curate"]["steps"] = [{"step": s["step"], "on_fail": s["on_fail"], **s["params"]} for s in steps]
    return yaml.safe_dump(d, sort_keys=False, allow_unicode=True)


DEFAULT_RECIPES = {False: "default_recipe.yaml", True: "default_preference_recipe.yaml"}


def default_steps(preference: bool = False) -> list[StepConfig]:
    """The default recipe (``config/default_recipe.yaml``, or ``default_preference_recipe.yaml`` for preference data):
    the safe steps drop, the rest flag."""
    text = resources.files("curatune.config").joinpath(DEFAULT_RECIPES[preference]).read_text(encoding="utf-8")
    registered = all_steps()
    out = []
    for item in yaml.safe_load(text)["steps"]:
        params = {k: v for k, v in item.items() if k not in ("step", "on_fail")}
        if item["step"] in registered:
            out.append(StepConfig(step=item["step"], on_fail=item.get("on_fail", "drop"), params=params))
    return out


def default_steps_for(data: DataConfig) -> list[StepConfig]:
    """The default steps for this data: the preference recipe when its first rows are preference pairs or KTO examples."""
    return default_steps(preference=sniff_preference(data.path, data.format, data.file_type))


def command_recipe(
    target: str,
    overrides: list[str] | None = None,
    name: str | None = None,
    runs_dir: str | None = None,
    decontaminate_against: list[str] | None = None,
) -> Recipe:
    """The recipe ``curatune curate TARGET`` runs: TARGET's recipe (a .yaml), or the default recipe on TARGET as data.

    ``overrides`` are ``-s a.b=c``; ``name`` and ``runs_dir`` win over the recipe's; ``decontaminate_against``
    appends ``dedup.decontaminate`` against those files to the recipe's steps (or the default ones).
    """
    if target.endswith((".yaml", ".yml")):
        recipe = load_recipe(target, overrides or [])
    else:
        raw = apply_overrides({"data": {"path": target}, "name": name_from_path(target)}, overrides or [])
        recipe = parse_recipe(raw, "the command line")
    if decontaminate_against:
        steps = recipe.curate.steps if recipe.curate.steps is not None else default_steps_for(recipe.data)
        recipe.curate.steps = [*steps, StepConfig(step="dedup.decontaminate", params={"eval_paths": decontaminate_against})]
    if name is not None:
        recipe.name = check_run_name(name)
    if runs_dir:
        recipe.runs_dir = runs_dir
    return recipe
