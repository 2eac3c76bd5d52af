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

_LINE_ENDINGS = re.compile(r"\r\n?|[\u2028\u2029]")
_TRAILING = re.compile(r"[ \t\u00a0\u3000]+$", re.M)
# Line breaks of str.splitlines other than "\n", "\r", U+2028 and U+2029.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85"


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

    def _clean_already(self, text: str) -> bool:
        """True when :meth:`fix` would change nothing, by substring tests (much cheaper than running it).

        Line endings: no "\\r", U+2028, U+2029. Trailing spaces: no space-like character before a
        "\\n" or at the end. Blank runs: with no trailing spaces a blank line is an empty line, so
        a run needs max_blank_lines + 2 "\\n" in a row (or max_blank_lines + 1 at the start). Ends:
        nothing to strip at either end. Code is kept as it is, so clean text stays clean there too.
        """
        if not text:
            return True
        if text[0] in "\n\r\t " or text[-1].isspace():
            return False
        if "\r" in text or "\u2028" in text or "\u2029" in text:
            return False
        if any(c in text for c in _OTHER_BREAKS):
            return False  # a code block ending on one of these lets a blank run after it start without "\\n"
        if " \n" in text or "\t\n" in text or "\u00a0\n" in text or "\u3000\n" in text:
            return False
        return "\n" * (self.max_blank_lines + 2) not in text

    def apply(self, rec: Record) -> Edit | None:
        new: dict[str, str] = {}
        notes: list[str] = []
        for path, text in rec.text_fields():
            if self._clean_already(text):
                continue
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
        runs = re.compile(r"\n(?:[ \t]*\n){%d,}" % (self.max_blank_lines + 1))
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
