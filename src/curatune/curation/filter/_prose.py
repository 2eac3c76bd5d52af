"""Text views and cheap shape tests shared by the quality, OCR, language and harmful-content filters.

Instruction data is not web text: answers are short, often lists, tables,
code or JSON. These helpers let a filter look at the prose of each message
and leave code alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from ..record import Record, message_path

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
            out.append((message_path(i), m.get("content") or ""))
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


# The only characters that re.I matches to an ASCII letter other than that letter's two cases: İ ı ſ and the
# Kelvin sign (found by trying every code point).
FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def ignorecase_view(text: str) -> str:
    """The text lower-cased so that an ASCII literal matching it under re.IGNORECASE is a substring:
    an ASCII letter also matches "ſ" (s), "ı" and "İ" (i, and "İ".lower() is "i" + U+0307) and the
    Kelvin sign (lower() gives "k"); no other character matches an ASCII literal. A substring test on it,
    ten times cheaper than a re.I scan, tells when a pattern that needs a literal cannot match."""
    low = text.lower()
    if low.isascii():
        return low
    return low.replace("ſ", "s").replace("ı", "i").replace("\u0307", "")


# Non-ASCII punctuation common in English prose (curly quotes, dashes, ellipsis, bullet, guillemets, degree,
# no-break space): none is a word character, so as spaces they split words where they did. Most non-ASCII
# English text has nothing else, and without them takes the fast ASCII paths.
_PROSE_PUNCT = "’‘“”–—…•«»°\u00a0"


def punct_to_spaces(text: str, keep: str = "") -> str:
    """``text`` with each character of _PROSE_PUNCT but those in ``keep`` replaced by a space."""
    for ch in _PROSE_PUNCT:
        if ch in text and ch not in keep:
            text = text.replace(ch, " ")
    return text


def word_bytes_table(keep: str, lower: bool) -> bytes:
    """A ``bytes.translate`` table that keeps the ASCII characters in ``keep`` and turns every other byte into a
    space (``lower``: A-Z become a-z first): splitting the result gives the runs of those characters, several
    times faster than a regex. The bytes of a UTF-8 multi-byte character are all >= 0x80, never kept."""
    kept = set(keep.encode("ascii"))

    def out(b: int) -> int:
        if lower and 65 <= b <= 90:
            b += 32
        return b if b in kept else 32

    return bytes(out(b) for b in range(256))


# The runs of a text's UTF-8 under this table are what re.findall("[a-z]+") finds in the text.
_NOT_A_TO_Z = word_bytes_table("abcdefghijklmnopqrstuvwxyz", lower=False)


def letter_runs(text: str) -> set[bytes]:
    """The distinct runs of ASCII a-z of a text (what ``set(re.findall("[a-z]+", text))`` finds), as UTF-8 bytes."""
    return set(text.encode("utf-8", "surrogatepass").translate(_NOT_A_TO_Z).split())


def letter_run_list(text: str) -> list[bytes]:
    """The runs of ASCII a-z of a text in order, repeats included, as UTF-8 bytes."""
    return text.encode("utf-8", "surrogatepass").translate(_NOT_A_TO_Z).split()


@cache
def word_list(name: str) -> frozenset[str]:
    """A word list from resources/ (one entry a line, ``#`` comments), loaded once per process."""
    path = RESOURCES / name
    with open(path, encoding="utf-8") as f:
        return frozenset(w for w in (ln.strip() for ln in f) if w and not w.startswith("#"))


K = TypeVar("K", str, bytes)
V = TypeVar("V")


class TokenMemo(Generic[K, V]):
    """What a pure function of one token said, remembered across texts: tokens recur (Zipf), so a text
    costs two passes of set look-ups in C plus one call per token never seen before.

    Only truthy answers are stored; ``limit`` bounds the tokens held (all are forgotten past it).
    """

    def __init__(self, judge: Callable[[K], V], limit: int = 500_000):
        self.judge = judge
        self.limit = limit
        self._seen: set[K] = set()
        self._hit_tokens: set[K] = set()
        self._hits: dict[K, V] = {}

    def hits(self, tokens: Iterable[K]) -> list[tuple[K, V]]:
        """``(token, answer)`` for the distinct tokens whose answer is truthy.

        ``tokens`` is a set, or a few tokens that may repeat (a list): for those, when every one has been
        seen, two passes of look-ups in C and no set built. (For a long list a set is cheaper: most texts
        hold some word never seen before, and then the set is built anyway.)
        """
        if isinstance(tokens, (set, frozenset)):
            new = tokens - self._seen
        else:
            tokens = tokens if isinstance(tokens, (list, tuple)) else list(tokens)
            new = () if self._seen.issuperset(tokens) else set(tokens) - self._seen
        if new:
            if len(self._seen) > self.limit:
                self._seen.clear()
                self._hit_tokens.clear()
                self._hits.clear()
                new = set(tokens)
            for t in new:
                self._seen.add(t)
                answer = self.judge(t)
                if answer:
                    self._hit_tokens.add(t)
                    self._hits[t] = answer
        return [(t, self._hits[t]) for t in self._hit_tokens.intersection(tokens)]
