"""Text helpers shared by the repair mappers and the instruction/answer checks.

Prompt splitting (instruction vs input), code spans, n-grams and sentences,
and phrase files (folding and words for matching are text kernels:
:mod:`curatune.curation.text.words`). Nothing here is a step; steps import these so
that no two steps carry their own copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TypeVar

from ..formats import alpaca_fields
from ..record import Record
from ..text.paths import message_path
from ..text.patterns import search_end
from ..text.words import fold

T = TypeVar("T")

# ---- what the answer and the prompt are ---------------------------------------------------


def answers(rec: Record) -> list[tuple[str, str]]:
    """``(path, text)`` of every answer a model would learn from: assistant turns, or the chosen answer.

    Empty for plain-text and labelled records, where answer checks do not apply.
    """
    if rec.kind == "preference":  # an undesirable KTO example (only ``rejected``) has no answer to learn
        return [("chosen", rec.chosen)] if rec.chosen is not None else []
    if rec.kind == "chat":
        return [(message_path(i), m["content"]) for i, m in enumerate(rec.messages or ()) if m["role"] == "assistant"]
    return []


def exchanges(rec: Record) -> list[tuple[str, str, str]]:
    """``(path, user turn before it, answer)`` for each answer."""
    if rec.kind == "preference":
        return [("chosen", "\n".join(rec.contents("user")), rec.chosen)] if rec.chosen is not None else []
    if rec.kind != "chat":
        return []
    out: list[tuple[str, str, str]] = []
    last_user = ""
    for i, m in enumerate(rec.messages or ()):
        if m["role"] == "user":
            last_user = m["content"]
        elif m["role"] == "assistant":
            out.append((message_path(i), last_user, m["content"]))
    return out


def instruction_and_input(rec: Record) -> tuple[str, str]:
    """The first user turn as ``(instruction, input)``.

    Alpaca records say where the format joined them (:func:`~curatune.curation.formats.alpaca_fields`). Other records
    have no such mark: the instruction is their first paragraph and the rest is
    the input, which is how a chat user pastes a text below a request.
    """
    users = rec.contents("user")
    if not users:
        return "", ""
    user = users[0]
    if rec.meta.get("alpaca_split") is not None:
        instruction, inp = alpaca_fields(user, rec.meta)
        return instruction, inp or ""
    head, _, rest = user.strip().partition("\n\n")
    return head, rest


_INLINE_SPLIT = re.compile(r"[:\n]\s*(?=\S)")


def without_inline_input(instruction: str) -> str:
    """The instruction cut before any text it carries inline after a colon or a line break ("Rewrite this: ...")."""
    text = instruction.strip()
    m = _INLINE_SPLIT.search(text)
    return text[: m.start()] if m else text


# ---- code spans ---------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.M)
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def split_code(text: str, inline: bool = False) -> list[tuple[bool, str]]:
    """``[(is_code, piece)]`` covering ``text`` in order: fenced blocks (fence lines included) are code.

    An unclosed fence makes the rest of the text code, so that a repair never
    touches what may be a program. With ``inline``, backtick spans in prose are code too.
    """
    if "```" not in text and "~~~" not in text:
        # No fence marker: one prose piece (the line loop below would rebuild exactly this).
        out = [(False, text)] if text else []
        if not inline or "`" not in text:
            return out
        return _split_inline(out)
    out = []
    buf: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        m = _FENCE.match(line)
        if not fence:
            if m:
                if buf:
                    out.append((False, "".join(buf)))
                buf, fence = [line], m.group(1)
            else:
                buf.append(line)
        else:
            buf.append(line)
            if m and m.group(1) == fence and not line.strip().strip(fence[0]):
                out.append((True, "".join(buf)))
                buf, fence = [], ""
    if buf:
        out.append((bool(fence), "".join(buf)))
    if not inline:
        return out
    return _split_inline(out)


def _split_inline(out: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
    fine: list[tuple[bool, str]] = []
    for is_code, piece in out:
        if is_code:
            fine.append((True, piece))
            continue
        if "`" not in piece:
            fine.append((False, piece))
            continue
        p = 0
        for m in _INLINE_CODE.finditer(piece):
            if m.start() > p:
                fine.append((False, piece[p : m.start()]))
            fine.append((True, m.group()))
            p = m.end()
        if p < len(piece):
            fine.append((False, piece[p:]))
    return fine


def map_prose(text: str, fn, inline: bool = False) -> str:
    """``text`` with ``fn`` applied to every piece outside code."""
    return "".join(piece if is_code else fn(piece) for is_code, piece in split_code(text, inline))


def fence_count(text: str) -> int:
    """Number of ``` / ~~~ fence lines; odd means a block was left open."""
    return len(_FENCE.findall(text))


# ---- words and sentences ----------------------------------------------------------------------------------
# Folding and splitting into words: text kernels (curatune.curation.text.words).


def ngrams(tokens: Sequence[T], n: int) -> set[tuple[T, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]\u201d\u2019]*\s+(?=[\"'(\[\u201c\u2018]*[A-Z0-9])")


_ABBREVIATION = re.compile(r"(?:\b(?:mr|mrs|ms|dr|st|jr|sr|prof|vs|etc|no|vol|fig|inc|ltd|co|mt|ft|approx|e\.g|i\.e)|\b[A-Za-z])\.$", re.I)


def sentences(text: str) -> list[str]:
    """A rough sentence split on terminal punctuation followed by a capital or a digit.

    A break after a title or an initial ("Dr. Fate", "F. Scott", "S.R. 819") is no sentence end.
    """
    out: list[str] = []
    for piece in _SENTENCE_END.split(text.strip()):
        if not piece.strip():
            continue
        if out and search_end(_ABBREVIATION, out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


# ---- phrase files -------------------------------------------------------------------------


@cache
def phrase_sections(file_name: str, folded: bool = True) -> dict[str, tuple[str, ...]]:
    """A data file beside this module: ``[section]`` headers, one entry a line, ``#`` comments.

    With ``folded`` the entries go through :func:`fold`, so that matching is case- and quote-insensitive.
    """
    path = resources.files("curatune.curation.filter").joinpath(file_name)
    sections: dict[str, list[str]] = {}
    current = "default"
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        sections.setdefault(current, []).append(fold(line) if folded else line)
    return {k: tuple(v) for k, v in sections.items()}
