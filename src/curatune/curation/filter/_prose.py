"""The messages a filter judges, word lists, and the line shapes shared by the Gopher, C4 and FineWeb rules.

Instruction data is not web text: answers are short, often lists, tables,
code or JSON. The web-page rules (``gopher_quality``, ``gopher_repetition``,
``c4``, ``fineweb``) are adapted to it, so each of them:

- judges each message on its own (by default each answer), never the
  conversation glued together;
- ignores fenced code and inline `code`, and skips symbol, bracket and
  word-shape rules when the rest still looks like code, JSON or HTML;
- skips statistical rules on short messages (``min_words``): "Paris." has no
  stop words and that is fine;
- leaves list and table lines out of line-shape ratios, and turns off the
  rules that only fire on lists (Gopher's bullet rule, FineWeb's short-line
  rule) unless asked.

Every threshold is a parameter and every failure says which rule, the
measured value and the limit. Fast text kernels (code stripping, word
scanners) live in :mod:`curatune.curation.text`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from ..record import Record
from ..text.paths import message_path

RESOURCES = Path(__file__).with_name("resources")

Fields = Literal["answer", "prompt", "all"]
Ratio = Annotated[float, Field(ge=0, le=1)]


def texts_of(rec: Record, fields: str = "answer") -> list[tuple[str, str]]:
    """``(path, text)`` of the messages a filter judges, one per message.

    ``answer``: each assistant turn, the chosen answer of a preference pair
    (the rejected one is meant to be bad), or the plain text. ``prompt``: each
    system and user turn. ``all``: both.
    """
    out: list[tuple[str, str]] = []
    want_answer = fields in ("answer", "all")
    want_prompt = fields in ("prompt", "all")
    for i, m in enumerate(rec.messages or ()):
        role = m.get("role")
        if (role == "assistant" and want_answer) or (role in ("user", "system") and want_prompt):
            out.append((message_path(i), m.get("content") or ""))
    if want_answer:
        if rec.chosen is not None:
            out.append(("chosen", rec.chosen))
        if rec.text is not None:
            out.append(("text", rec.text))
    return out


@cache
def word_list(name: str) -> frozenset[str]:
    """A word list from resources/ (one entry a line, ``#`` comments), loaded once per process."""
    path = RESOURCES / name
    with open(path, encoding="utf-8") as f:
        return frozenset(w for w in (ln.strip() for ln in f) if w and not w.startswith("#"))


# ---- line shapes ----------------------------------------------------------------------------------------

BULLET = re.compile(r"^\s*(?:[-*•‣◦▪●–](?=\s|[A-Za-z])|(?:\d{1,3}|[a-zA-Z]|[IVX]{1,4})[.)]\s)")
TABLE = re.compile(r"^\s*\|.*\|\s*$|^\s*[-|:+ ]{3,}\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_KEY_VALUE = re.compile(r"^[^.!?]{1,60}(?:\s[-–—|]|:)\s")  # "2019 - Oculus Quest - Oculus", "Rent: $850"
# One regex for the four structural line shapes (a match of any branch at the start is a match of the whole).
STRUCTURAL = re.compile("|".join(f"(?:{p.pattern})" for p in (BULLET, TABLE, _HEADING, _KEY_VALUE)))


def prose_lines(text: str) -> list[str]:
    """The non-blank lines of a text, stripped."""
    return [ln for ln in (s.strip() for s in text.splitlines()) if ln]


def is_structural(line: str) -> bool:
    """List items, table rows, headings and key - value lines: normal in answers, meaningless for line-shape ratios."""
    return STRUCTURAL.match(line) is not None


def dup_stats(parts: list[str]) -> tuple[float, float]:
    """(share of parts that repeat an earlier one, share of characters in those repeats)."""
    seen: set[str] = set()
    dup = dup_chars = total_chars = 0
    for p in parts:
        total_chars += len(p)
        if p in seen:
            dup += 1
            dup_chars += len(p)
        else:
            seen.add(p)
    return dup / len(parts), (dup_chars / total_chars if total_chars else 0.0)


# ---- poems and songs ------------------------------------------------------------------------------------

SONG = re.compile(r"^\s*\(?(?:chorus|verse|refrain|bridge|hook|pre-chorus|outro)\b", re.I | re.M)
VERSE_PROMPT = re.compile(
    r"\b(?:poems?|poetry|songs?|lyrics|verses?|haikus?|limericks?|sonnets?|raps?|rhym\w*|jingles?|chants?|ballads?|stanzas?)\b", re.I
)


def is_verse(rec: Record, text: str) -> bool:
    """Poems and songs: lines without punctuation and a repeated chorus are their form, not a defect."""
    return bool(SONG.search(text) or VERSE_PROMPT.search(rec.prompt_text))
