"""How many separate spans differ between two versions of a text: the counts in ``clean.unicode``'s ledger detail.

Two versions, compared in ``tests/curation/text/test_text_diff.py``:

- :func:`changed_spans_plain`, the reference: difflib over words, then over the characters of the words
  that changed. difflib's matcher is quadratic in the length of what it compares, and worse on a small
  alphabet: one 5,000-character word of mojibake (no spaces: CJK text, or a long run of accents) took
  46 s, and a 1 MB record did not finish.
- :func:`changed_spans`, linear. A walk along both texts (:func:`_alignment`) finds where they agree; at
  a difference it looks ahead at most ``WINDOW`` characters in each for the nearest character where they
  agree again (a repair replaces a short sequence: ``Ã©`` by ``é``, ``â€™`` by ``’``). The texts are cut
  after the spaces of the runs where they agree, so that words are whole on both sides, and each piece
  that differs is counted by the reference when it is short (``PIECE`` characters), by the walk when not.
  The time is O(n * PIECE) at worst. The two counts were equal on every repaired text with spaces tried,
  and within 1% in all on texts without (bench/RESULTS.md, issue 17 continued): a count for the ledger,
  not a diff to apply.
"""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\s*\S+\s*")  # words with their spaces: distinct tokens keep the word diff near-linear

WINDOW = 32  # characters looked ahead in each text for the end of a changed span
ALONE = 2  # the steps a match of one character alone counts further (a later real resumption wins over it)
CUT_RUN = 4  # the texts are cut only inside runs of at least this many equal characters (a short run may be by chance)
PIECE = 400  # a differing piece up to this length (both sides together) is counted by the reference


def changed_spans_plain(old: str, new: str) -> int:
    """The reference count (difflib): quadratic in the length of a changed word; for short texts and tests."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    spans = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        inner = difflib.SequenceMatcher(None, "".join(a[i1:i2]), "".join(b[j1:j2]), autojunk=False).get_opcodes()
        spans += sum(1 for o in inner if o[0] != "equal")
    return spans


def changed_spans(old: str, new: str) -> int:
    """The number of separate changed spans between ``old`` and ``new``, in time linear in their length."""
    if len(old) + len(new) <= PIECE:
        return changed_spans_plain(old, new)
    spans = 0
    start_i = start_j = 0  # where the piece being gathered starts
    gaps = 0  # the walk's changed spans in that piece so far
    end_i = end_j = 0  # where the last run of equal characters ended
    for i, j, k in _alignment(old, new):  # runs where the texts agree: old[i:i+k] == new[j:j+k]
        gaps += i > end_i or j > end_j
        end_i, end_j = i + k, j + k
        cut = _last_space_end(old, i, k) if k >= CUT_RUN else None
        if cut is not None:
            # Cut after the run's last space: old[:i+cut] and new[:j+cut] end with the same whole words.
            spans += _piece(old, new, (start_i, i + cut, start_j, j + cut), gaps)
            start_i, start_j, gaps = i + cut, j + cut, 0
    gaps += end_i < len(old) or end_j < len(new)
    return spans + _piece(old, new, (start_i, len(old), start_j, len(new)), gaps)


def _piece(old: str, new: str, bounds: tuple[int, int, int, int], gaps: int) -> int:
    """A piece's count: the reference's when it is short, else the walk's (``gaps``)."""
    i1, i2, j1, j2 = bounds
    if gaps and (i2 - i1) + (j2 - j1) <= PIECE:
        return changed_spans_plain(old[i1:i2], new[j1:j2])
    return gaps


def _last_space_end(text: str, i: int, k: int) -> int | None:
    """The offset in ``text[i:i+k]`` just past its last whitespace character followed by a non-space, or None."""
    for c in range(k - 1, 0, -1):
        if text[i + c - 1].isspace() and not text[i + c].isspace():
            return c
    return None


def _alignment(old: str, new: str) -> list[tuple[int, int, int]]:
    """The runs (i, j, length) where the walk finds the texts equal, in order."""
    runs: list[tuple[int, int, int]] = []
    n, m = len(old), len(new)
    i = j = 0
    while i < n and j < m:
        if old[i] == new[j]:
            k = 1
            while i + k < n and j + k < m and old[i + k] == new[j + k]:
                k += 1
            runs.append((i, j, k))
            i += k
            j += k
        else:
            i, j = _resync(old, new, i, j)
    return runs


def _resync(old: str, new: str, i: int, j: int) -> tuple[int, int]:
    """The nearest (p, q) past (i, j), fewest characters skipped in all, where the texts agree again or both end.

    Nearest: least ``(p - i) + (q - j)`` (plus ``ALONE`` for a lone equal character), with ``p - i`` and ``q - j``
    at most ``WINDOW``; between equals, one that is not alone, then the most even skip (``Ã©t`` against ``ét``
    resumes at the ``t``s, not at a later ``Ã`` in the new text); then least p.
    When there is none, the walk moves ``WINDOW`` characters on in both.
    """
    n, m = len(old), len(new)
    best: tuple[int, int] | None = None
    key = (3 * WINDOW + 1, 0, 0)
    if n - i <= WINDOW and m - j <= WINDOW:
        best, key = (n, m), ((n - i) + (m - j), 0, abs((n - i) - (m - j)))
    q_end = min(m, j + WINDOW + 1)
    for p in range(i, min(n, i + WINDOW + 1)):
        if p - i > key[0]:  # (p - i is a lower bound of a later candidate's key)
            break
        q = new.find(old[p], j, q_end)  # the first place the character is in the window: the nearest for this p
        if q >= 0 and (p, q) != (i, j):
            # A match of one character alone (the next ones differ) counts ALONE steps further: the base letter of
            # "e\u0301" finds the "e" of the next syllable ("matine\u0301e" against "matinée") sooner than the
            # real resumption after the accent.
            alone = p + 1 < n and q + 1 < m and old[p + 1] != new[q + 1]
            k = ((p - i) + (q - j) + ALONE * alone, alone, abs((p - i) - (q - j)))
            if k < key:
                best, key = (p, q), k
    return best if best is not None else (min(n, i + WINDOW), min(m, j + WINDOW))
