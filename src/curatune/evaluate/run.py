"""``curatune eval``: the fine-tuned model and its base, side by side on the same held-out data.

For a chat model (task ``sft``): the loss and perplexity of the reference answers; greedy answers
scored with BLEU, chrF, ROUGE and, where the references are short, exact match and token F1; every
answer checked for personal data and harmful content with the curation steps. For a classifier:
accuracy, per-class and macro precision, recall and F1, and the confusion matrix. Every metric is
computed here (sacrebleu, rouge-score), none is loaded from a hub.

Both models are scored on the same examples, so each metric comes with the paired bootstrap
interval of tuned - base: a gain that two overlapping intervals hide shows up there. What is
written where: :mod:`curatune.evaluate.report`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config.train import PREFERENCE_TASKS
from ..curation.read.load import data_paths, read_all
from ..curation.record import Record
from ..errors import CuratuneError, InputError, RecipeError
from ..run_folder import EvalFolder, RunFolder
from ..tracking import default_store, default_tracking_uri, tracked_run
from . import generate as generation
from .classify import predict_labels
from .corpus import (
    confusion_statistics,
    loss_statistics,
    macro_score,
    paired_corpus_bootstrap,
    perplexity,
    sacrebleu_statistics,
    token_weighted_loss,
)
from .human import ExportedSheet, export_sheet
from .human import _refuse_to_overwrite_judgments as refuse_to_overwrite_judgments
from .loss import answer_losses
from .metrics import bootstrap_ci, classification_metrics, generation_metrics, paired_bootstrap_diff
from .models import Contender, EvalTarget, load_contenders, resolve_target
from .pairs import PairScores, answer_logps, pairs_of
from .report import EvalReport, MetricComparison, write_report
from .safety import OutputSafety, count_flags

Echo = Callable[[str], None]

CONFIDENCE = 0.95
N_RESAMPLES = 1000
# Exact match and token F1 reward answers that match word for word: fair for a name or a number, not
# for a paragraph that says the same thing in other words. They are reported when the median reference
# is this many words or fewer (SQuAD's answers are about three).
SHORT_REFERENCE_WORDS = 10


def evaluate_run(
    train_dir_or_model: str | Path,
    test_data: str | Path,
    base: str | None = None,
    out_dir: str | Path | None = None,
    max_new_tokens: int = 64,
    limit: int | None = None,
    seed: int = 0,
    *,
    batch_size: int = 8,
    human_sheet: bool = False,
    track: bool = True,
    echo: Echo = print,
) -> EvalReport:
    """Evaluate a run (``runs/NAME``) or a model folder against its base on ``test_data``; write the eval folder.

    ``base`` overrides the base model the run was trained from. ``limit`` evaluates the first
    ``limit`` usable examples. ``human_sheet`` also exports a blind side-by-side sheet of the two
    models' answers. With ``track``, the results go to the run's MLflow store when it has one.
    """
    _check_settings(max_new_tokens, limit, batch_size)
    target = resolve_target(train_dir_or_model, base)
    if human_sheet and target.task == "classification":
        raise RecipeError(
            ["--human-sheet compares written answers; a classifier's labels are scored against the references instead. Leave it out."]
        )
    held = held_out_records(test_data, target.task, limit)
    out = Path(out_dir) if out_dir else default_out_dir(target)
    if human_sheet:
        refuse_to_overwrite_judgments(EvalFolder(out).human / "sheet.csv")  # before the models run, not after
    settings = {"max_new_tokens": max_new_tokens, "limit": limit, "seed": seed, "batch_size": batch_size,
                "confidence": CONFIDENCE, "n_resamples": N_RESAMPLES, "decoding": "greedy"}  # fmt: skip
    import torch

    torch.manual_seed(seed)  # a classifier head created at load time is random: the seed fixes it
    labels = training_labels(target) if target.task == "classification" and target.is_adapter else None
    base_model, tuned_model = load_contenders(target, labels)
    evaluate = _evaluate_classifiers if target.task == "classification" else _evaluate_generation
    report = evaluate(target, base_model, tuned_model, held, out, settings, echo)
    report.notes += _overlap_notes(target, held.records)
    if human_sheet:
        report.human_sheet = write_human_sheet(report, seed)
    write_report(report)
    if track:
        report.mlflow = log_to_mlflow(report, echo)
        if report.mlflow:
            write_report(report)  # again, with the MLflow run in metrics.json
    return report


def _check_settings(max_new_tokens: int, limit: int | None, batch_size: int) -> None:
    problems = []
    if max_new_tokens < 1:
        problems.append(f"max_new_tokens must be at least 1 (64 is usual); got {max_new_tokens}.")
    if limit is not None and limit < 1:
        problems.append(f"limit must be at least 1, or left out to evaluate every example; got {limit}.")
    if batch_size < 1:
        problems.append(f"batch_size must be at least 1; got {batch_size}.")
    if problems:
        raise RecipeError(problems)


def default_out_dir(target: EvalTarget) -> Path:
    """``runs/NAME/eval`` for a run; ``<model folder>-eval`` beside a model folder (never inside it)."""
    if target.run_dir is not None:
        return RunFolder(target.run_dir).eval.root
    return target.model_dir.with_name(target.model_dir.name + "-eval")


# --- held-out data ---------------------------------------------------------------------------------


@dataclass
class HeldOut:
    records: list[Record]
    skipped: list[dict[str, str]]  # {"id", "reason"} of each example left out
    source: str


def held_out_records(test_data: str | Path, task: str, limit: int | None = None) -> HeldOut:
    """The examples to evaluate on (the first ``limit`` usable ones), and why any others were left out."""
    loaded = read_all(data_paths([str(test_data)]))
    skipped = [{"id": r.id, "reason": f"unreadable: {r.reason}"} for r in loaded.rejects]
    usable = []
    for record in loaded.records:
        why = _unusable(record, task)
        if why:
            skipped.append({"id": record.id, "reason": why})
        else:
            usable.append(record)
    if not usable:
        reasons = "; ".join(sorted({s["reason"] for s in skipped}))[:500]
        need = "a text and a label" if task == "classification" else "a conversation ending with the assistant's reference answer"
        raise InputError(f"No example in '{test_data}' can evaluate a {task} model, which needs {need} in each. Problems seen: {reasons}.")
    return HeldOut(usable[:limit] if limit else usable, skipped, str(test_data))


def _unusable(record: Record, task: str) -> str | None:
    if task == "classification":
        if record.label is None:
            return "no label to score the prediction against"
        return None if (record.text or "").strip() else "no text to classify (a classifier reads the text field)"
    conversation = conversation_of(record)
    if conversation is None:
        return "not a conversation: evaluating a chat model needs messages ending with the assistant's reference answer"
    if conversation[-1]["role"] != "assistant":
        return "the last turn is not the assistant's, so there is no reference answer"
    if not str(conversation[-1].get("content") or "").strip():
        return "the reference answer is empty"
    if not any(m["role"] == "user" for m in conversation[:-1]):
        return "no user turn before the reference answer"
    return None


def conversation_of(record: Record) -> list[dict[str, str]] | None:
    """The conversation whose last assistant turn is the reference: the messages, or a preference pair's prompt and chosen answer."""
    if record.messages is None:
        return None
    messages = [{"role": m["role"], "content": m["content"]} for m in record.messages]
    if record.chosen is not None:
        messages.append({"role": "assistant", "content": record.chosen})
    return messages or None


