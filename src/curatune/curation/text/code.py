"""Code in prose: the text without fenced and inline code, and the test for text that is code.

Instruction data is not web text: answers are often code, JSON or tables,
and the prose rules of the filters look at what is left around them.
"""

from __future__ import annotations

import re
from functools import lru_cache

_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_CODE_CHARS = frozenset("{}[]();=<>")
_CODE_CHAR_LIST = tuple(_CODE_CHARS)
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|return\b|if\s*\(|for\s*\(|while\s*\(|function\b|var |let |const |"
    r"public |private |#include|SELECT |INSERT |UPDATE |CREATE |<[a-zA-Z/!]|\}|\{|//|/\*|print\(|console\.)"
    r"|[;{]\s*$"
)

# Several filters look at the same message in a row (quality, repetition, OCR, language): a small
# per-process cache keyed by the text makes the second look free. Pure functions of the text only.
# The pipeline takes one record through every step before the next, so a few hundred entries
# catch every reuse while bounding memory when messages are long documents.
_CACHE = 512


def strip_code(text: str) -> str:
    """The text without fenced code blocks and inline `code` spans.

    Both need a backtick or "~~~": a text with neither is returned as it is, without a regex or a cache look-up.
    """
    if "`" not in text and "~~~" not in text:
        return text
    return _strip_code(text)


@lru_cache(maxsize=_CACHE)
def _strip_code(text: str) -> str:
    return _INLINE_CODE.sub(" ", _FENCE.sub("\n", text))


def strip_code_reference(text: str) -> str:
    return _INLINE_CODE.sub(" ", _FENCE.sub("\n", text))


@lru_cache(maxsize=_CACHE)
def looks_like_code(text: str) -> bool:
    """True for source code, JSON, HTML, SQL or LaTeX-heavy text, where prose rules do not apply.

    The code characters are counted with one ``str.count`` per character (C speed, the same total as a loop).
    """
    if not text:
        return False
    n_code = sum(map(text.count, _CODE_CHAR_LIST))
    if n_code >= 4 and n_code > 0.04 * len(text):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        code_lines = sum(1 for ln in lines if _CODE_LINE.search(ln))
        if code_lines >= 2 and code_lines >= 0.3 * len(lines):
            return True
    return False


def looks_like_code_reference(text: str) -> bool:
    if not text:
        return False
    n_code = sum(1 for c in text if c in _CODE_CHARS)
    if n_code >= 4 and n_code > 0.04 * len(text):
        return True
    lines = [ln for ln in text.splitlines() if ln.strip()]
    code_lines = sum(1 for ln in lines if _CODE_LINE.search(ln))
    return len(lines) >= 2 and code_lines >= 2 and code_lines >= 0.3 * len(lines)
