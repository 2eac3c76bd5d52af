"""Checks on the answers of instruction and chat data: empty, placeholder, refusal, echo of the question, truncation.

Each check reads the answers a model would learn from (every assistant turn,
or a preference pair's chosen answer) and passes plain-text and labelled
records, where it does not apply. Phrase lists live in data files beside this
module (``refusal_phrases.txt``, ``placeholder_answers.txt``, ``dangling_words.txt``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.patterns import search_last_token, trie_regex
from ..text.words import fold, word_keys, words
from ._instruct_text import (
    answers,
    exchanges,
    fence_count,
    instruction_and_input,
    ngrams,
    phrase_sections,
    sentences,
    split_code,
    without_inline_input,
)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@register("filter.empty_answer")
class EmptyAnswer(Filter):
    """Drop records with an empty or whitespace-only answer (for chat: any assistant turn)."""

    reasons = ("empty_answer",)

    def __init__(self):
        pass

    def keep(self, rec: Record) -> Verdict:
        for path, text in answers(rec):
            if not text.strip():
                return Drop("empty_answer", value=len(text), threshold=1, detail=f"{path} is empty")
        return KEEP


_NOT_ALNUM = re.compile(r"[\W_]+")


def _placeholder_key(text: str) -> str:
    return _NOT_ALNUM.sub("", fold(text))


@lru_cache(maxsize=1)
def _placeholders() -> frozenset[str]:
    return frozenset(_placeholder_key(p) for p in phrase_sections("placeholder_answers.txt")["default"])


@register("filter.placeholder_answer")
class PlaceholderAnswer(Filter):
    """Drop records whose answer is only a placeholder: ``<nooutput>``, ``N/A``, ``None``, ``-``, ``...``, ``TODO``.

    Matching ignores case, spaces and punctuation; an answer of punctuation
    only counts as a placeholder. Whitespace-only answers are left to
    ``filter.empty_answer``. ``max_chars`` bounds what is looked at, so a real
    answer never is.
    """

    reasons = ("placeholder_answer",)

    def __init__(self, max_chars: Annotated[int, Field(ge=1)] = 40):
        self.max_chars = max_chars

    def keep(self, rec: Record) -> Verdict:
        for path, text in answers(rec):
            stripped = text.strip()
            if not stripped or len(stripped) > self.max_chars:
                continue
            key = _placeholder_key(stripped)
            punctuation_only = not key and all(unicodedata.category(c).startswith("P") or c.isspace() for c in stripped)
            if key in _placeholders() or punctuation_only:
                return Drop("placeholder_answer", value=stripped, detail=f"{path} is only {stripped!r}")
        return KEEP


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


@register("filter.refusal")
class Refusal(Filter):
    """Drop answers that refuse or open with a canned AI disclaimer ("As an AI language model", "I cannot fulfill").

    A phrase counts when it starts within the first ``start_chars`` characters
    of an answer, or anywhere in an answer of at most ``short_words`` words (where
    it is the answer). A long helpful answer that mentions "as an AI" further
    down is kept. Phrases: ``refusal_phrases.txt``, one section per reason.
    """

    reasons = ("refusal", "ai_disclaimer")

    def __init__(self, start_chars: Annotated[int, Field(ge=0)] = 120, short_words: Annotated[int, Field(ge=0)] = 40):
        self.start_chars = start_chars
        self.short_words = short_words

    def keep(self, rec: Record) -> Verdict:
        any_refusal = _any_refusal()
        for path, text in answers(rec):
            # Words counted only up to short_words + 1: enough to tell a short answer from a long one.
            short = len(text.split(None, self.short_words + 1)) <= self.short_words
            # A long answer is only read near its start: fold no more than the phrases can reach.
            folded = fold(text if short else text[: self.start_chars + 200])
            if not folded:
                continue
            # One search for all phrases first: no hit (or a first hit too far in) means no reason matches.
            hit = any_refusal.search(folded)
            if hit is None or (hit.start() > self.start_chars and not short):
                continue
            for reason, pattern in _refusal_patterns().items():
                m = pattern.search(folded)
                if m and (m.start() <= self.start_chars or short):
                    where = "at the start" if m.start() <= self.start_chars else "in a short answer"
                    return Drop(reason, value=m.group(), detail=f"{path}: {m.group()!r} {where}")
        return KEEP


@register("filter.repeats_question")
class RepeatsQuestion(Filter):
    """Drop answers that repeat the question instead of answering it.

    The answer is compared with the instruction part of the prompt only (not
    the input, and not text quoted inline after a colon), so that rewrite,
    correction and extraction tasks, whose answers rightly copy their input,
    are kept. ``same_as_question``: the answer equals the whole prompt or the
    instruction, ignoring case and punctuation. ``copies_question``: an answer
    of at least ``min_words`` words, not longer than ``max_length_ratio`` times
    the instruction, with at least ``min_containment`` of its word 3-grams in
    the instruction and at most ``max_new_words`` words the instruction lacks.
    A full-sentence answer that restates the question around one new word
    ("Paris was the capital of France in 1900.") adds that word and is kept;
    short answers picked from options the question lists ("After World War
    II.") stay under ``min_words``.
    """

    reasons = ("same_as_question", "copies_question")

    def __init__(
        self,
        min_containment: Annotated[float, Field(gt=0, le=1)] = 0.8,
        max_new_words: Annotated[int, Field(ge=0)] = 0,
        min_words: Annotated[int, Field(ge=3)] = 6,
        max_length_ratio: Annotated[float, Field(gt=0)] = 1.2,
    ):
        self.min_containment = min_containment
        self.max_new_words = max_new_words
        self.min_words = min_words
        self.max_length_ratio = max_length_ratio

    def keep(self, rec: Record) -> Verdict:
        for k, (path, user, answer) in enumerate(exchanges(rec)):
            if k == 0 and rec.kind == "chat":
                instruction, _ = instruction_and_input(rec)
            else:
                instruction = user.strip().partition("\n\n")[0]
            aw = word_keys(answer)
            if not aw:
                continue
            if len(aw) <= len(user) and aw in (word_keys(user), word_keys(instruction)):
                return Drop("same_as_question", value=1.0, detail=f"{path} equals the question {_short(instruction)!r}")
            qw = word_keys(without_inline_input(instruction))
            if len(aw) < self.min_words or len(qw) < 3 or len(aw) > self.max_length_ratio * len(qw):
                continue
            vocabulary = set(qw)
            new = [w for w in aw if w not in vocabulary]
            if len(new) > self.max_new_words:
                continue
            grams = ngrams(aw, 3)
            contained = len(grams & ngrams(qw, 3)) / len(grams)
            if contained >= self.min_containment:
                return Drop(
                    "copies_question",
                    value=round(contained, 3),
                    threshold=self.min_containment,
                    detail=(
                        f"{path}: {contained:.0%} of its 3-grams and all but {len(new)} of its words "
                        f"are in the instruction {_short(instruction)!r}"
                    ),
                )
        return KEEP


_TERMINAL = set(".!?…;)]}\"'`*>»”’。！？")
_DANGLING_MARKS = set(",:-–—(&")
_LIST_ITEM = re.compile(r"^\s*([-*•+]|\d+[.)]|[a-zA-Z][.)]|[IVX]+\.|#+)\s*\S")
_CODE_LINE = re.compile(r"(^\s{4,}|[;{}=]\s*$|^\s*(def|class|return|import|print|SELECT|for|if)\b|\|)")
# Tokens a post or a letter legitimately ends on: #hashtag, @mention, a URL, an e-mail address.
_SOCIAL_END = re.compile(r"(#\w+|@\w+|https?://\S+|www\.\S+|\S+@\S+\.\w+)\s*$")
# A quotation's author: '"Nothing can be done without hope." - Helen Keller'.
_ATTRIBUTION = re.compile(r"[.!?\"”]\s*[-–—~]\s*(\w+\.?\s*){1,4}$")
_OPEN, _CLOSE = "([{", ")]}"


@lru_cache(maxsize=1)
def _connectors() -> frozenset[str]:
    return frozenset(phrase_sections("dangling_words.txt")["default"])


def _ends_clean(text: str) -> bool:
    ch = text[-1]
    if ch in _TERMINAL:
        return True
    return ch not in _DANGLING_MARKS and unicodedata.category(ch)[0] in "SP"  # emoji, symbols, closing marks


def _unpunctuated_style(lines: list[str]) -> bool:
    """Most lines end without punctuation: a poem, an outline, an itinerary, a table."""
    if len(lines) < 3:
        return False
    bare_ends = sum(1 for ln in lines[:-1] if not _ends_clean(ln.rstrip()))
    return bare_ends >= (len(lines) - 1) / 2


def _list_line(line: str) -> bool:
    """A line whose last sentence is a list of names ("Rugrats, Hey Dude, The Wild Thornberries")."""
    last = (sentences(line) or [line])[-1]
    items = [p for p in re.split(r",|\b(?:and|or)\b", last) if p.strip()][1:]
    return len(items) >= 3 and sum(len(p.split()) <= 4 for p in items) >= 0.8 * len(items)


_BRACKETS = re.compile(r"[()\[\]{}]")


def _last_unclosed_bracket(text: str) -> int:
    """Position of the last bracket left open (-1 if none); a closer without an opener ("1) item") is ignored."""
    stack: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(text):  # only the brackets, not every character
        i, ch = m.start(), m.group()
        if ch in _OPEN:
            stack.append((ch, i))
        elif ch in _CLOSE:
            want = _OPEN[_CLOSE.index(ch)]
            for j in range(len(stack) - 1, -1, -1):
                if stack[j][0] == want:
                    del stack[j:]
                    break
    pos = stack[-1][1] if stack else -1
    # A curly quote opened and never closed counts as a bracket.
    if text.count("\u201c") > text.count("\u201d"):
        pos = max(pos, text.rfind("\u201c"))
    return pos


@register("filter.truncated_answer")
class TruncatedAnswer(Filter):
    """Drop answers cut off mid-way: a fenced code block left open, a bracket left open near the end,
    or an answer that stops without final punctuation.

    Legitimately unpunctuated answers are exempt: fewer than ``min_words``
    words (single words, short phrases, titles), numbers, hashtags, URLs,
    signatures, quotation credits, lists of names, and lists, poems or tables
    whose lines all go without punctuation. An answer that ends on a comma or
    a connector word ("and", "the", "of"), or a few words of prose after its
    last code block, counts whatever ``final_punctuation`` says. Otherwise
    ``final_punctuation`` decides what else counts: ``sentences`` (default), a last
    paragraph of at least ``min_sentences`` sentences ending on a bare word;
    ``always``, any answer of ``min_words`` words or more (for data whose clean
    answers are always punctuated: generated data); ``dangling``, nothing else
    (for human-written data that often drops the last full stop).
    ``bracket_tail_chars``: how near the end an unclosed bracket must be
    (further up it is a typo, not a cut).
    """

    reasons = ("unclosed_code_fence", "unbalanced_brackets", "no_final_punctuation")

    def __init__(
        self,
        min_words: Annotated[int, Field(ge=1)] = 8,
        min_sentences: Annotated[int, Field(ge=1)] = 2,
        bracket_tail_chars: Annotated[int, Field(ge=0)] = 150,
        final_punctuation: Literal["sentences", "always", "dangling"] = "sentences",
    ):
        self.min_words = min_words
        self.min_sentences = min_sentences
        self.bracket_tail_chars = bracket_tail_chars
        self.final_punctuation = final_punctuation

    def keep(self, rec: Record) -> Verdict:
        for path, text in answers(rec):
            v = self._check(path, text.strip())
            if v is not KEEP:
                return v
        return KEEP

    def _check(self, path: str, text: str) -> Verdict:
        if not text:
            return KEEP
        if "`" not in text and "~~~" not in text:
            # No code at all (the common case): no fence, one prose piece, and the body is the text.
            n_fences = 0
            pieces = [(False, text)]
            body = text
        else:
            n_fences = fence_count(text)
            if n_fences % 2:
                detail = f"{path}: {n_fences} ``` fence lines, the last block is never closed"
                return Drop("unclosed_code_fence", value=n_fences, detail=detail)
            pieces = split_code(text, inline=True)
            if pieces[-1][0] or not pieces[-1][1].strip() and len(pieces) > 1 and pieces[-2][0]:
                return KEEP  # ends with a code block or `inline code`
            body = "".join(" " if is_code else piece for is_code, piece in pieces).rstrip()
        # An answer that ends cleanly is kept by every rule below (the bracket rule needs an unclean
        # end too): the common case leaves here without counting words or scanning brackets.
        if not body or _ends_clean(body):
            return KEEP
        if len(words(body)) < self.min_words:
            return KEEP
        lines = [ln for ln in body.splitlines() if ln.strip()]
        last_line = lines[-1]
        ends_clean = _ends_clean(body)
        open_at = _last_unclosed_bracket(body)
        if open_at >= 0 and len(body) - open_at <= self.bracket_tail_chars and not ends_clean:
            return Drop(
                "unbalanced_brackets",
                value=body[open_at],
                detail=(
                    f"{path}: {body[open_at]!r} opened {len(body) - open_at} chars before the end is never closed; "
                    f"ends {_short(body[-40:], 40)!r}"
                ),
            )
        if not re.search(r"\w", last_line):
            return KEEP  # a rule line ("-----") closing a table
        if ends_clean or _CODE_LINE.search(last_line) or search_last_token(_SOCIAL_END, last_line) or _ATTRIBUTION.search(last_line):
            return KEEP
        last_word = (words(last_line) or [""])[-1]
        if body[-1].isdigit() and last_word.isdigit():
            return KEEP  # a count, a year or a result
        unpunctuated = _unpunctuated_style(lines)
        if unpunctuated:
            return KEEP  # a poem, an outline, a table: its lines all go without punctuation
        after_code = n_fences > 0 and len(pieces) > 1 and "\n" not in pieces[-1][1].strip()
        dangling = body[-1] in _DANGLING_MARKS or last_word in _connectors() or after_code
        is_item = bool(_LIST_ITEM.match(last_line))
        closing = len(lines) > 1 and len(last_line.split()) <= 4 and not is_item and (body[-1] == "," or not dangling)
        if closing:
            return KEEP  # a signature, a closing ("Kind regards,"), a heading
        if not dangling and (_list_line(last_line) or (is_item and not _punctuated_items(lines))):
            return KEEP
        if self.final_punctuation == "always":
            cut = True
        elif self.final_punctuation == "sentences":
            # The writer punctuates: the last paragraph has full sentences, or every line before it ends with punctuation.
            earlier_clean = len(lines) > 1 and all(_ends_clean(ln.rstrip()) for ln in lines[:-1])
            cut = len(sentences(last_line)) >= self.min_sentences or earlier_clean
        else:
            cut = False
        if dangling or cut:
            why = " (dangling word)" if dangling and not after_code else " (after a code block)" if after_code else ""
            return Drop("no_final_punctuation", value=body.split()[-1][-20:], detail=f"{path} ends {_short(body[-50:], 50)!r}{why}")
        return KEEP


def _punctuated_items(lines: list[str]) -> bool:
    """The list's other items mostly end with punctuation, so an unpunctuated last item was cut."""
    items = [ln for ln in lines[:-1] if _LIST_ITEM.match(ln)]
    return len(items) >= 1 and sum(_ends_clean(ln.rstrip()) for ln in items) > len(items) / 2