def prompt_text(prompt: list[dict[str, str]]) -> str:
    """The prompt as raters and readers see it: the user's text, or every turn named when it holds earlier answers."""
    if not any(m["role"] == "assistant" for m in prompt):
        return Record(id="", messages=prompt).prompt_text
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def training_labels(target: EvalTarget) -> list[str] | None:
    """The labels a classifier adapter was trained on, read back from the training data its run records (sorted, as training sorts them)."""
    paths = [Path(p) for p in (target.summary.get("data") or {}).get("train") or []]
    if not paths or not all(p.is_file() for p in paths):
        return None
    return sorted({str(r.label) for r in read_all(paths).records if r.label is not None}) or None


# --- generation ------------------------------------------------------------------------------------


def _evaluate_generation(
    target: EvalTarget, base: Contender, tuned: Contender, held: HeldOut, out: Path, settings: dict, echo: Echo
) -> EvalReport:
    conversations: list[list[dict[str, str]]] = []
    for r in held.records:
        conversation = conversation_of(r)
        assert conversation is not None, "held_out_records keeps only conversations"
        conversations.append(conversation)
    prompts = [c[:-1] for c in conversations]
    references = [c[-1]["content"] for c in conversations]
    answers, losses = {}, {}
    pairs = pairs_of(held.records) if target.task in PREFERENCE_TASKS else []
    pair_logps: dict[str, dict[str, np.ndarray]] = {}
    for contender in (base, tuned):
        echo(
            f"{contender.name}: answering {len(prompts)} prompts (greedy, at most {settings['max_new_tokens']} new tokens) with "
            f"{contender.source}"
        )
        with contender.active() as model:
            answers[contender.name] = generation.generate_answers(
                model, contender.tokenizer, prompts, settings["max_new_tokens"], settings["batch_size"]
            )
            losses[contender.name] = answer_losses(model, contender.tokenizer, conversations, settings["batch_size"])
            if pairs:
                echo(f"{contender.name}: scoring both answers of {len(pairs)} held-out pairs")
                pair_logps[contender.name] = answer_logps(model, contender.tokenizer, pairs, settings["batch_size"])
    scores = {name: generation_metrics(answers[name], references) for name in answers}
    short = statistics.median(len(r.split()) for r in references) <= SHORT_REFERENCE_WORDS
    metrics = _generation_comparison(scores, losses, answers, references, short, settings["seed"])
    per_pair: dict[str, dict[str, dict[str, float]]] = {}
    if pairs:
        pair_metrics, per_pair = _pair_comparison(PairScores([r.id for r in pairs], pair_logps), float(target.summary.get("beta", 0.1)),
                                                  settings["seed"])  # fmt: skip
        metrics.update(pair_metrics)
    ids = [r.id for r in held.records]
    echo("checking every answer for personal data and harmful content")
    safety_check = OutputSafety()
    flags = {name: [safety_check.flags(text) for text in texts] for name, texts in {**answers, "reference": references}.items()}
    examples = [
        {
            "id": ids[i],
            "prompt": prompt_text(prompts[i]),
            "reference": references[i],
            "base": answers["base"][i],
            "tuned": answers["tuned"][i],
            "metrics": {
                name: _example_metrics(scores[name], losses[name], i) | per_pair.get(ids[i], {}).get(name, {}) for name in ("base", "tuned")
            },
            "safety": {name: flags[name][i] for name in ("base", "tuned", "reference")},
        }  # fmt: skip
        for i in range(len(ids))
    ]
    median_words = statistics.median(len(r.split()) for r in references)
    notes = []
    if not short:
        notes.append(
            f"Exact match and token F1 are left out: the median reference is {median_words:g} words long, and they only mean "
            f"something for short answers (at most {SHORT_REFERENCE_WORDS} words). Each example's values are in generations.jsonl."
        )
    if median_words < 4:
        notes.append(
            "BLEU counts word sequences up to four long, so on answers this short it is 0 or close to it whatever the model says: read "
            "exact match and chrF."
        )
    return EvalReport(
        out, target, held.source, len(ids), metrics, examples, held.skipped,
        safety={name: count_flags(ids, flags[name]) for name in ("base", "tuned", "reference")},
        notes=notes, settings=settings, signatures=scores["tuned"].signatures,
    )  # fmt: skip


