"""Text views and cheap shape tests shared by the quality, OCR, language and harmful-content filters.

Instruction data is not web text: answers are short, often lists, tables,
code or JSON. These helpers let a filter look at the prose of each message
and leave code alone.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from ..record import Record

RESOURCES = Path(__file__).with_name("resources")

_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_CODE_CHARS = frozenset("{}[]();=<>")
_CODE_CHAR_LIST = tuple(_CODE_CHARS)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|return\b|if\s*\(|for\s*\(|while\s*\(|function\b|var |let |const |"
    r"public |private |#include|SELECT |INSERT |UPDATE |CREATE |<[a-zA-Z/!]|\}|\{|//|/\*|print\(|console\.)"
    r"|[;{]\s*$"
)


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
            out.append((f"messages[{i}].content", m.get("content") or ""))
    if want_answer:
        if rec.chosen is not None:
            out.append(("chosen", rec.chosen))
        if rec.text is not None:
            out.append(("text", rec.text))
    return out


def strip_code(text: str) -> str:
    """The text without fenced code blocks and inline `code` spans."""
    if "`" not in text and "~~~" not in text:
        return text
    return _strip_code(text)


# Several filters look at the same message in a row (quality, repetition, OCR, language): a small
# per-process cache keyed by the text makes the second look free. Pure functions of the text only.
# The pipeline takes one record through every step before the next, so a few hundred entries
# catch every reuse while bounding memory when messages are long documents.
_CACHE = 512


@lru_cache(maxsize=_CACHE)
def _strip_code(text: str) -> str:
    return _INLINE_CODE.sub(" ", _FENCE.sub("\n", text))


@lru_cache(maxsize=_CACHE)
def looks_like_code(text: str) -> bool:
    """True for source code, JSON, HTML, SQL or LaTeX-heavy text, where prose rules do not apply."""
    if not text:
        return False
    n_code = sum(map(text.count, _CODE_CHAR_LIST))  # str.count per character: C speed, same total
    if n_code >= 4 and n_code > 0.04 * len(text):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        code_lines = sum(1 for ln in lines if _CODE_LINE.search(ln))
        if code_lines >= 2 and code_lines >= 0.3 * len(lines):
            return True
    return False


@cache
def word_list(name: str) -> frozenset[str]:
    """A word list from resources/ (one entry a line, ``#`` comments), loaded once per process."""
    path = RESOURCES / name
    with open(path, encoding="utf-8") as f:
        return frozenset(w for w in (ln.strip() for ln in f) if w and not w.startswith("#"))
