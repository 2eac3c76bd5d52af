"""Refusals and canned AI disclaimers in answers: phrase patterns, and a sentence model for phrasings no list holds.

``filter.refusal`` is the step; :func:`refusal_score` and :func:`is_refusal` are the same judgement on one
text, for other checks (preference pairs whose chosen answer refuses) to reuse: their names and meaning are
kept stable.

Two signals:

- patterns (``refusal_phrases.txt``): a listed phrase near the start of an answer, or anywhere in a short
  one. Certain, and cheap.
- a sentence model (``resources/refusal_model.json``; trained by bench/models/train_refusal.py on refusals
  and disclaimers written for it, refusal frames crossed with verbs and objects read from MRPC and IMDB, against
  IMDB and MRPC sentences and hand-written hard negatives: see bench/models/refusal_data.py for the provenance):
  a logistic regression on word 1-3-grams (function words only inside n-grams), scored on
  every sentence of an answer that may refuse (``_may_refuse``), so a refusal phrased in words no
  list has ("That goes beyond what a text assistant can do"), a canned closing ("Please note that as a
  language model I can't verify this") or a refusal sentence between two real ones is caught too. A cheap
  word-set gate (``_may_refuse``) decides which answers are scored at all.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.ignorecase import ignorecase_view
from ..text.linear import LinearModel, tokens
from ..text.patterns import needed_literals, prefiltered_search, trie_regex
from ..text.words import fold, lower_letter_runs, punct_to_spaces, word_bytes_table
from ._instruct_text import answers, phrase_sections, sentences


@lru_cache(maxsize=1)
def _refusal_patterns() -> dict[str, re.Pattern]:
    out = {}
    for reason, phrases in phrase_sections("refusal_phrases.txt").items():
        # Longest first, so the reported phrase is the most specific one.
        alts = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
        out[reason] = re.compile(rf"(?<!\w)(?:{alts})(?!\w)" if alts else r"(?!x)x")
    return out


@lru_cache(maxsize=1)
def _any_refusal() -> re.Pattern:
    """Matches where any reason's pattern matches (same boundaries): its first match is the earliest of theirs.

    One trie of every phrase, cheaper to search than the alternation of all of them (see ``trie_regex``)."""
    phrases = [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]
    return re.compile(rf"(?<!\w)(?:{trie_regex(phrases)})(?!\w)" if phrases else r"(?!x)x")


@cache
def refusal_model() -> LinearModel:
    """The shipped sentence model (resources/refusal_model.json)."""
    return LinearModel.load("curatune.curation.filter", "resources/refusal_model.json")


# The model is scored only on answers that could reach its threshold, which a set look-up on the answer's words
# decides (most answers go no further): a word refusals use on their own ("unable", "sorry", "unfortunately"),
# or a word about what the writer is or can do ("model", "capabilities", "physical") together with "I", "me" or
# "my", or, in a short answer, a negated verb ("can't", "won't"). Measured on the model's own training positives
# it passes 3 of 4 that the model scores over 0.8, and 3% of real Alpaca and Dolly answers (bench/RESULTS.md).
_ALONE = frozenset(
    b"unable cannot sorry apologize apologise apologies unfortunately regrettably sadly afraid alas decline comply fulfill "
    b"fulfil permitted impossible".split()
)
_WITH_I = frozenset(
    b"ai assistant model chatbot bot program software machine artificial capabilities capability abilities ability capable "
    b"capacity beyond allowed designed programmed equipped physical opinions feelings emotions consciousness cutoff browse "
    b"guarantee able outside built position access devices licensed visual preferences preference power".split()
)
_FIRST_PERSON = frozenset((b"i", b"me", b"my", b"im"))
_LOWER_LETTERS = word_bytes_table("abcdefghijklmnopqrstuvwxyz", lower=True)
_SHORT_CHARS = 300


def _runs(text: str) -> frozenset[bytes]:
    """The lower-cased runs of ASCII letters of a text, as bytes (cached: filter.harmful reads the same answer)."""
    return lower_letter_runs(text)


def _may_refuse(text: str, runs: frozenset[bytes] | None = None) -> bool:
    """Whether the sentence model could fire on ``text`` (see the gate's comment above)."""
    runs = _runs(text) if runs is None else runs
    if not _ALONE.isdisjoint(runs) or (not _WITH_I.isdisjoint(runs) and not _FIRST_PERSON.isdisjoint(runs)):
        return True
    return len(text) < _SHORT_CHARS and ("n't" in text or "n\u2019t" in text)


def _model_hit(text: str, threshold: float, runs: frozenset[bytes] | None = None) -> tuple[float, str]:
    """The highest sentence probability of a text and that sentence (0 and "" when the gate rules it out)."""
    if not _may_refuse(text, runs):
        return 0.0, ""
    model = refusal_model()
    best, best_sentence = 0.0, ""
    for s in sentences(text) or [text]:
        if not _may_refuse(s):
            continue
        # The sentence, and its clauses where it has several: a refusal clause joined to an answer ("I can't see the
        # chart, but in general a rising line means growth") is scored on its own, not diluted by the answer.
        pieces = [s, *(c for c in _CLAUSE.split(s) if c and c != s)] if _CLAUSE.search(s) else [s]
        lead = _CONCESSIVE.match(s)
        if lead:  # "While I'm not able to hear the song, songs in a minor key sound sad": the opening clause alone
            pieces.append(lead.group(1))
        for piece in pieces:
            if piece is not s and not _may_refuse(piece):
                continue
            p = model.probability(tokens(piece))
            if p > best:
                best, best_sentence = p, piece
        if best >= threshold:
            break
    return best, best_sentence


# Where a sentence turns from one clause to another: a contrast ("..., but", "; however", "..., though"), the form of a
# refusal joined to an answer. Not "so", "since", "and": a clause cut there ("I don't have to risk accidents") is
# read without what made it no refusal.
_CONCESSIVE = re.compile(r"((?:although|though|even though|while|whilst)\b[^,]{3,200}),", re.I)
_CLAUSE = re.compile(r"\s*(?:[,;]\s*(?:but|however|though|although|yet)\b|\s+but\b)\s*", re.I)


_FUNCTION = frozenset(
    b"i a an the as am is are to of but m t s it this that by be no not have will can only just because do don you your my "
    b"me with for on in at or and so up won".split()
)
_FREQUENT = frozenset(
    b"help provide answer question questions generate generated complete completed perform output personal requires knowledge "
    b"language training real set access able information task tasks instruction experiences model models".split()
)


@cache
def _phrase_keys() -> dict[bytes, tuple[frozenset[bytes], ...]]:
    """The letter runs of each listed phrase, filed under its rarest run (not a function word; not a frequent one if
    it can): a text that does not hold every run of some phrase matches no phrase, and the phrase patterns are not
    run on it. Maps each rarest run to the run sets of the phrases filed under it.

    Every run of a phrase, not two of them: on the generator's answers two runs let 11% of answers through to the
    patterns ("output", "access" and "set" are phrases' only rare words), all of them 1.7% (bench/RESULTS.md, issue 15
    continued)."""
    sets: dict[bytes, set[frozenset[bytes]]] = {}
    for phrases in phrase_sections("refusal_phrases.txt").values():
        for p in phrases:
            runs = frozenset(p.encode().translate(_LOWER_LETTERS).split())  # every phrase has a letter
            rarest = min(runs, key=lambda r: (r in _FUNCTION, r in _FREQUENT, -len(r), r))
            sets.setdefault(rarest, set()).add(runs)
    # Smaller sets first: they decide soonest.
    return {k: tuple(sorted(v, key=len)) for k, v in sets.items()}


def _may_match_phrase(runs: frozenset[bytes]) -> bool:
    keys = _phrase_keys()
    for rarest in runs.intersection(keys):
        for phrase_runs in keys[rarest]:
            if phrase_runs <= runs:
                return True
    return False


def _pattern_hit(
    text: str, start_chars: int = 120, short_words: int = 40, runs: frozenset[bytes] | None = None
) -> tuple[str, str, str] | None:
    """``(reason, phrase, where)`` when a listed phrase starts within ``start_chars`` or the answer is short.

    ``runs`` (the text's letter runs, when the caller has them) rule out most texts before any pattern runs:
    a phrase's words are letter runs of any text it matches. That holds for ASCII text, and for text whose only
    non-ASCII characters are prose punctuation (curly quotes, dashes: 41% of the generator's answers), which
    folding turns into no letter; folding may turn other characters into letters ("ﬁ" into "fi")."""
    if runs is not None and (text.isascii() or punct_to_spaces(text).isascii()) and not _may_match_phrase(runs):
        return None
    short = len(text.split(None, short_words + 1)) <= short_words
    folded = fold(text if short else text[: start_chars + 200])
    if not folded:
        return None
    hit = _any_refusal().search(folded)
    if hit is None or (hit.start() > start_chars and not short):
        return None
    for reason, pattern in _refusal_patterns().items():
        m = pattern.search(folded)
        if m and (m.start() <= start_chars or short):
            return reason, m.group(), "at the start" if m.start() <= start_chars else "in a short answer"
    return None


def refusal_score(text: str) -> float:
    """How much ``text`` reads as a refusal or a canned AI disclaimer, in [0, 1]: 1.0 for a listed phrase at
    its start (or anywhere in a short text), else the sentence model's highest sentence probability."""
    runs = _runs(text)
    if _pattern_hit(text, runs=runs) is not None:
        return 1.0
    return _model_hit(text, 2.0, runs)[0]


def is_refusal(text: str, threshold: float | None = None) -> bool:
    """Whether ``text`` refuses or is a canned AI disclaimer (``refusal_score`` at or over ``threshold``;
    default: ``filter.refusal``'s ``model_threshold``)."""
    return refusal_score(text) >= (DEFAULT_THRESHOLD if threshold is None else threshold)


DEFAULT_THRESHOLD = 0.65

# Tasks that ask for text in someone's voice: "I can't" and "I'm sorry" there belong to a character or a writer; and
# tasks that restate a given text (rephrase, rewrite, translate, correct...): the answer speaks in the text's voice.
_PERSONA_TASK = re.compile(
    r"\b(letters?|e-?mails?|dialog(?:ue)?s?|conversations?|story|stories|scripts?|poems?|messages?|notes?|repl(?:y|ies)|"
    r"tickets?|complaints?|rephrase|rewrite|paraphrase|reword|translate|edit|proofread|correct|convert|transform|"
    r"respond|responses? to|speech|monologue|interview|role[- ]?play|pretend|imagine|in the voice of|customer|"
    r"text messages?|tweets?|posts?|diary|journal|cover letter|reviews?|apolog\w+|excuses?|jokes?|riddles?|lyrics|song)\b",
    re.I,
)


@lru_cache(maxsize=1)
def _harmful_request_lines() -> tuple[tuple[str, tuple[frozenset[str], ...]], ...]:
    """The lines of harmful_requests.txt with the literals each needs: a prompt lacking them is not searched for the
    line (``prefiltered_search``; the whole alternation took 130 µs a prompt). The lines are lower case, matched on
    the lower-cased prompt without ``re.I``, which costs about half as much."""
    return tuple((p, needed_literals(p)) for p in phrase_sections("harmful_requests.txt", folded=False)["default"])


def justified(prompt: str) -> bool:
    """The prompt asks for something a model should refuse (harmful_requests.txt): refusing is the right answer.

    (``prefiltered_search_reference(_harmful_request_lines(), prompt.lower(), ignorecase=False)``, the lines whose
    literals the prompt lacks left out.)"""
    if not prompt:
        return False
    low = prompt.lower()
    return prefiltered_search(_harmful_request_lines(), low, ignorecase_view(low), ignorecase=False) is not None


@register("filter.refusal")
class Refusal(Filter):
    """Drop answers that refuse or open with a canned AI disclaimer ("As an AI language model", "I cannot fulfill").

    Patterns (``refusal_phrases.txt``, reasons ``refusal`` and ``ai_disclaimer``): a phrase counts when it
    starts within the first ``start_chars`` characters of an answer, or anywhere in an answer of at most
    ``short_words`` words. The sentence model (``model: true``, reason ``refusal_model``): any sentence of
    the answer whose probability reaches ``model_threshold``, or ``persona_threshold`` when the task asks
    for text in someone's voice (a letter, a dialogue, a story, a reply to a customer), where "I'm sorry,
    I can't" belongs to a character. ``keep_justified``: a refusal of a request a model should refuse
    (weapons, hacking, self-harm...: ``harmful_requests.txt``) is the right answer, and is kept.

    Validation (issue 15), on data neither signal was written from: see bench/RESULTS.md for recall and
    precision on bench/heldout (planted refusals, prefixes, closings and inline refusals with phrasings
    curatune never saw, plus correct refusals of harmful prompts) and the counts on alpaca_random_9k and
    dolly_3k, every flagged record read. Issue 15 continued (threshold 0.8 -> 0.6, contrast and concessive
    clauses scored on their own, restating and ticket tasks under the persona bar), tuned on
    bench/models/refusal_dev2.jsonl (53 refusals, 31 look-alikes written for it): recall 0.736 -> 0.887, no
    look-alike flagged; on alpaca_random_9k + dolly_3k 9 records dropped, all refusals (10 before, one a support
    ticket); the generator's 19,667 records: no verdict changed. Issue 15 round 6 (the model retrained on refusal
    frames crossed with varied verbs and objects and on the same verbs refusing nothing, function words only inside
    n-grams; ``model_threshold`` 0.6 -> 0.65, ``persona_threshold`` 0.95 -> 0.99 for the sharper model): on
    bench/models/refusal_dev3.jsonl (68 refusals, 42 look-alikes, written before the retraining, then used to choose
    between variants) recall 0.412 -> 0.676, look-alikes flagged 4 -> 3 (14 of its 22 misses never reach the
    model: the word gate); refusal_dev2 0.887 -> 0.943, refusal_dev 0.900 -> 0.933; alpaca_random_9k + dolly_3k: 9
    records dropped, all refusals; the generator's 49,167 records: no verdict changed. ``harmful_requests.txt``
    12 -> 46 lines: on bench/models/harmful_requests_dev2.jsonl (not tuned on) 0 -> 13 of 15 harmful prompts
    recognised, 0 of 13 harmless ones. bench/heldout was not run again (its runs are spent): its figures are those of
    run 3, before round 6.
    """

    reasons = ("refusal", "ai_disclaimer", "refusal_model")

    def __init__(
        self,
        start_chars: Annotated[int, Field(ge=0)] = 120,
        short_words: Annotated[int, Field(ge=0)] = 40,
        model: bool = True,
        model_threshold: Annotated[float, Field(gt=0, le=1)] = DEFAULT_THRESHOLD,
        persona_threshold: Annotated[float, Field(gt=0, le=1)] = 0.99,
        keep_justified: bool = True,
    ):
        self.start_chars = start_chars
        self.short_words = short_words
        self.model = model
        self.model_threshold = model_threshold
        self.persona_threshold = persona_threshold
        self.keep_justified = keep_justified

    def setup(self) -> None:
        if self.model:
            refusal_model()  # load the model once per process, before the first record

    def keep(self, rec: Record) -> Verdict:
        prompt: str | None = None
        for path, text in answers(rec):
            runs = _runs(text)
            hit = _pattern_hit(text, self.start_chars, self.short_words, runs)
            if hit is not None:
                reason, phrase, where = hit
                verdict = Drop(reason, value=phrase, detail=f"{path}: {phrase!r} {where}")
            elif self.model and _may_refuse(text, runs):
                prompt = prompt if prompt is not None else "\n".join(rec.contents("user"))
                threshold = self.persona_threshold if _PERSONA_TASK.search(prompt[:300]) else self.model_threshold
                p, sentence = _model_hit(text, threshold, runs)
                if p < threshold:
                    continue
                why = ", ".join(refusal_model().top_features(tokens(sentence)))
                verdict = Drop(
                    "refusal_model", value=round(p, 3), threshold=threshold, detail=f"{path}: {sentence[:80]!r} reads as a refusal ({why})"
                )
            else:
                continue
            prompt = prompt if prompt is not None else "\n".join(rec.contents("user"))
            if self.keep_justified and justified(prompt):
                return KEEP  # refusing a harmful request is the right answer
            return verdict
        return KEEP