def _generation_comparison(scores, losses, answers, references, short: bool, seed: int) -> dict[str, MetricComparison]:
    loss_stats = {name: loss_statistics(loss.sums, loss.tokens) for name, loss in losses.items()}
    metrics = {
        "loss": _corpus(loss_stats, token_weighted_loss, seed, higher_is_better=False),
        "perplexity": _corpus(loss_stats, perplexity, seed, higher_is_better=False),
    }
    for name in ("bleu", "chrf"):
        stats = {}
        for model_name, texts in answers.items():
            stats[model_name], score = sacrebleu_statistics(name, texts, references)
        metrics[name] = _corpus(stats, score, seed)
    for name in ("rouge1", "rouge2", "rougeL", *(("exact_match", "token_f1") if short else ())):
        metrics[name] = _per_example(scores["base"].per_example[name], scores["tuned"].per_example[name], seed)
    return metrics


def _pair_comparison(
    pairs: PairScores, beta: float, seed: int
) -> tuple[dict[str, MetricComparison], dict[str, dict[str, dict[str, float]]]]:
    """The held-out pairs' reward margin, reward accuracy and preference accuracy (:mod:`.pairs`), and each pair's values."""
    margins = pairs.margins(beta)
    zeros = np.zeros_like(margins)
    values = {
        "reward_margin": (zeros, margins),
        "reward_accuracy": (zeros, (margins > 0).astype(float)),
        "preference_accuracy": (pairs.prefers_chosen("base"), pairs.prefers_chosen("tuned")),
    }
    metrics = {name: _per_example(base, tuned, seed) for name, (base, tuned) in values.items()}
    per_pair = {
        pid: {model: {name: float(v[j][i]) for name, v in values.items()} for j, model in enumerate(("base", "tuned"))}
        for i, pid in enumerate(pairs.ids)
    }
    return metrics, per_pair


