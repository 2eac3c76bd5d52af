"""Checks on the instruction (the user prompt) of instruction data: merged tasks, missing inputs.

Both read the first user turn split into instruction and input (see
``_instruct_text.instruction_and_input``: Alpaca records keep where the
format joined them) and pass records without a user turn. Word and pattern
lists live in data files beside this module (``task_verbs.txt``,
``input_references.txt``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from pydantic import Field

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ._instruct_text import instruction_and_input, phrase_sections, words
from ._prose import ignorecase_view

_HEADER = re.compile(r"^[ \t]*(?:#{1,4}[ \t]*)?(instruction|input|output|response)s?[ \t]*(?:\d+[ \t]*)?:", re.I | re.M)
_MD_HEADER = re.compile(r"^[ \t]*#{2,4}[ \t]*(instruction|input|response)\b", re.I | re.M)
# In an answer only "Instruction" marks the next example: "### Response" also heads an HTTP API's docs.
_ANSWER_HEADER = re.compile(r"^[ \t]*(?:#{1,4}[ \t]*)?instruction[ \t]*:|^[ \t]*#{2,4}[ \t]*instruction\b", re.I | re.M)


def _may_hold_answer_header(text: str) -> bool:
    """False when _ANSWER_HEADER cannot match: it needs a ":" or a "#", and "instruction" in any case."""
    return (":" in text or "#" in text) and "instruction" in ignorecase_view(text)


_ITEM = re.compile(r"^[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+(\S.*)$", re.M)
# A task about instructions or inputs ("Create an input for this instruction") quotes headers legitimately.
_META_TASK = re.compile(r"\b(instructions?|inputs?|outputs?|prompts?|responses?)\b", re.I)


@lru_cache(maxsize=1)
def _task_verbs() -> frozenset[str]:
    return frozenset(phrase_sections("task_verbs.txt")["default"])


@register("filter.merged_instructions")
class MergedInstructions(Filter):
    """Drop prompts that hold several tasks, or another example's template headers.

    ``embedded_header``: the prompt contains ``### Instruction`` / ``### Response``
    headers, or at least two different ``Instruction:`` / ``Input:`` /
    ``Output:`` / ``Response:`` header lines, one of them ``Instruction:`` or
    ``Response:`` (raw Alpaca generations merged into one example; "Input:" and
    "Output:" alone are a program's examples); a task about instructions or
    inputs, which quotes such headers on purpose, is exempt. ``multiple_tasks``: at least ``min_tasks`` numbered or
    bulleted lines of the instruction each start with a task verb ("1. Write
    ... 2. Translate ..."); numbered questions about one text, or lists of
    items to rank or classify, do not start with task verbs. ``header_in_answer``:
    the answer goes on into another example (``Instruction:`` or ``### Instruction``).
    """

    reasons = ("embedded_header", "multiple_tasks", "header_in_answer")

    def __init__(self, min_tasks: Annotated[int, Field(ge=2)] = 2):
        self.min_tasks = min_tasks

    def keep(self, rec: Record) -> Verdict:
        if rec.messages is None:
            return KEEP
        instruction, inp = instruction_and_input(rec)
        prompt = f"{instruction}\n{inp}"
        first_line = next((ln for ln in instruction.split("\n") if ln.strip() and not _HEADER.match(ln) and not _MD_HEADER.match(ln)), "")
        meta_task = bool(_META_TASK.search(first_line))
        if not meta_task:
            # A markdown header needs a "#", a header line a ":": without one the pattern is not run.
            md = {m.group(1).lower() for m in _MD_HEADER.finditer(prompt)} if "#" in prompt else set()
            kinds = md | {m.group(1).lower() for m in _HEADER.finditer(prompt)} if ":" in prompt else md
            # "Input:" and "Output:" alone also describe a function's examples, "### Response" an API's docs:
            # a template names the instruction, or the response beside another header.
            if "instruction" in md or (len(kinds) >= 2 and kinds & {"instruction", "response"}):
                found = ", ".join(sorted(kinds))
                return Drop("embedded_header", value=found, detail=f"the prompt holds template headers: {found}")
        verbs = _task_verbs()
        tasks = [m.group(1) for m in _ITEM.finditer(instruction) if (words(m.group(1)) or [""])[0] in verbs]
        if len(tasks) >= self.min_tasks:
            shown = "; ".join(t[:40] for t in tasks[:3])
            detail = f"{len(tasks)} tasks in one instruction: {shown}"
            return Drop("multiple_tasks", value=len(tasks), threshold=self.min_tasks, detail=detail)
        for i, m in enumerate(rec.messages):
            if m["role"] == "assistant" and not meta_task and _may_hold_answer_header(m["content"]):
                hit = _ANSWER_HEADER.search(m["content"])
                if hit:
                    header = hit.group(0).strip()
                    return Drop("header_in_answer", value=header, detail=f"messages[{i}].content goes on into {header!r}")
        return KEEP


@lru_cache(maxsize=1)
def _reference_lines() -> dict[str, tuple[tuple[str, tuple[frozenset[str], ...]], ...]]:
    """Per reason, each pattern line of input_references.txt with the literals its matches need (see below)."""
    return {
        reason: tuple((p, _needs(p)) for p in patterns)
        for reason, patterns in phrase_sections("input_references.txt", folded=False).items()
    }


@lru_cache(maxsize=64)
def _alternation(lines: tuple[str, ...]) -> re.Pattern:
    """The pattern lines as one case-insensitive alternation, tried in their order at each position."""
    return re.compile("|".join(f"(?:{p})" for p in lines), re.I)


def _reference_match(reason: str, instruction: str, view: str) -> re.Match | None:
    """The first match of the reason's pattern lines in the instruction (``view``: its ignorecase_view).

    Lines whose needed literals are missing from the view cannot match anywhere, so they are left out of the
    alternation: with the lines that can, its leftmost match is the same as with all of them.
    """
    contains = view.__contains__
    lines = []
    for p, needs in _reference_lines()[reason]:
        for need in needs:
            if not any(map(contains, need)):
                break
        else:
            lines.append(p)
    return _alternation(tuple(lines)).search(instruction) if lines else None


# ---- a literal prefilter for the reference patterns ----------------------------------------
# A case-insensitive alternation of a dozen regexes costs tens of microseconds per instruction,
# and almost no instruction matches. Every match of a pattern line contains, for each of a few
# sets of literal text the line requires, one of the set ("this" or "given"..., and "image" or
# "video"...): read from the parsed line, so that it follows input_references.txt. A line with
# a set none of whose strings is in the text cannot match, and is not run.


def _required(items) -> list[frozenset[str]]:
    """Sets of strings such that every match of the parsed sequence ``items`` contains one string of each set."""
    from re import _constants as c

    needs: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            needs.append(frozenset(["".join(run)]))
            run.clear()

    for op, av in items:
        if op is c.LITERAL and av < 128:
            run.append(chr(av).lower())
            continue
        flush()
        if op is c.SUBPATTERN:
            if not (av[1] or av[2]):  # inline flags: nothing said about the group
                needs += _required(av[3])
        elif op is c.BRANCH:
            # One alternative matches: each needs one of its own strings, so the union of a set from each.
            alts = [_required(a) for a in av[1]]
            if all(alts):
                needs.append(frozenset().union(*(max(a, key=_selectivity) for a in alts)))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            needs += _required(av[2])
    flush()
    return needs


def _selectivity(need: frozenset[str]) -> tuple[int, int]:
    """Longer strings and fewer of them are rarer in text: the set a cheap test should try first."""
    return min(map(len, need)), -len(need)


def _needs(pattern: str) -> tuple[frozenset[str], ...]:
    """The literal sets every match of one pattern line needs, most selective first (two-character and shorter
    strings are left out: nearly every text holds them); () when the line cannot be read."""
    from re import _parser

    try:
        needs = _required(_parser.parse(pattern, re.I))
    except Exception:  # a parser detail changed: no prefilter, the regex alone decides
        return ()
    useful = [n for n in needs if min(map(len, n)) >= 3]  # (literals are read from ASCII characters only)
    return tuple(sorted(set(useful), key=_selectivity, reverse=True))


_URL_ONLY = re.compile(r"^\s*(?:<?(?:https?://|www\.)\S+>?\s*)+$", re.I)
# Inputs that say there is no input.
_NO_INPUT = re.compile(r"^\W*(?:no ?input|none|n/?a|null|nil|empty|-)\W*$", re.I)
# Content carried inline after the reference: after a colon, a quote, a dash, a question mark or a line break.
_INLINE_CONTENT = re.compile(r"[:\n\"“'‘?]\s*(?=\S)|\s[-–—]\s*(?=\S)|(?=\d)")
# A URL that is itself the thing to work on ("extract the domain from this URL").
_URL_TASK = re.compile(r"\b(domain|parse|extract|shorten|validate|encode|decode|regex|regular expression|http request)\b", re.I)


@register("filter.missing_input")
class MissingInput(Filter):
    """Drop instructions that point at an input that is not there.

    ``missing_referenced_input``: the instruction says "the following text",
    "the given paragraph", "this passage", "the table below"... and the record
    has no input, and the instruction carries no text of its own after the
    reference (after a colon, a quote or a line break) of at least
    ``min_inline_words`` words. ``attachment_reference``: it refers to an
    attached file, an image or a link that a text example cannot hold, with no
    input. ``url_only_input``: the only input is a URL, whose content the model
    never sees. An input that says there is none ("<noinput>", "N/A") counts
    as no input. Patterns: ``input_references.txt``.
    """

    reasons = ("missing_referenced_input", "url_only_input", "attachment_reference")

    def __init__(self, min_inline_words: Annotated[int, Field(ge=1)] = 1):
        self.min_inline_words = min_inline_words

    def keep(self, rec: Record) -> Verdict:
        if rec.messages is None or not rec.contents("user"):
            return KEEP
        instruction, inp = instruction_and_input(rec)
        inp = inp.strip()
        if inp and _URL_ONLY.match(inp) and not _URL_TASK.search(instruction):
            return Drop("url_only_input", value=inp[:200], detail="the input is only a URL: the model never sees the page")
        if inp and not _NO_INPUT.match(inp):
            return KEEP
        lines = _reference_lines()
        view = ignorecase_view(instruction)
        for reason in ("attachment_reference", "missing_referenced_input"):
            if reason not in lines:
                continue
            m = _reference_match(reason, instruction, view)
            if m is None:
                continue
            if self._has_inline_content(instruction[m.end() :]):
                continue
            return Drop(reason, value=m.group(), detail=f"the instruction refers to {m.group()!r} but the record has no input")
        return KEEP

    def _has_inline_content(self, after: str) -> bool:
        """The instruction goes on with text of its own (not just a URL) after the reference."""
        m = _INLINE_CONTENT.search(after)
        if m is None:
            return False
        content = after[m.end() :].strip()
        return not _URL_ONLY.match(content) and len(words(content)) >= self.min_inline_words
