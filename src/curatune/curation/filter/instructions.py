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
from ..text.ignorecase import ignorecase_view
from ..text.patterns import needed_literals, prefiltered_search
from ..text.words import words
from ._instruct_text import instruction_and_input, phrase_sections

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
    """Per reason, each pattern line of input_references.txt with the literals its matches need.

    A case-insensitive alternation of a dozen patterns costs tens of microseconds per instruction, and almost
    no instruction matches: a line whose needed literals (read from the parsed line, so that they follow the
    file) are missing from the instruction is not run (see ``prefiltered_search``).
    """
    return {
        reason: tuple((p, needed_literals(p)) for p in patterns)
        for reason, patterns in phrase_sections("input_references.txt", folded=False).items()
    }


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
            m = prefiltered_search(lines[reason], instruction, view)  # the first match of the reason's pattern lines
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