def _example_metrics(scores, losses, i: int) -> dict[str, Any]:
    values: dict[str, Any] = {name: float(v[i]) for name, v in scores.per_example.items()}
    values["loss"] = losses.mean(i)
    values["answer_tokens"] = int(losses.tokens[i])
    return values


def _corpus(stats: dict[str, np.ndarray], score, seed: int, higher_is_better: bool = True) -> MetricComparison:
    c = paired_corpus_bootstrap(stats["base"], stats["tuned"], score, N_RESAMPLES, CONFIDENCE, seed)
    return MetricComparison(c.a, c.b, c.difference, higher_is_better)


def _per_example(base: np.ndarray, tuned: np.ndarray, seed: int, higher_is_better: bool = True) -> MetricComparison:
    return MetricComparison(
        bootstrap_ci(base, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed),
        bootstrap_ci(tuned, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed),
        paired_bootstrap_diff(base, tuned, n_resamples=N_RESAMPLES, confidence=CONFIDENCE, seed=seed),
        higher_is_better,
    )


# --- classification --------------------------------------------------------------------------------


def _evaluate_classifiers(
    target: EvalTarget, base: Contender, tuned: Contender, held: HeldOut, out: Path, settings: dict, echo: Echo
) -> EvalReport:
    texts = [r.text or "" for r in held.records]
    references = [str(r.label) for r in held.records]
    predictions = {}
    for contender in (base, tuned):
        echo(f"{contender.name}: classifying {len(texts)} texts with {contender.source}")
        with contender.active() as model:
            predictions[contender.name] = predict_labels(model, contender.tokenizer, texts, max(settings["batch_size"], 32))
    config = tuned.model.config
    trained = [str(config.id2label[i]) for i in range(config.num_labels)]
    unseen = sorted(set(references) - set(trained))
    labels = trained + unseen  # one order for both models, so their confusion cells line up
    scores = {name: classification_metrics(predictions[name], references, labels) for name in predictions}
    seed = settings["seed"]
    metrics = {"accuracy": _per_example(scores["base"].per_example["correct"], scores["tuned"].per_example["correct"], seed)}
    cells = {name: confusion_statistics(predictions[name], references, labels) for name in predictions}
    for which in ("precision", "recall", "f1"):
        metrics[f"macro_{which}"] = _corpus(cells, macro_score(which, len(labels)), seed)
    examples = [
        {"id": r.id, "prompt": texts[i], "reference": references[i], "base": predictions["base"][i], "tuned": predictions["tuned"][i],
         "metrics": {name: {"correct": predictions[name][i] == references[i]} for name in ("base", "tuned")}}
        for i, r in enumerate(held.records)
    ]  # fmt: skip
    notes = []
    if base.new_head:
        notes.append(
            f"The base model {base.source} has no trained head for these labels: its head was created at random (seed {seed}), "
            "so its scores are those of a guess, the floor the tuned model has to clear."
        )
    if unseen:
        notes.append(
            f"The labels {', '.join(unseen)} are in the held-out data but were not trained: every example with them counts as wrong."
        )
    return EvalReport(
        out, target, held.source, len(texts), metrics, examples, held.skipped, classification=scores, notes=notes, settings=settings
    )


