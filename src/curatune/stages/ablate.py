"""``curatune ablate``: does curation pay on this pool? The same training on each arm, the same references, intervals.

From one pool (``data:``), one budget and one ``train:`` section, the arms are

- ``curated``: the recipe's ``curate:`` steps, then ``curatune select`` down to the budget;
- ``random-<i>``: as many records as ``curated`` holds, drawn at random from the pool (``random_seeds`` draws);
- ``longest``: as many records, those with the longest answers (words);
- ``full``: the whole pool;
- any arm named in ``ablate.arms``: a data file, or a recipe whose ``curate:`` steps run on the pool before the same selection.

Every arm trains the same number of optimizer steps on rows packed to ``max_seq_len`` (``packing`` on, the same batch), with
no validation split and no early stopping: the same steps and the same token capacity per step, whatever the arm's size or
answer lengths (a small arm repeats, a large one is seen in part). The tokens each arm actually processed are counted and
reported beside it. Each trained model is scored on the same held-out references (:mod:`curatune.evaluate.ablation`), which
must not overlap the pool: a reference that shares a 13-word run with a pool record (or equals a short one) stops the run
with exit 2, naming both, unless ``on_overlap: drop``.

Layout (:class:`curatune.run_folder.AblationFolder`): ``pool.jsonl``, ``references/``, ``stages/`` (the curate and select
runs), ``arms/<arm>/`` (``data.jsonl``, ``train/``, ``scores.json``), ``human/`` (blind sheets), ``ablation.json``,
``ablation.md``, ``ablation.png``, ``report.html``. Each arm's training and scoring are keyed (:mod:`.keys`): a rerun skips
the arms that finished, and every arm that is scored is an MLflow run.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from ..config.ablate import AblateConfig
from ..config.recipe import DataConfig, Recipe, parse_recipe
from ..config.train import TrainConfig
from ..curation.dedup.decontaminate import Decontaminate, text_hash, words
from ..curation.read.load import data_paths, read_all
from ..curation.record import Record
from ..curation.write.writers import write_records
from ..errors import InputError, RecipeError
from ..evaluate.ablation import METRICS, ArmValues, References, score_model, seeded_paired_bootstrap
from ..evaluate.human import export_sheet
from ..evaluate.models import load_contenders, resolve_target
from ..evaluate.run import conversation_of, held_out_records, prompt_text
from ..report.ablation import plot_ablation, summary_markdown
from ..run_folder import AblationFolder, RunFolder, name_from_path
from ..tracking import Tracking, tracked_run
from .keys import EVAL_CODE, StageKey, read_json_object
from .report import build_report
from .select import select, selection_recipe
from .train import train_in

Echo = Callable[[str], None]
Scores = dict[str, dict[str, list[Any]]]  # reference set -> loss_sum, tokens, answers, rougeL, similarity: one value per example

HELDOUT = "pool-heldout"
CURATED = "curated"
OVERLAPS_SHOWN = 10


@dataclass
class Arm:
    name: str
    group: str  # curated, random, longest, full, or the user's arm name
    records: list[Record]
    source: str  # how it was built, in words
    seed: int | None = None


@dataclass
class AblationResult:
    folder: Path
    result: dict[str, Any]
    trained: list[str] = field(default_factory=list)  # arms trained now (the others were finished)
    scored: list[str] = field(default_factory=list)


def ablate(recipe: Recipe, force: bool = False, echo: Echo = print, track: bool = True) -> AblationResult:
    """Build the arms, train each, score each on the references, compare curated with every other arm; see the module."""
    config, train = _checked(recipe)
    folder = AblationFolder(Path(recipe.runs_dir) / str(recipe.name))
    folder.root.mkdir(parents=True, exist_ok=True)
    with folder.lock():
        return _ablate(recipe, config, train, folder, force, echo, track)


def _checked(recipe: Recipe) -> tuple[AblateConfig, TrainConfig]:
    problems = []
    if recipe.ablate is None:
        problems.append("The recipe has no ablate: section. Add one with at least a budget and references, e.g. "
                        "ablate: {budget: 1000, references: [refs.jsonl]} (see docs/recipe.md).")  # fmt: skip
    if recipe.train is None:
        problems.append("The recipe has no train: section: every arm trains as it says. Add one (see examples/train_lora.yaml).")
    if recipe.ablate is not None and not recipe.ablate.references and not recipe.ablate.holdout:
        problems.append("ablate: names no references and no holdout: give reference files (ablate.references) or hold out part of "
                        "the pool (ablate.holdout: 200).")  # fmt: skip
    if recipe.ablate is not None and not recipe.ablate.generate and recipe.ablate.human_sheet:
        recipe.ablate.human_sheet = False  # a sheet needs answers; nothing to refuse
    if problems:
        raise RecipeError(problems)
    assert recipe.ablate is not None and recipe.train is not None
    return recipe.ablate, recipe.train


def _ablate(
    recipe: Recipe, config: AblateConfig, train: TrainConfig, folder: AblationFolder, force: bool, echo: Echo, track: bool
) -> AblationResult:
    loaded = read_all(data_paths(_as_list(recipe.data.path)), recipe.data.format)
    pool = loaded.records
    echo(
        f"pool: {len(pool):,} records from {recipe.data.path}"
        + (f" ({len(loaded.rejects)} unreadable rows left out)" if loaded.rejects else "")
    )
    pool, references, overlap = _references(pool, config, folder, str(recipe.data.path), echo)
    folder.pool.parent.mkdir(parents=True, exist_ok=True)
    write_records(pool, folder.pool)
    arms = _arms(recipe, config, pool, folder, echo)
    steps = _steps(config, train, len(arms[0].records))
    arm_train = train.model_copy(
        update={
            "max_steps": steps,
            "val_set_size": 0.0,
            "val_data": None,
            "early_stopping_patience": None,
            "packing": True,
            "eval_steps": steps,
            "rank_losses": False,
            "save_model": True,
        }  # fmt: skip
    )
    capacity = steps * arm_train.per_device_train_batch_size * arm_train.gradient_accumulation_steps * arm_train.max_seq_len
    echo(f"every arm: {steps} optimizer steps of {arm_train.per_device_train_batch_size * arm_train.gradient_accumulation_steps} "
         f"packed rows of up to {arm_train.max_seq_len} tokens ({capacity:,} tokens of capacity); no validation split, "
         "no early stop")  # fmt: skip
    result: dict[str, Any] = {
        "name": recipe.name,
        "pool": {"source": str(recipe.data.path), "records": len(pool), "unreadable": len(loaded.rejects)},
        "budget": {
            "held_equal": "optimizer steps and packed rows per step (token capacity); processed tokens are measured per arm",
            "steps": steps,
            "rows_per_step": arm_train.per_device_train_batch_size * arm_train.gradient_accumulation_steps,
            "max_seq_len": arm_train.max_seq_len,
            "token_capacity": capacity,
        },
        "references": {r.name: {"source": r.source, "examples": len(r.ids)} for r in references},
        "overlap": overlap,
        "settings": config.model_dump(mode="json"),
        "train": arm_train.resolved(),
        "arms": {},
    }
    out = AblationResult(folder.root, result)
    scores: dict[str, Scores] = {}
    for arm in arms:
        run = folder.arm(arm.name)
        run.root.mkdir(parents=True, exist_ok=True)
        data = run.root / "data.jsonl"
        write_records(arm.records, data)
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        tracking = Tracking(Path(recipe.runs_dir), f"{recipe.name}/ablate/{arm.name}/train", {"arm": arm.name}) if track else None
        trained = train_in(run, DataConfig(path=str(data)), arm_train, tracking, force, _prefixed(echo, arm.name))
        train_cpu, train_wall = _cpu_seconds() - cpu0, time.perf_counter() - t0
        if not trained.skipped:
            out.trained.append(arm.name)
            _write_json(run.root / "train_time.json", {"cpu_seconds": round(train_cpu, 1), "wall_seconds": round(train_wall, 1)})
        scores[arm.name] = _scored(arm, run, references, config, recipe, force, track, echo, out)
        summary = trained.summary
        result["arms"][arm.name] = {
            "group": arm.group,
            "seed": arm.seed,
            "source": arm.source,
            "records": len(arm.records),
            "trained_examples": summary.get("train_examples"),
            "steps": summary.get("steps"),
            "processed_tokens": _trained_tokens(summary),
            "answer_words_median": _median_answer_words(arm.records),
            "cpu_minutes": {
                "train": round(read_json_object(run.root / "train_time.json").get("cpu_seconds", 0.0) / 60, 2),
                "score": round(read_json_object(run.root / "score_time.json").get("cpu_seconds", 0.0) / 60, 2),
            },
            "estimates": {ref: _estimates(s) for ref, s in scores[arm.name].items()},
        }
    result["comparisons"] = _comparisons(arms, scores, references, config)
    if config.human_sheet:
        result["human_sheets"] = _sheets(arms, scores, references, folder, config.seed)
    _write_json(folder.result, result)
    folder.summary.write_text(summary_markdown(result), encoding="utf-8")
    plot_ablation(result, folder.plot)
    build_report(folder.root, ablation={**result, "plot_path": str(folder.plot)}, title=f"ablation: {recipe.name}")
    return out


# ---- references and overlap -----------------------------------------------------------------------


def _references(
    pool: list[Record], config: AblateConfig, folder: AblationFolder, pool_source: str, echo: Echo
) -> tuple[list[Record], list[References], dict[str, Any]]:
    """The reference sets (the held-out part of the pool first), the pool without them, and what overlapped."""
    references: list[References] = []
    overlap: dict[str, Any] = {}
    if config.holdout:
        pool, held, removed = _hold_out(pool, config, folder)
        references.append(_reference_set(HELDOUT, str(folder.references / f"{HELDOUT}.jsonl"), held, config.limit))
        overlap[HELDOUT] = {"pool_records_removed": removed}
        echo(f"{HELDOUT}: {len(held)} records of the pool held out; {len(removed)} pool records that overlap them left out of the pool")
    pool_ids = {r.id for r in pool}
    for path in config.references:
        name = _unique(name_from_path(path), {r.name for r in references})
        held_out = held_out_records(path, "sft", None)
        pairs = _overlaps(pool, path, config.overlap_ngram)
        if pairs and config.on_overlap == "stop":
            raise RecipeError([_overlap_message(path, pairs, config, pool_source)])
        bad = {ref_id for _, ref_id, _ in pairs}
        kept = [r for r in held_out.records if r.id not in bad]
        if not kept:
            raise InputError(f"Every reference in '{path}' overlaps the pool: nothing is left to evaluate on. Give other references.")
        references.append(_reference_set(name, path, kept, config.limit))
        overlap[name] = {"references_dropped": sorted(bad), "pairs": [list(p) for p in pairs[:100]]}
        echo(f"{name}: {len(references[-1].ids)} references from {path}" + (f"; {len(bad)} that overlap the pool dropped" if bad else ""))
    assert all(i in pool_ids for i in (r.id for r in pool))
    return pool, references, overlap


def _hold_out(pool: list[Record], config: AblateConfig, folder: AblationFolder) -> tuple[list[Record], list[Record], list[str]]:
    usable = [i for i, r in enumerate(pool) if _is_conversation(r)]
    if len(usable) <= config.holdout:
        raise RecipeError([f"ablate.holdout is {config.holdout}, but the pool holds only {len(usable)} usable conversations: hold out "
                           "fewer records."])  # fmt: skip
    chosen = set(np.random.default_rng(config.seed).choice(usable, config.holdout, replace=False).tolist())
    held = [pool[i] for i in sorted(chosen)]
    rest = [r for i, r in enumerate(pool) if i not in chosen]
    path = folder.references / f"{HELDOUT}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_records(held, path)
    pairs = _overlaps(rest, str(path), config.overlap_ngram)
    removed = sorted({pool_id for pool_id, _, _ in pairs})
    gone = set(removed)
    return [r for r in rest if r.id not in gone], held, removed


def _overlaps(pool: list[Record], reference_path: str, n: int) -> list[tuple[str, str, str]]:
    """``(pool id, reference id, why)`` for every pool record that copies a reference (after normalising case, punctuation and
    spaces), shares an ``n``-word run with one, or equals a short piece of one (the test of ``dedup.decontaminate``)."""
    exact = {text_hash(words(r.all_text)): r.id for r in read_all(data_paths([reference_path])).records}
    step = Decontaminate(eval_paths=[reference_path], n=n, fields="record")
    step.setup()
    pairs = []
    for rec in pool:
        copied = exact.get(text_hash(words(rec.all_text)))
        if copied is not None:
            pairs.append((rec.id, copied, "an exact copy"))
            continue
        verdict = step.keep(rec)
        if verdict.action == "drop":
            detail = dict(part.split("=", 1) for part in (verdict.detail or "").split("; ") if "=" in part)
            why = (
                f"{detail.get('shared', verdict.value)} shared {n}-word runs"
                if verdict.reason == "eval_ngram_overlap"
                else "an equal short text"
            )
            pairs.append((rec.id, detail.get("eval_id", "?"), why))
    return pairs


def _overlap_message(path: str, pairs: list[tuple[str, str, str]], config: AblateConfig, pool: str) -> str:
    refs = sorted({r for _, r, _ in pairs})
    shown = "; ".join(f"reference {r!r} ~ pool {p!r} ({why})" for p, r, why in pairs[:OVERLAPS_SHOWN])
    more = f" and {len(pairs) - OVERLAPS_SHOWN} more" if len(pairs) > OVERLAPS_SHOWN else ""
    return (
        f"{len(refs)} references in '{path}' overlap the pool (a shared {config.overlap_ngram}-word run or an equal text): {shown}{more}. "
        "A model trained on the pool has seen them, so they cannot measure it. Fix: remove them from the references (curatune curate "
        f"{path} with the step dedup.decontaminate and its eval_paths set to {pool}), or set ablate.on_overlap: drop to leave them "
        "out of this run."
    )


def _reference_set(name: str, source: str, records: list[Record], limit: int | None) -> References:
    usable = [r for r in records if _is_conversation(r)][: limit or None]
    conversations = [c for c in (conversation_of(r) for r in usable) if c is not None]
    return References(name, source, [r.id for r in usable], conversations)


def _is_conversation(r: Record) -> bool:
    c = conversation_of(r)
    return bool(c and c[-1]["role"] == "assistant" and str(c[-1]["content"]).strip() and any(m["role"] == "user" for m in c[:-1]))


# ---- arms -----------------------------------------------------------------------------------------


def _arms(recipe: Recipe, config: AblateConfig, pool: list[Record], folder: AblationFolder, echo: Echo) -> list[Arm]:
    curated = _selected(CURATED, recipe, config, folder, echo)
    if not curated:
        raise InputError(f"The curated arm is empty: curation and selection kept no record of the pool ({folder.stages}). "
                         "Loosen the curate steps or raise ablate.budget.")  # fmt: skip
    m = len(curated)
    if m > len(pool):
        raise InputError(f"The curated arm holds {m} records but the pool only {len(pool)}.")
    arms = [Arm(CURATED, CURATED, curated, "the recipe's curate steps, then curatune select to the budget")]
    for i in range(config.random_seeds):
        rng = np.random.default_rng([config.seed, i])
        picked = sorted(rng.choice(len(pool), m, replace=False).tolist())
        arms.append(
            Arm(f"random-{i}", "random", [pool[j] for j in picked], f"{m} records of the pool at random (seed [{config.seed}, {i}])", i)
        )
    if config.longest:
        order = sorted(range(len(pool)), key=lambda j: (-len(pool[j].response_text.split()), j))
        arms.append(Arm("longest", "longest", [pool[j] for j in sorted(order[:m])], f"the {m} records with the longest answers (words)"))
    if config.full:
        arms.append(Arm("full", "full", list(pool), "the whole pool"))
    for name, path in config.arms.items():
        if name in {a.name for a in arms}:
            raise RecipeError([f"ablate.arms names an arm {name!r}, which is a built-in arm's name: rename it."])
        if Path(path).suffix in (".yaml", ".yml"):
            user = parse_recipe(yaml.safe_load(Path(path).read_text(encoding="utf-8")), path)
            arms.append(Arm(name, name, _selected(name, recipe.model_copy(update={"curate": user.curate}), config, folder, echo),
                            f"the curate steps of {path} on the pool, then curatune select to the budget"))  # fmt: skip
        else:
            arms.append(Arm(name, name, read_all(data_paths([path])).records, f"the records of {path}"))
    arms = _kinds_first(arms)
    for a in arms:
        echo(f"arm {a.name}: {len(a.records):,} records ({a.source})")
    return arms


def _kinds_first(arms: list[Arm]) -> list[Arm]:
    """The arms in the order they run: the first arm of every kind (curated, random-0, longest, full, the user's),
    then the other random seeds. Arms take an hour each on a CPU: a run cut short still compares curated with
    every kind of arm, and a rerun finishes the seeds."""
    seen: set[str] = set()
    first: list[Arm] = []
    rest: list[Arm] = []
    for a in arms:
        (rest if a.group in seen else first).append(a)
        seen.add(a.group)
    return first + rest


def _selected(name: str, recipe: Recipe, config: AblateConfig, folder: AblationFolder, echo: Echo) -> list[Record]:
    """The recipe's curate steps on the pool, then the selection down to the budget: the kept records."""
    from .curate import curate

    stages = str(folder.stages)
    curate_recipe = recipe.model_copy(update={"name": f"{name}-curate", "runs_dir": stages, "data": DataConfig(path=str(folder.pool)),
                                              "train": None, "eval": None, "tune": None, "ablate": None, "split": None})  # fmt: skip
    done = curate(curate_recipe)
    echo(f"{name}: curated the pool ({'unchanged, skipped' if done.skipped else 'done'}): {done.stats.get('kept')} kept")
    chosen = select(selection_recipe(str(done.run_dir), config.budget, name=f"{name}-select", overrides=[f"runs_dir={stages}"]))
    echo(f"{name}: selected ({'unchanged, skipped' if chosen.skipped else 'done'}): {chosen.stats.get('kept')} kept")
    return read_all([RunFolder(chosen.run_dir).kept]).records


def _steps(config: AblateConfig, train: TrainConfig, budget_records: int) -> int:
    if config.steps:
        return config.steps
    if train.max_steps > 0:
        return train.max_steps
    per_step = train.per_device_train_batch_size * train.gradient_accumulation_steps
    return max(1, math.ceil(budget_records * train.num_train_epochs / per_step))


# ---- scoring --------------------------------------------------------------------------------------


def _scored(arm: Arm, run: RunFolder, references: list[References], config: AblateConfig, recipe: Recipe, force: bool, track: bool,
            echo: Echo, out: AblationResult) -> Scores:  # fmt: skip
    """The arm's model on every reference set; read back when the same model was scored on the same references before."""
    settings = {k: getattr(config, k) for k in ("generate", "max_new_tokens", "batch_size", "embed_model", "limit")}
    ref_ids = {r.name: r.ids for r in references}
    key = StageKey.compute("ablate-score", {"settings": settings, "references": ref_ids}, key_file=run.root / "scores.key.json",
                           inputs=[run.train.summary, *(Path(r.source) for r in references)], code=EVAL_CODE,
                           outputs=[run.root / "scores.json"])  # fmt: skip
    if key.finished(force):
        echo(f"[{arm.name}] scores unchanged, skipped")
        return dict(orjson.loads((run.root / "scores.json").read_bytes()))
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    echo(f"[{arm.name}] scoring on {', '.join(f'{r.name} ({len(r.ids)})' for r in references)}")
    target = resolve_target(run.root)
    _, tuned = load_contenders(target)
    with tuned.active() as model:
        scores = score_model(model, tuned.tokenizer, references, generate=config.generate, max_new_tokens=config.max_new_tokens,
                             batch_size=config.batch_size, embed_model=config.embed_model)  # fmt: skip
    _write_json(run.root / "scores.json", scores)
    cpu = _cpu_seconds() - cpu0
    _write_json(run.root / "score_time.json", {"cpu_seconds": round(cpu, 1), "wall_seconds": round(time.perf_counter() - t0, 1)})
    key.record()
    out.scored.append(arm.name)
    if track:
        _log_arm(arm, run, scores, recipe)
    return scores


def _log_arm(arm: Arm, run: RunFolder, scores: Scores, recipe: Recipe) -> None:
    import mlflow

    train = recipe.train or TrainConfig()
    summary = read_json_object(run.train.summary)
    tags = {"curatune.stage": "ablate", "curatune.arm_group": arm.group}
    with tracked_run(train.tracking_uri, recipe.runs_dir, train.experiment, f"{recipe.name}/ablate/{arm.name}", tags=tags):
        mlflow.log_params({"arm": arm.name, "group": arm.group, "seed": str(arm.seed), "records": len(arm.records),
                           "source": arm.source[:500], "steps": summary.get("steps"), "model": train.model})  # fmt: skip
        metrics = {"processed_tokens": float(_trained_tokens(summary) or 0)}
        for ref, s in scores.items():
            metrics.update({f"{ref}.{k}": v for k, v in _estimates(s).items()})
        mlflow.log_metrics(metrics)


def _estimates(s: dict[str, list[Any]]) -> dict[str, float]:
    out = {"nll": float(np.sum(s["loss_sum"]) / max(np.sum(s["tokens"]), 1.0))}
    for metric in ("rougeL", "similarity"):
        if metric in s:
            out[metric] = float(np.mean(s[metric])) if s[metric] else float("nan")
    return out


def _comparisons(arms: list[Arm], scores: dict[str, Scores], references: list[References], config: AblateConfig) -> list[dict[str, Any]]:
    """Curated minus every other group of arms (a group's seeds resampled together), per reference set and metric."""
    groups: dict[str, list[str]] = {}
    for a in arms:
        groups.setdefault(a.group, []).append(a.name)
    rows = []
    for ref in references:
        for metric, higher in METRICS.items():
            if metric != "nll" and metric not in scores[CURATED][ref.name]:
                continue
            curated = ArmValues.of([scores[CURATED][ref.name]], metric)
            for group, names in groups.items():
                if group == CURATED:
                    continue
                other = ArmValues.of([scores[n][ref.name] for n in names], metric)
                d = seeded_paired_bootstrap(curated, other, higher, config.n_resamples, 0.95, config.seed)
                rows.append({"references": ref.name, "metric": metric, "other": group, "seeds": len(names),
                             "curated": curated.estimate(), "other_value": other.estimate(), **d.as_dict()})  # fmt: skip
    return rows


def _sheets(arms: list[Arm], scores: dict[str, Scores], references: list[References], folder: AblationFolder, seed: int) -> dict[str, str]:
    """A blind sheet per other arm (its first seed): curated against it on the first reference set."""
    ref = references[0]
    out = {}
    for arm in arms:
        if arm.name == CURATED or (arm.group == "random" and arm.seed):
            continue
        ours, theirs = scores[CURATED][ref.name]["answers"], scores[arm.name][ref.name]["answers"]
        items = [{"id": i, "prompt": prompt_text(c[:-1]), "answers": {CURATED: a, arm.name: b}}
                 for i, c, a, b in zip(ref.ids, ref.conversations, ours, theirs)]  # fmt: skip
        sheet = export_sheet(items, (CURATED, arm.name), folder.human / arm.name, seed, key_path=folder.human_keys / f"{arm.name}.json")
        out[arm.name] = str(sheet.sheet_csv)
    return out


# ---- small helpers --------------------------------------------------------------------------------


def _prefixed(echo: Echo, prefix: str) -> Echo:
    return lambda line: echo(f"[{prefix}] {line}")


def _as_list(path: str | list[str]) -> list[str]:
    return [path] if isinstance(path, str) else list(path)


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}-{i}", i + 1
    return out


def _trained_tokens(summary: dict[str, Any]) -> int | None:
    """Tokens in the batches the optimizer stepped on (the training's own count, which also holds a batch made ahead, as a fallback)."""
    tokens = summary.get("tokens") or {}
    value = tokens.get("trained_batch_tokens", tokens.get("processed_tokens"))
    return int(value) if value is not None else None


def _median_answer_words(records: list[Record]) -> float:
    return float(np.median([len(r.response_text.split()) for r in records])) if records else 0.0


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system), every thread counted."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
