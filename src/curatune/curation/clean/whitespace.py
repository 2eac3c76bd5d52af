"""Whitespace repair that never changes what code means.

Line endings become ``\\n`` everywhere. Outside fenced code blocks, trailing
spaces go and runs of blank lines shrink to ``max_blank_lines``; inside
them nothing else changes. Leading whitespace of a line is never touched
(it is indentation), except at the very start of a message of prose.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from ..filter._instruct_text import map_prose
from ..record import Record
from ..registry import register
from ..step import Edit, Mapper
from ..text.paths import text_fields
from ..text.whitespace import whitespace_clean

_LINE_ENDINGS = re.compile(r"\r\n?|[\u2028\u2029]")
_TRAILING = re.compile(r"[ \t\u00a0\u3000]+$", re.M)


def _leading_is_indentation(text: str) -> bool:
    """The message opens with an indented block (unfenced code), whose first indent must stay."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return len(lines) >= 2 and lines[0][:1] in " \t" and lines[1][:1] in " \t"


@register("clean.whitespace")
class Whitespace(Mapper):
    """Normalise line endings to \\n, strip trailing spaces, shrink blank-line runs, strip each message.

    Fenced code blocks (```) keep every space. ``max_blank_lines``: the most
    blank lines kept in a row outside code (1 turns "a\\n\\n\\n\\nb" into "a\\n\\nb").
    A message is stripped of blank lines at both ends, and of spaces before
    its first word unless it opens with an indented block.
    """

    reasons = ("whitespace",)

    def __init__(self, max_blank_lines: Annotated[int, Field(ge=0)] = 1):
        self.max_blank_lines = max_blank_lines

    def apply(self, rec: Record) -> Edit | None:
        new: dict[str, str] = {}
        notes: list[str] = []
        max_blank_lines = self.max_blank_lines
        for path, text in text_fields(rec):
            if whitespace_clean(text, max_blank_lines):
                continue  # nothing to fix, told without running fix
            fixed, what = self.fix(text)
            if fixed != text:
                new[path] = fixed
                notes.append(f"{path}: {', '.join(what)}")
        if not new:
            return None
        return Edit(rec.with_text_fields(new), "whitespace", detail="; ".join(notes))

    def fix(self, text: str) -> tuple[str, list[str]]:
        """The repaired text and a list of what changed, for the ledger."""
        what: list[str] = []
        out = _LINE_ENDINGS.sub("\n", text)
        if out != text:
            what.append("line endings")
        runs = re.compile(r"\n(?:[ \t]*\n){" + str(self.max_blank_lines + 1) + ",}")
        keep = "\n" * (self.max_blank_lines + 1)

        def prose(piece: str) -> str:
            # A piece after a code block starts on a fresh line: the "\n" in front lets a blank run there count.
            return runs.sub(keep, "\n" + _TRAILING.sub("", piece))[1:]

        before = out
        out = map_prose(out, prose)
        if out != before:
            what.append("trailing spaces / blank lines")
        before = out
        out = out.rstrip()
        head = out.lstrip("\n\r\t ")
        if head != out:
            # Blank lines before the first line always go; its indent only when it is not code.
            first_newline = out[: len(out) - len(head)].rfind("\n")
            out = out[first_newline + 1 :] if _leading_is_indentation(out.lstrip("\n")) else head
        if out != before:
            what.append("stripped ends")
        return out, what