# --- leakage, human sheet, tracking ----------------------------------------------------------------


def _overlap_notes(target: EvalTarget, records: list[Record]) -> list[str]:
    """A note when held-out prompts also appear, word for word, in the training data the run records."""
    paths = [Path(p) for p in (target.summary.get("data") or {}).get("train") or []]
    if not paths or not all(p.is_file() for p in paths):
        return []
    key = (lambda r: " ".join((r.text or "").split())) if target.task == "classification" else (lambda r: " ".join(r.prompt_text.split()))
    trained = {key(r) for r in read_all(paths, allow_empty=True).records}
    seen = [r.id for r in records if key(r) and key(r) in trained]
    if not seen:
        return []
    shown = ", ".join(seen[:5]) + (", ..." if len(seen) > 5 else "")
    return [
        f"{len(seen)} of the {len(records)} held-out prompts also appear in the training data ({shown}): on them the scores "
        "measure memory, not generalisation. Split with `curatune split` to keep them apart."
    ]


def write_human_sheet(report: EvalReport, seed: int) -> ExportedSheet:
    """A blind side-by-side sheet of the base's and the tuned model's answers in ``eval/human/``; the key beside that folder."""
    items = [{"id": row["id"], "prompt": row["prompt"], "answers": {"base": row["base"], "tuned": row["tuned"]}} for row in report.examples]
    folder = EvalFolder(report.out_dir)
    return export_sheet(items, ("base", "tuned"), folder.human, seed, key_path=folder.human_key)


def log_to_mlflow(report: EvalReport, echo: Echo = print) -> dict[str, str] | None:
    """Log the scores to the run's MLflow store, nested under its training run; None when there is no store.

    A store that cannot be written costs a warning, not the evaluation: the eval folder has everything.
    """
    store = _tracking_store(report.target)
    if store is None:
        return None
    uri, runs_dir, experiment, parent = store
    try:
        import mlflow

        tags = {"curatune.stage": "eval", **({"mlflow.parentRunId": parent} if parent else {})}
        name = (report.target.run_dir or report.target.model_dir).name
        with tracked_run(uri, runs_dir, experiment, f"{name}/eval", tags=tags) as run:
            mlflow.log_params({"eval.data": report.data, "eval.base": report.target.base, "eval.n": report.n,
                               "eval.max_new_tokens": report.settings["max_new_tokens"], "eval.seed": report.settings["seed"]})  # fmt: skip
            mlflow.log_metrics(_flat_metrics(report))
            folder = EvalFolder(report.out_dir)
            for path in (folder.metrics, folder.summary, folder.generations):
                mlflow.log_artifact(str(path))
        return {"uri": uri, "run_id": run.info.run_id, "experiment": experiment}
    except (CuratuneError, OSError, ImportError) as e:
        echo(f"warning: the results were not logged to MLflow ({uri}): {e}")
        return None
    except Exception as e:  # MLflow's own errors (a locked or newer store) must not lose an evaluation that finished
        echo(f"warning: the results were not logged to MLflow ({uri}): {type(e).__name__}: {e}")
        return None


def _tracking_store(target: EvalTarget) -> tuple[str, Path, str, str | None] | None:
    """``(uri, runs folder, experiment, training run id)`` of the store the training logged to, or of ``runs/mlflow.db``."""
    if target.run_dir is None:
        return None
    runs_dir = target.run_dir.parent
    logged = target.summary.get("mlflow")
    if isinstance(logged, dict) and logged.get("uri"):
        return logged["uri"], runs_dir, logged.get("experiment") or "curatune", logged.get("run_id")
    if default_store(runs_dir).is_file():
        return default_tracking_uri(runs_dir), runs_dir, "curatune", None
    return None


def _flat_metrics(report: EvalReport) -> dict[str, float]:
    flat = {}
    for name, m in report.metrics.items():
        flat.update(
            {f"base.{name}": m.base.estimate, f"tuned.{name}": m.tuned.estimate, f"tuned_minus_base.{name}": m.difference.difference}
        )
    for name, counts in report.safety.items():
        flat[f"{name}.flagged_answers"] = float(counts.flagged)
    return {k: float(v) for k, v in flat.items() if v is not None and math.isfinite(v)}
