"""When ``clean.whitespace`` has nothing to fix, told by substring tests (much cheaper than running it)."""

from __future__ import annotations

# Line breaks of str.splitlines other than "\n", "\r", U+2028 and U+2029.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85"


def whitespace_clean(text: str, max_blank_lines: int) -> bool:
    """True only when ``Whitespace(max_blank_lines).fix(text)`` (clean.whitespace) would change nothing.

    Line endings: no "\\r", U+2028, U+2029. Trailing spaces: no space-like character before a
    "\\n" or at the end. Blank runs: with no trailing spaces a blank line is an empty line, so
    a run needs max_blank_lines + 2 "\\n" in a row (or max_blank_lines + 1 at the start). Ends:
    nothing to strip at either end. Code is kept as it is, so clean text stays clean there too.
    The reference is the step's own ``fix``: ``fix(text) == (text, [])``.
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
    return "\n" * (max_blank_lines + 2) not in text
