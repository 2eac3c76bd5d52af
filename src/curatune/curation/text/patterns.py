"""Regexes made cheaper: literals a pattern needs, one trie for many phrases, lexicon terms as fast patterns.

A case-insensitive alternation of many patterns or phrases costs tens of
microseconds per text, and almost no text matches. Each kernel here gives
the same match (or the same yes/no) as its reference for less.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ---- literals a pattern needs (filter.missing_input) ------------------------------------------------------
# Every match of a pattern contains, for each of a few sets of literal text the pattern requires, one of the
# set ("this" or "given"..., and "image" or "video"...), read from the parsed pattern. A pattern with a set
# none of whose strings is in the text cannot match, and is not run.


def _required(items) -> list[frozenset[str]]:
    """Sets of strings such that every match of the parsed sequence ``items`` contains one string of each set."""
    from re import _constants as c  # type: ignore[attr-defined]  # private: typeshed has no stub for sre's internals

    needs: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            needs.append(frozenset(["".join(run)]))
            run.clear()

    for op, av in items:
        if op is c.LITERAL and av < 128:
            run.append(chr(av).lower())
            continue
        if op is c.BRANCH and run:
            # The parser factors out a common prefix ("this|that" is "th" and a branch of "is" and "at"): the run
            # goes on into each alternative's own leading literals, so one of these strings is in every match.
            needs.append(frozenset("".join(run) + _leading_literals(a) for a in av[1]))
        flush()
        if op is c.SUBPATTERN:
            if not (av[1] or av[2]):  # inline flags: nothing said about the group
                needs += _required(av[3])
        elif op is c.BRANCH:
            # One alternative matches: each needs one of its own strings, so the union of a set from each.
            alts = [_required(a) for a in av[1]]
            if all(alts):
                needs.append(frozenset().union(*(max(a, key=_selectivity) for a in alts)))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            needs += _required(av[2])
    flush()
    return needs


def _leading_literals(items) -> str:
    """The ASCII literal characters (lower case) a parsed sequence opens with."""
    from re import _constants as c  # type: ignore[attr-defined]  # private: typeshed has no stub for sre's internals

    out = []
    for op, av in items:
        if op is not c.LITERAL or av >= 128:
            break
        out.append(chr(av).lower())
    return "".join(out)


def _selectivity(need: frozenset[str]) -> tuple[int, int]:
    """Longer strings and fewer of them are rarer in text: the set a cheap test should try first."""
    return min(map(len, need)), -len(need)


def needed_literals(pattern: str) -> tuple[frozenset[str], ...]:
    """The literal sets (lower case) every case-insensitive match of ``pattern`` needs, most selective first
    (two-character and shorter strings are left out: nearly every text holds them); () when the pattern cannot be read."""
    from re import _parser  # type: ignore[attr-defined]  # private: typeshed has no stub for sre's internals

    try:
        needs = _required(_parser.parse(pattern, re.I))
    except Exception:  # a parser detail changed: no prefilter, the regex alone decides
        return ()
    useful = [n for n in needs if min(map(len, n)) >= 3]  # (literals are read from ASCII characters only)
    return tuple(sorted(set(useful), key=_selectivity, reverse=True))


@lru_cache(maxsize=64)
def alternation(patterns: tuple[str, ...], ignorecase: bool = True) -> re.Pattern:
    """The patterns as one alternation (case-insensitive unless told), tried in their order at each position."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I if ignorecase else 0)


def prefiltered_search(
    lines: tuple[tuple[str, tuple[frozenset[str], ...]], ...], text: str, view: str, ignorecase: bool = True
) -> re.Match | None:
    """The first match in ``text`` of the alternation of the patterns of ``lines`` (``(pattern, needed_literals(pattern))``);
    ``view`` is ``ignorecase_view(text)``. ``ignorecase=False``: the patterns match as written (lower-case patterns
    on lower-cased text); a literal a match needs is then in the text as written, so in its view too.

    Patterns whose needed literals are missing from the view cannot match anywhere, so they are left out of the
    alternation: at each position the alternation tries the others in the same order, so its leftmost match is
    the same as with all of them.
    """
    contains = view.__contains__
    kept = []
    for p, needs in lines:
        for need in needs:
            if not any(map(contains, need)):
                break
        else:
            kept.append(p)
    return alternation(tuple(kept), ignorecase).search(text) if kept else None


def needs_gate(lines: tuple[tuple[str, tuple[frozenset[str], ...]], ...]) -> re.Pattern | None:
    """One search of the view that rules a text out of :func:`prefiltered_search` before its per-line tests.

    A line is left out unless its first (most selective) literal set has a string in the view, so when none of the
    lines' first sets has one (this trie of them finds nothing in the view), :func:`prefiltered_search` finds nothing.
    One trie search costs a fraction of the per-line substring tests, and most texts hold none of the literals.
    None when some line needs no literal (it is always tried: no gate).
    """
    if any(not needs for _, needs in lines):
        return None
    literals = sorted({s for _, needs in lines for s in needs[0]})
    return re.compile(trie_regex(literals) if literals else r"(?!x)x")


