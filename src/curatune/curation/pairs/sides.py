"""One side of a pair that is empty or a placeholder, or a refusal where a refusal is the wrong lesson.

The answer checks of instruction data (``filter.empty_answer``, ``filter.placeholder_answer``,
``filter.refusal``) read only the answer a model learns from: a pair's chosen side. Here each
side is judged by the same checks, called as they are (each side given to the step as the
answer of a one-turn conversation), so that an improvement to them applies to pairs too.

``pair.empty_side``: an empty or placeholder side is a defect whichever side it is: the pair
teaches "answer something" and nothing about which answer.

``pair.refusal`` judges a refusal against the prompt. Whether the prompt is harmful is the
harm check of ``filter.harmful`` on the prompt's system and user turns (its lexicon, and its
local classifier when ``harm_classifier_path`` names one):

- a chosen refusal of a harmless prompt teaches the model to refuse what it should answer:
  ``chosen_refuses_harmless``. Of a harmful prompt it is the right answer, and kept.
- a rejected refusal of a harmful prompt, against a chosen answer that does not refuse,
  teaches the model to comply with the harmful request: ``rejected_refuses_harmful``. Of a
  harmless prompt it is kept: helpful-over-refusal pairs are how over-refusal is trained away.

The lexicon sees words, not intent: a harmful request in plain words ("how do I get into my
neighbour's wifi") passes as harmless, so a refusal rightly chosen for it is judged a refusal
of a harmless prompt (bench/RESULTS.md, issue 16, measures how often). The preference recipe
therefore flags rather than drops; give a classifier (``harm_classifier_path``), or drop
(``on_fail: drop``) where the prompts are not adversarial.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from ..filter.answers import EmptyAnswer, PlaceholderAnswer, Refusal
from ..filter.harmful import Harmful
from ..record import Record, message_path
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ._sides import present_sides, prompt_turns


def as_answers(rec: Record) -> tuple[str, list[tuple[str, Record]]]:
    """Each side as the answer of a one-turn conversation (the prompt's system and user turns, then the side),
    and the path the answer checks name that answer by."""
    prompt = prompt_turns(rec)
    sides = [
        (side, Record(rec.id, messages=[*prompt, {"role": "assistant", "content": text}], meta=rec.meta))
        for side, text in present_sides(rec)
    ]
    return message_path(len(prompt)), sides


def _renamed(detail: str | None, path: str, side: str) -> str:
    return (detail or "").replace(path, side)


@register("pair.empty_side")
class EmptySide(Filter):
    """Drop pairs (and KTO examples) with an empty or a placeholder side (``N/A``, ``<nooutput>``, ``...``).

    Each side goes through ``filter.empty_answer`` and ``filter.placeholder_answer``
    (``placeholder_max_chars``); the reason names the side.
    """

    reasons = ("empty_chosen", "empty_rejected", "placeholder_chosen", "placeholder_rejected")

    def __init__(self, placeholder_max_chars: Annotated[int, Field(ge=1)] = 40):
        self.placeholder_max_chars = placeholder_max_chars

    def setup(self) -> None:
        self._checks = ((EmptyAnswer(), "empty"), (PlaceholderAnswer(max_chars=self.placeholder_max_chars), "placeholder"))

    def keep(self, rec: Record) -> Verdict:
        path, sides = as_answers(rec)
        for side, as_answer in sides:
            for check, reason in self._checks:
                v = check.keep(as_answer)
                if not v.kept:
                    return Drop(f"{reason}_{side}", v.value, v.threshold, detail=_renamed(v.detail, path, side))
        return KEEP


@register("pair.refusal")
class PairRefusal(Filter):
    """Drop a refusal chosen for a harmless prompt, or rejected for a harmful one against a complying chosen answer.

    Refusals: ``filter.refusal`` on each side (``refusal_start_chars``,
    ``refusal_short_words``). Harmful: ``filter.harmful`` on the prompt
    (``harm_threshold``, ``harm_lexicon_path``, ``harm_classifier_path``). A KTO
    example's one side is judged the same way (an undesirable refusal of a harmful prompt
    teaches compliance).
    """

    reasons = ("chosen_refuses_harmless", "rejected_refuses_harmful")

    def __init__(
        self,
        refusal_start_chars: Annotated[int, Field(ge=0)] = 120,
        refusal_short_words: Annotated[int, Field(ge=0)] = 40,
        harm_threshold: Annotated[float, Field(gt=0)] = 1.0,
        harm_lexicon_path: str | None = None,
        harm_classifier_path: str | None = None,
    ):
        self.refusal_start_chars = refusal_start_chars
        self.refusal_short_words = refusal_short_words
        self.harm_threshold = harm_threshold
        self.harm_lexicon_path = harm_lexicon_path
        self.harm_classifier_path = harm_classifier_path

    def setup(self) -> None:
        # keep_justified off: whether refusing is right is this check's own question, judged against the prompt below.
        self._refusal = Refusal(start_chars=self.refusal_start_chars, short_words=self.refusal_short_words, keep_justified=False)
        self._harm = Harmful(
            fields="prompt", threshold=self.harm_threshold, lexicon_path=self.harm_lexicon_path, classifier_path=self.harm_classifier_path
        )
        self._refusal.setup()
        self._harm.setup()

    def __getstate__(self) -> dict[str, Any]:
        # The checks built in setup (a lexicon, perhaps a model) do not travel to worker processes; setup() rebuilds them.
        return {k: v for k, v in self.__dict__.items() if k not in ("_refusal", "_harm")}

    def keep(self, rec: Record) -> Verdict:
        path, sides = as_answers(rec)
        refusals = {side: v for side, as_answer in sides if not (v := self._refusal.keep(as_answer)).kept}
        if not refusals:
            return KEEP
        harmful = not self._harm.keep(Record(rec.id, messages=prompt_turns(rec))).kept
        if "chosen" in refusals and not harmful:
            v = refusals["chosen"]
            return Drop(
                "chosen_refuses_harmless", v.value, detail=f"{_renamed(v.detail, path, 'chosen')}; the prompt passes the harm check"
            )
        if "rejected" in refusals and harmful and "chosen" not in refusals:
            v = refusals["rejected"]
            why = "the chosen answer complies" if rec.chosen is not None else "labelled undesirable"
            return Drop(
                "rejected_refuses_harmful",
                v.value,
                detail=f"{_renamed(v.detail, path, 'rejected')}; the prompt fails the harm check, {why}",
            )
        return KEEP
