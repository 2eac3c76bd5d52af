"""What ``curatune eval`` leaves in the eval folder: ``metrics.json``, ``generations.jsonl`` and ``summary.md``.

```
eval/
  metrics.json        both models' scores with 95% bootstrap intervals, the paired difference tuned - base,
                      safety counts, per-class scores and confusion matrices (classification), settings
  generations.jsonl   per example: id, prompt, reference, both answers (or labels), per-example metrics, safety flags
  summary.md          the comparison table, the safety counts, a few sample generations
  human/              with --human-sheet: sheet.csv and sheet.html for raters (blind: base and tuned unnamed)
  human_key.json      which answer of the sheet is whose; kept out of human/ so the folder can be handed over whole
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..run_folder import EvalFolder
from .human import ExportedSheet
from .metrics import ClassificationScores, Interval, PairedDifference
from .models import EvalTarget
from .safety import SafetyCounts

FORMAT = "curatune.eval/1"
SAMPLES_SHOWN = 5  # sample generations in summary.md
_EXCERPT = 300  # characters of a prompt or an answer shown in summary.md

# How summary.md names each metric, in the order it lists them.
LABELS = {
    "loss": "answer loss",
    "perplexity": "perplexity",
    "bleu": "BLEU",
    "chrf": "chrF",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "exact_match": "exact match",
    "token_f1": "token F1",
    "accuracy": "accuracy",
    "macro_precision": "macro precision",
    "macro_recall": "macro recall",
    "macro_f1": "macro F1",
    "reward_margin": "reward margin (held-out pairs)",
    "reward_accuracy": "reward accuracy (held-out pairs)",
    "preference_accuracy": "prefers chosen (held-out pairs)",
}


@dataclass(frozen=True)
class MetricComparison:
    """One metric for both models on the same examples, and the paired difference tuned - base."""

    base: Interval
    tuned: Interval
    difference: PairedDifference
    higher_is_better: bool

    def as_dict(self) -> dict[str, Any]:
        interval = lambda i: {"estimate": i.estimate, "low": i.low, "high": i.high}  # noqa: E731
        d = self.difference
        return {
            "base": interval(self.base), "tuned": interval(self.tuned), "higher_is_better": self.higher_is_better,
            # "tuned_higher": the share of resamples where tuned scored above base (better only when higher is better).
            "difference": {"estimate": d.difference, "low": d.low, "high": d.high, "tuned_higher": d.b_better_fraction},
        }  # fmt: skip


@dataclass
class EvalReport:
    """Everything one evaluation found; :func:`write_report` puts it on disk."""

    out_dir: Path
    target: EvalTarget
    data: str
    n: int
    metrics: dict[str, MetricComparison]
    examples: list[dict[str, Any]]  # the rows of generations.jsonl
    skipped: list[dict[str, str]] = field(default_factory=list)
    safety: dict[str, SafetyCounts] = field(default_factory=dict)  # per model (and the references), generation only
    classification: dict[str, ClassificationScores] = field(default_factory=dict)  # per model, classification only
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)
    human_sheet: ExportedSheet | None = None
    mlflow: dict[str, str] | None = None

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def sources(self) -> dict[str, str]:
        tuned = f"{self.target.model_dir}" + (f" (adapter on {self.target.adapter_base})" if self.target.is_adapter else "")
        return {"base": self.target.base, "tuned": tuned}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT, "task": self.task, "data": self.data, "n": self.n, "models": self.sources,
            "metrics": {name: m.as_dict() for name, m in self.metrics.items()},
        }  # fmt: skip
        if self.classification:
            out["classification"] = {name: s.as_dict() for name, s in self.classification.items()}
        if self.safety:
            out["safety"] = {name: s.as_dict() for name, s in self.safety.items()}
        if self.signatures:
            out["signatures"] = self.signatures
        out.update(settings=self.settings, skipped=self.skipped, notes=self.notes)
        if self.human_sheet:
            h = self.human_sheet
            out["human_sheet"] = {"csv": str(h.sheet_csv), "html": str(h.sheet_html), "key": str(h.key_json), "items": h.n_items}
        if self.mlflow:
            out["mlflow"] = self.mlflow
        return out


def write_report(report: EvalReport) -> None:
    out = EvalFolder(report.out_dir)
    out.root.mkdir(parents=True, exist_ok=True)
    out.metrics.write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    out.generations.write_bytes(b"".join(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for row in report.examples))
    out.summary.write_text(summary_markdown(report), encoding="utf-8")


# --- summary.md ------------------------------------------------------------------------------------


def summary_markdown(report: EvalReport) -> str:
    s = report.settings
    lines = [
        f"# Evaluation: {report.sources['tuned']} against its base ({report.task})",
        "",
        f"Held-out data: {report.data}, {report.n} examples"
        + (f" ({len(report.skipped)} skipped, listed in metrics.json)" if report.skipped else "")
        + ".",
        f"Base: {report.sources['base']}. Tuned: {report.sources['tuned']}.",
        f"Intervals: {s['confidence']:.0%} percentile bootstrap over the examples ({s['n_resamples']} resamples, seed {s['seed']}); "
        "the difference is paired: both models on the same resamples.",
        "",
        "| metric | base | tuned | tuned − base |",
        "|---|---|---|---|",
    ]
    for name, m in report.metrics.items():
        better = "" if m.higher_is_better else " (lower is better)"
        d = m.difference
        lines.append(
            f"| {LABELS.get(name, name)}{better} | {_interval(m.base)} | {_interval(m.tuned)} | {d.difference:+.4g} [{d.low:+.4g}, "
            f"{d.high:+.4g}] |"
        )
    lines += ["", *[f"- {note}" for note in report.notes]] if report.notes else []
    if report.safety:
        lines += ["", *_safety_lines(report)]
    if report.classification:
        lines += ["", *_confusion_lines(report)]
    lines += ["", *_sample_lines(report)]
    if report.human_sheet:
        h = report.human_sheet
        lines += ["", f"Human evaluation: give raters {h.sheet_html.parent}/ ({h.n_items} items); score the filled sheet with "
                  f"`curatune judge {h.sheet_csv} {h.key_json}`."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _interval(i: Interval) -> str:
    return f"{i.estimate:.4g} [{i.low:.4g}, {i.high:.4g}]"


def _safety_lines(report: EvalReport) -> list[str]:
    lines = [
        "## Output safety",
        "",
        "Answers checked with the curation steps filter.pii (every type) and filter.harmful (lexicon).",
        "",
        "| answers by | checked | flagged | reasons |",
        "|---|---|---|---|",
    ]
    for name, counts in report.safety.items():
        reasons = ", ".join(f"{reason} {n}" for reason, n in counts.by_reason.items()) or "-"
        lines.append(f"| {name} | {counts.checked} | {counts.flagged} | {reasons} |")
    flagged = [(row, name) for row in report.examples for name in ("base", "tuned") if row["safety"][name]]
    if flagged:
        lines += ["", "Flagged answers:", ""]
        for row, name in flagged[:10]:
            why = "; ".join(f"{f['reason']} ({f['detail']})" for f in row["safety"][name])
            lines.append(f"- {row['id']}, {name}: {why}: {_excerpt(row[name])}")
        if len(flagged) > 10:
            lines.append(f"- ... and {len(flagged) - 10} more in generations.jsonl")
    return lines


def _confusion_lines(report: EvalReport) -> list[str]:
    lines = ["## Confusion matrices", "", "Rows: reference label; columns: predicted label."]
    for name, scores in report.classification.items():
        labels = [str(label) for label in scores.labels]
        lines += ["", f"{name}:", "", "| reference \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for label, row in zip(labels, scores.confusion.tolist()):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _sample_lines(report: EvalReport) -> list[str]:
    lines = ["## Sample generations" if report.task != "classification" else "## Sample predictions", ""]
    for row in report.examples[:SAMPLES_SHOWN]:
        lines += [f"**{row['id']}**", ""]
        lines += [f"- prompt: {_excerpt(row['prompt'])}", f"- reference: {_excerpt(row['reference'])}"]
        lines += [f"- base: {_excerpt(row['base'])}", f"- tuned: {_excerpt(row['tuned'])}", ""]
    return lines[:-1]


def _excerpt(text: str) -> str:
    """One line, cut to _EXCERPT characters, as a code span: Markdown shows model output as it is, never as markup."""
    flat = " ".join(str(text).split())
    cut = flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "…"
    return "`" + cut.replace("`", "'") + "`" if cut else "(empty)"
