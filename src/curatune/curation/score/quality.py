"""One heuristic quality score in [0, 1] for instruction records, from the signals the curation steps compute.

For a record with answers (assistant turns, or a preference pair's chosen
answer), four parts, each in [0, 1]:

- ``length``     = 1 - exp(-words / length_scale): words of the answers, with
  diminishing returns (scale 30: 10 words 0.28, 30 words 0.63, 100 words 0.96);
- ``rules``      = share of the four quality rule sets the answers pass, at their
  default thresholds: ``filter.gopher_quality``, ``filter.gopher_repetition``,
  ``filter.c4_quality``, ``filter.fineweb_quality`` (a rule set whose flag the
  record already carries counts as failed);
- ``ocr``        = 1 - min(1, r / ocr_scale), r the largest share of suspicious
  tokens in any message (``filter.ocr_noise``'s measure, whose default limit
  0.03 scores 0.4 here; its flag makes it 0);
- ``repetition`` = 1 - the share of the answers' word 3-grams that repeat an
  earlier one (a model stuck in a loop scores near 0, where gopher_repetition
  needs 50 words to judge).

::

    base    = (w_length*length + w_rules*rules + w_ocr*ocr + w_repetition*repetition) / (sum of the weights)
    quality = base * product over the defects present of (1 - penalty)

Defects, found by the answer checks at their defaults or by a flag of the same
step in ``meta["flags"]`` (each counted once): ``placeholder`` (an empty or
placeholder answer, penalty 1: quality 0), ``refusal`` (refusals and canned AI
disclaimers, 0.7), ``truncated`` (0.5), ``repeats_question`` (0.5),
``missing_input`` (the instruction points at a text, link or file the record
does not hold, so the answer was written to something the model never sees:
0.7), ``placeholder_input`` (the input is only "No input", "<noinput>", "N/A":
0.7, ``filter.placeholder_input``). Two more come from flags only, left by a curation run whose steps flag
instead of drop: ``duplicate`` (``dedup.exact``, ``dedup.minhash`` or
``dedup.semantic`` marked the record as a copy of one that stays, penalty 1) and
``unsafe`` (``filter.harmful`` or ``filter.pii``, penalty 1). A selection then
never spends its budget on a second copy or on a record a safety step objected to.

Records without an answer (plain text, labelled text) get no score. The
score is written as ``quality``, the name ``dedup.exact``'s ``keep: quality``
reads, and the number of defects found as ``defects`` (``select.budget`` does
not select a record with one).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import Field

from ...errors import RecipeError
from ..dedup.exact import ExactDedup
from ..dedup.minhash import MinHashDedup
from ..dedup.semantic import SemanticDedup
from ..filter._instruct_text import answers
from ..filter._prose import texts_of
from ..filter.answers import EmptyAnswer, PlaceholderAnswer, Refusal, RepeatsQuestion, TruncatedAnswer
from ..filter.c4 import C4Quality
from ..filter.fineweb import FineWebQuality
from ..filter.gopher_quality import GopherQuality
from ..filter.gopher_repetition import GopherRepetition
from ..filter.harmful import Harmful
from ..filter.instructions import MissingInput, PlaceholderInput
from ..filter.ocr import OcrNoise
from ..filter.ocr import _Scorer as OcrScorer
from ..filter.pii import PiiFilter
from ..record import Record
from ..registry import register
from ..step import KEEP, Filter, Scorer

Weight = Annotated[float, Field(ge=0)]
Penalty = Annotated[float, Field(ge=0, le=1)]

_OCR_STEP = OcrNoise.name
# The rule sets behind the ``rules`` part, and the steps behind each defect.
_RULES: tuple[type[Filter], ...] = (GopherQuality, GopherRepetition, C4Quality, FineWebQuality)
_DEFECTS: dict[str, tuple[type[Filter], ...]] = {
    "placeholder": (EmptyAnswer, PlaceholderAnswer),
    "refusal": (Refusal,),
    "truncated": (TruncatedAnswer,),
    "repeats_question": (RepeatsQuestion,),
    "missing_input": (MissingInput,),
    "placeholder_input": (PlaceholderInput,),
}
# Defects known from a flag only: these steps judge a record against others (dedup) or are costly to run again.
_FLAG_DEFECTS: dict[str, tuple[str, ...]] = {
    "duplicate": (ExactDedup.name, MinHashDedup.name, SemanticDedup.name),
    "unsafe": (Harmful.name, PiiFilter.name),
}


def repeated_trigram_share(words: list[str]) -> float:
    """Share of word 3-grams that repeat an earlier 3-gram (0 for fewer than 4 words: nothing can repeat)."""
    grams = list(zip(words, words[1:], words[2:]))
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def _flagged_steps(rec: Record) -> set[str]:
    """Names of the steps that flagged the record (flags are ``step:reason``)."""
    return {f.split(":", 1)[0] for f in rec.meta.get("flags") or ()}


@register("score.quality")
class QualityScore(Scorer):
    """Score instruction records from 0 to 1 (``quality``): answer length, quality rules, OCR noise, repetition, defects.

    A weighted mean of four parts in [0, 1] (answer length with diminishing
    returns, share of the Gopher/C4/FineWeb rule sets passed, absence of OCR
    noise, absence of repeated word 3-grams), multiplied by ``1 - penalty`` for
    each defect found or flagged: placeholder or empty answer, refusal,
    truncation, an answer repeating the question, an instruction pointing at a
    missing input or a placeholder input; and, from flags only, a duplicate or a harmful or PII
    finding. Records without an answer
    get no score. The formula: :mod:`curatune.curation.score.quality`.
    """

    def __init__(
        self,
        length_scale: Annotated[float, Field(gt=0)] = 30.0,
        ocr_scale: Annotated[float, Field(gt=0, le=1)] = 0.05,
        w_length: Weight = 0.3,
        w_rules: Weight = 0.3,
        w_ocr: Weight = 0.2,
        w_repetition: Weight = 0.2,
        placeholder_penalty: Penalty = 1.0,
        refusal_penalty: Penalty = 0.7,
        truncated_penalty: Penalty = 0.5,
        repeats_question_penalty: Penalty = 0.5,
        missing_input_penalty: Penalty = 0.7,
        placeholder_input_penalty: Penalty = 0.7,
        duplicate_penalty: Penalty = 1.0,
        unsafe_penalty: Penalty = 1.0,
    ):
        self.length_scale = length_scale
        self.ocr_scale = ocr_scale
        self.w_length = w_length
        self.w_rules = w_rules
        self.w_ocr = w_ocr
        self.w_repetition = w_repetition
        self.placeholder_penalty = placeholder_penalty
        self.refusal_penalty = refusal_penalty
        self.truncated_penalty = truncated_penalty
        self.repeats_question_penalty = repeats_question_penalty
        self.missing_input_penalty = missing_input_penalty
        self.placeholder_input_penalty = placeholder_input_penalty
        self.duplicate_penalty = duplicate_penalty
        self.unsafe_penalty = unsafe_penalty
        if w_length + w_rules + w_ocr + w_repetition <= 0:
            raise RecipeError(["score.quality needs at least one weight above 0 (w_length, w_rules, w_ocr, w_repetition)."])

    def setup(self) -> None:
        # Filters at their defaults, built and set up once per process; OcrScorer loads the word list.
        self._rules = [cls() for cls in _RULES]
        self._defects = {name: [cls() for cls in classes] for name, classes in _DEFECTS.items()}
        for step in [*self._rules, *(s for steps in self._defects.values() for s in steps)]:
            step.setup()
        self._ocr = OcrScorer()

    def parts(self, rec: Record) -> dict[str, Any] | None:
        """The four parts and ``defects`` (a list of names) of a record; None without an answer."""
        texts = [t for _, t in answers(rec)]
        if not texts:
            return None
        flagged = _flagged_steps(rec)
        words = " ".join(texts).split()
        rules = sum(r.name not in flagged and r.keep(rec) is KEEP for r in self._rules) / len(self._rules)
        ocr = 0.0
        if _OCR_STEP not in flagged:
            rates = [bad / n for bad, n in (self._ocr.score(t) for _, t in texts_of(rec, "all")) if n]
            ocr = 1.0 - min(1.0, max(rates, default=0.0) / self.ocr_scale)
        defects = [name for name, checks in self._defects.items() if any(c.name in flagged or c.keep(rec) is not KEEP for c in checks)] + [
            name for name, steps in _FLAG_DEFECTS.items() if flagged.intersection(steps)
        ]
        return {
            "length": 1.0 - math.exp(-len(words) / self.length_scale),
            "rules": rules,
            "ocr": ocr,
            "repetition": 1.0 - repeated_trigram_share([w.lower() for w in words]),
            "defects": defects,
        }

    def score(self, rec: Record) -> dict[str, float]:
        p = self.parts(rec)
        if p is None:
            return {}
        weights = (self.w_length, self.w_rules, self.w_ocr, self.w_repetition)
        base = sum(w * p[k] for w, k in zip(weights, ("length", "rules", "ocr", "repetition"))) / sum(weights)
        for name in p["defects"]:
            base *= 1.0 - getattr(self, f"{name}_penalty")
        return {"quality": round(base, 6), "defects": float(len(p["defects"]))}