def prefiltered_search_reference(
    lines: tuple[tuple[str, tuple[frozenset[str], ...]], ...], text: str, ignorecase: bool = True
) -> re.Match | None:
    return alternation(tuple(p for p, _ in lines), ignorecase).search(text) if lines else None


# ---- many phrases as one trie (filter.refusal) ------------------------------------------------------------


def trie_regex(phrases: list[str]) -> str:
    """One regex matching exactly the given phrases, as a character trie: far fewer branches to try
    at each position than a plain alternation of the phrases.

    At a position at most one branch of a node can go on (the branches start with different characters)
    and each optional tail is greedy, so the match is the longest phrase that matches there (backtracking to
    shorter ones when what follows refuses it), as with :func:`trie_regex_reference`, longest first.
    """
    trie: dict = {}
    for p in phrases:
        node = trie
        for ch in p:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        kids = sorted(ch for ch in node if ch)
        if not kids:
            return ""
        alts = [re.escape(ch) + build(node[ch]) for ch in kids]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def trie_regex_reference(phrases: list[str]) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


# ---- a pattern anchored at the end of a line (filter.truncated_answer) -------------------------------------


def search_last_token(pattern: re.Pattern, line: str) -> bool:
    """``pattern.search(line) is not None`` for a pattern that ends with ``\\s*$`` and none of whose other parts
    can match whitespace: a match then lies in the last token of the line (and the spaces after it), so the
    search starts there, where a search of the whole line retries every branch at every position."""
    body = line.rstrip()
    if not body:
        return pattern.search(line) is not None
    start = len(body) - len(body.rsplit(None, 1)[-1])
    return pattern.search(line, start) is not None


def search_last_token_reference(pattern: re.Pattern, line: str) -> bool:
    return pattern.search(line) is not None


# ---- a pattern anchored at the end of the text (sentence splitting) ----------------------------------------


@lru_cache(maxsize=64)
def _longest_match(pattern: re.Pattern) -> int | None:
    """The most characters a match of ``pattern`` can span, read from the parsed pattern; None when unbounded or unread."""
    from re import _constants as c  # type: ignore[attr-defined]  # private: typeshed has no stub for sre's internals
    from re import _parser  # type: ignore[attr-defined]

    try:
        longest = _parser.parse(pattern.pattern, pattern.flags).getwidth()[1]
    except Exception:  # a parser detail changed: the whole text is searched
        return None
    return None if longest >= c.MAXREPEAT else int(longest)


def search_end(pattern: re.Pattern, text: str) -> bool:
    """``pattern.search(text) is not None`` for a pattern that ends with ``$`` (without MULTILINE) and whose look-behinds
    (``\\b`` included) look back one character at most: every match ends at the end of the text or before a last line
    break, so it lies in the last ``longest + 1`` characters, and one more lets the look-behind see what precedes it.
    A search of the whole text tries the pattern at every position (an abbreviation at a sentence's end: 40 µs for an
    answer of 1,000 characters).
    """
    longest = _longest_match(pattern)
    return pattern.search(text if longest is None else text[-(longest + 2) :]) is not None


def search_end_reference(pattern: re.Pattern, text: str) -> bool:
    return pattern.search(text) is not None


# ---- lexicon terms (filter.harmful) -----------------------------------------------------------------------
# A term is one word or several ("kill myself"), "*" standing for any letters ("self-harm*", "f*ck").

_LETTERS = re.compile(r"[a-z]+")


def term_regex(term: str) -> re.Pattern:
    """A multi-word or punctuated term as a whole-word pattern: any whitespace between words, ``*`` a suffix."""
    suffix = term.endswith("*")
    parts = [re.escape(w).replace(r"\*", "[a-z]*") for w in term.rstrip("*").split()]
    body = r"\s+".join(parts) + (r"[a-z]*" if suffix else "")
    return re.compile(r"(?<![a-z])" + body + r"(?![a-z])", re.I)


def fast_term_regex(term: str) -> re.Pattern | None:
    """The same match as ``term_regex(term)`` on lower-case text without FOLDS_TO_ASCII, 15 to 60 times faster.

    In a lower-cased text without FOLDS_TO_ASCII, the case-insensitive term patterns match exactly what the
    faster case-sensitive ones do, and a match's words are runs of ASCII letters.

    It opens with a literal, which the regex engine looks for with a fast scan, and checks the letter before it
    after. None when the term does not open with a literal word (``f*ck``).
    """
    head = re.split(r"[\s*]", term, maxsplit=1)[0]
    whole = term_regex(term).pattern
    lead = r"(?<![a-z])" + re.escape(head)
    if not head or not whole.startswith(lead):
        return None
    return re.compile(re.escape(head) + r"(?<![a-z]" + re.escape(head) + ")" + whole[len(lead) :])


def whole_runs(term: str) -> frozenset[str]:
    """The runs of letters of a term that its pattern matches as whole words: not next to a ``*``.

    A prefilter: on a text without FOLDS_TO_ASCII, ``term_regex(term)`` matches only where every one of them is a
    run of letters of the text (``letter_runs``).
    """
    runs = _LETTERS.finditer(term)
    return frozenset(m.group() for m in runs if term[m.start() - 1 : m.start()] != "*" and term[m.end() : m.end() + 1] != "*")
