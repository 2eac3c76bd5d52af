"""When ftfy can change a text: the shortcut that lets ``clean.unicode`` skip ftfy for almost every message.

For ftfy 6 with the configuration of ``clean.unicode`` (``_FTFY`` there:
``fix_encoding``, ``restore_byte_a0``, ``replace_lossy_sequences``,
``decode_inconsistent_utf8``, ``fix_c1_controls``, ``fix_surrogates``,
``remove_terminal_escapes``; no HTML, quotes, ligatures, widths, line
breaks, control characters or normalisation), a text can change only where one
of these is true: ``fix_encoding`` acts only on lines where ``BADNESS_RE``
matches; ``fix_c1_controls``, ``fix_surrogates`` and
``remove_terminal_escapes`` need a C1 control, a surrogate or ESC.
"""

from __future__ import annotations

import re

import ftfy
from ftfy.badness import BADNESS_RE

_FTFY_CHARS = re.compile("[\x80-\x9f\ud800-\udfff\x1b]")
_LINE_START_BAD = re.compile("^[ÃÂ] ", re.M)
_NON_ASCII = re.compile("[^\x00-\x7f]+")
_WINDOW = 10  # characters either side of a non-ASCII run, more than a BADNESS_RE match can reach
_MAX_LINE = 1_000_000  # ftfy cuts longer lines into segments of this size (max_decode_length), so '^' differs
_MEMO_LIMIT = 200_000


def ftfy_may_change(text: str) -> bool:
    """False only when ``ftfy.fix_text(text, _FTFY)`` (clean.unicode's configuration) returns the text unchanged.

    BADNESS_RE costs about 0.3 us a character, more than the rest of ftfy, and each of its alternatives holds a
    non-ASCII character and spans at most 7 characters, so it is run only on windows around non-ASCII runs.
    Its one anchored alternative ('^[ÃÂ] ') is checked at every line start, since ftfy works line by line.
    A slice sees no character outside the window, as search(text, pos, endpos) does not; BADNESS_RE has no
    lookaround, and its only anchor could match at a slice's start, which says "may change" (safe). The
    windows cover every non-ASCII character, so they also find any C1 control or surrogate.

    The same few windows ("I’m n", "don’t ") come back in record after record: each is judged once
    (a memo of at most 200,000 windows, forgotten all at once past that).
    """
    if len(text) > _MAX_LINE or "\x1b" in text or (("Ã " in text or "Â " in text) and _LINE_START_BAD.search(text)):
        return True
    n = len(text)
    memo = _WINDOW_MEMO
    for m in _NON_ASCII.finditer(text):
        window = text[max(m.start() - _WINDOW, 0) : min(m.end() + _WINDOW, n)]
        bad = memo.get(window)
        if bad is None:
            if len(memo) > _MEMO_LIMIT:
                memo.clear()
            bad = memo[window] = BADNESS_RE.search(window) is not None or _FTFY_CHARS.search(window) is not None
        if bad:
            return True
    return False


_WINDOW_MEMO: dict[str, bool] = {}


def ftfy_changes_reference(text: str, config: ftfy.TextFixerConfig) -> bool:
    """Whether ftfy changes the text: what :func:`ftfy_may_change` is a cheap upper bound of."""
    return ftfy.fix_text(text, config) != text
