"""Model-independent evaluation: metrics on generated text and labels, confidence intervals, blind human comparison.

- :mod:`.metrics`: BLEU, chrF, ROUGE, SQuAD exact match and token F1; accuracy, per-class and macro
  precision/recall/F1, confusion matrix; bootstrap and paired bootstrap intervals, Wilson intervals;
- :mod:`.human`: a blind side-by-side sheet for raters (CSV, HTML, a key kept apart) and its scoring;
- :mod:`.run`: ``curatune eval``, a fine-tuned model and its base on the same held-out data (:func:`evaluate_run`),
  built on :mod:`.models` (loading both), :mod:`.generate` (greedy answers), :mod:`.loss` (answer loss, perplexity),
  :mod:`.classify` (argmax labels), :mod:`.corpus` (intervals of corpus scores), :mod:`.safety` (flagged answers)
  and :mod:`.report` (what the eval folder holds).
"""

from .human import ExportedSheet, SideBySideResult, SystemResult, export_sheet, import_judgments
from .metrics import (
    ClassificationScores,
    ClassScores,
    GenerationScores,
    Interval,
    PairedDifference,
    bootstrap_ci,
    classification_metrics,
    exact_match,
    generation_metrics,
    normalize_answer,
    paired_bootstrap_diff,
    token_f1,
    wilson_interval,
)
from .report import EvalReport
from .run import evaluate_run

__all__ = [
    "ClassScores",
    "ClassificationScores",
    "EvalReport",
    "ExportedSheet",
    "GenerationScores",
    "Interval",
    "PairedDifference",
    "SideBySideResult",
    "SystemResult",
    "bootstrap_ci",
    "classification_metrics",
    "evaluate_run",
    "exact_match",
    "export_sheet",
    "generation_metrics",
    "import_judgments",
    "normalize_answer",
    "paired_bootstrap_diff",
    "token_f1",
    "wilson_interval",
]
