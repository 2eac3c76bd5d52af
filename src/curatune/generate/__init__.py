"""Seeded noisy datasets with planted defects and a ground-truth file (tests, the demo, benchmarks)."""

from .compose import item_text, jaccard, shingles
from .defects import iban_ok, luhn_ok
from .noisy import DEFECTS, MALFORMED_REASONS, GenerateSummary, generate_noisy, make_noisy_rows, truth_path_for

__all__ = [
    "DEFECTS",
    "MALFORMED_REASONS",
    "GenerateSummary",
    "generate_noisy",
    "iban_ok",
    "item_text",
    "jaccard",
    "luhn_ok",
    "make_noisy_rows",
    "shingles",
    "truth_path_for",
]
