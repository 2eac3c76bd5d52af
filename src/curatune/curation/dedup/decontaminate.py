"""Decontamination: drop training records that share a long word n-gram with an evaluation set.

The test follows GPT-3's and the Llama papers' practice: after normalising
(case, punctuation, whitespace), a training text that shares any 13-word
sequence with an evaluation example has probably seen that example. The
index holds 64-bit xxhash values of the evaluation n-grams (not the strings),
mapped to the evaluation record they came from so the ledger can name it.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from typing import Annotated, Literal

import xxhash
from pydantic import Field

from ...errors import InputError
from ..read.records import read_records
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.paths import text_fields

log = logging.getLogger("curatune")

_NOT_WORD = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    """Lowercased words with punctuation removed: "Hello, World!" and "hello world" are the same."""
    return _NOT_WORD.sub(" ", text.casefold()).split()


def ngram_hashes(ws: list[str], n: int) -> list[int]:
    """xxh3-64 of every ``n``-word window joined by single spaces."""
    k = len(ws) - n + 1
    if k <= 0:
        return []
    h = xxhash.xxh3_64_intdigest
    joined = " ".join(ws)
    raw = joined.encode("utf-8", "surrogatepass")
    if len(raw) != len(joined):  # non-ASCII: character offsets are not byte offsets
        return [h(" ".join(ws[i : i + n]).encode("utf-8", "surrogatepass")) for i in range(k)]
    # Hashing slices of one buffer is about twice as fast as joining every window (same hashes).
    starts = list(itertools.accumulate((len(w) + 1 for w in ws), initial=0))
    view = memoryview(raw)
    return [h(view[starts[i] : starts[i + n] - 1]) for i in range(k)]


def text_hash(ws: list[str]) -> int:
    return xxhash.xxh3_64_intdigest(" ".join(ws).encode("utf-8", "surrogatepass"))


def field_texts(rec: Record, fields: str) -> list[str]:
    """The pieces of a record compared against the eval set; n-grams never cross two pieces."""
    if rec.messages is not None and fields != "record":
        roles = ("system", "user") if fields == "prompt" else ("assistant",)
        out = [m["content"] for m in rec.messages if m["role"] in roles]
        if fields == "response" and rec.chosen is not None:
            out.append(rec.chosen)
        return out
    if fields == "prompt" and rec.messages is None:
        return [t for _, t in text_fields(rec)]
    if fields == "response":
        return [rec.response_text]
    return [t for _, t in text_fields(rec)]


@register("dedup.decontaminate")
class Decontaminate(Filter):
    """Drop records that share an ``n``-word sequence with any record of ``eval_paths``.

    ``eval_paths``: evaluation or test files, globs or folders, in any format
    curatune reads (every text field of an eval record is indexed). With no
    ``eval_paths`` the step keeps everything and logs a warning, so the default
    recipe can carry it until the user names a test set.

    ``fields``: which part of a training record is compared: ``record`` (every
    text field), ``prompt`` (system and user turns) or ``response`` (answers).

    ``short_text_exact``: a text piece shorter than ``n`` words has no n-gram;
    when true it is dropped if it equals, after normalisation, a whole eval
    text piece of at least ``exact_min_words`` words (a short question copied
    verbatim; one-word answers such as "Yes." or "Paris." are too common to
    count). ``min_matches``: shared n-grams needed to drop.

    Reasons: ``eval_ngram_overlap`` (value: shared n-grams; detail: the file and id
    of the most-matched eval record) and ``eval_exact_match`` (value: words).
    """

    reasons = ("eval_ngram_overlap", "eval_exact_match")

    def __init__(
        self,
        eval_paths: list[str] = [],  # noqa: B006
        n: Annotated[int, Field(ge=3, le=100)] = 13,
        fields: Literal["record", "prompt", "response"] = "record",
        min_matches: Annotated[int, Field(ge=1)] = 1,
        short_text_exact: bool = True,
        exact_min_words: Annotated[int, Field(ge=1)] = 4,
    ):
        self.eval_paths = eval_paths
        self.n = n
        self.fields = fields
        self.min_matches = min_matches
        self.short_text_exact = short_text_exact
        self.exact_min_words = exact_min_words

    def setup(self) -> None:
        self._index: dict[int, int] = {}  # n-gram hash -> eval record ordinal (first seen)
        self._exact: dict[int, int] = {}  # whole normalised short piece -> eval record ordinal
        self._sources: list[tuple[str, str]] = []  # ordinal -> (eval file, eval record id)
        if not self.eval_paths:
            log.warning("dedup.decontaminate has no eval_paths: it keeps every record. Set eval_paths to your test files.")
            return
        n = self.n
        for item in read_records(self.eval_paths):
            if not isinstance(item, Record):
                continue  # an unreadable eval row cannot contaminate anything
            ordinal = len(self._sources)
            self._sources.append((str(item.meta.get("source", "?")), item.id))
            for _, text in item.text_fields():
                ws = words(text)
                if len(ws) >= n:
                    for h in ngram_hashes(ws, n):
                        self._index.setdefault(h, ordinal)
                elif len(ws) >= self.exact_min_words:
                    # A short training piece can only equal a short eval piece: only those are kept.
                    self._exact.setdefault(text_hash(ws), ordinal)
        if not self._sources:
            raise InputError(
                f"The eval_paths of dedup.decontaminate ({self.eval_paths}) hold no readable record. "
                "Check the files and their format with: curatune audit PATH"
            )

    @property
    def eval_records(self) -> int:
        return len(self._sources)

    def keep(self, rec: Record) -> Verdict:
        if not self._sources:
            return KEEP
        n, index = self.n, self._index
        hits: Counter = Counter()
        exact = None
        for text in field_texts(rec, self.fields):
            ws = words(text)
            if len(ws) >= n:
                for h in ngram_hashes(ws, n):
                    o = index.get(h)
                    if o is not None:
                        hits[o] += 1
            elif self.short_text_exact and exact is None and len(ws) >= self.exact_min_words:
                o = self._exact.get(text_hash(ws))
                if o is not None:
                    exact = (o, len(ws))
        if not hits:
            if exact is None:
                return KEEP
            source, eval_id = self._sources[exact[0]]
            return Drop("eval_exact_match", value=exact[1], detail=f"eval_file={source}; eval_id={eval_id}")
        total = sum(hits.values())
        if total < self.min_matches:
            return KEEP
        o, count = min(hits.items(), key=lambda kv: (-kv[1], kv[0]))
        source, eval_id = self._sources[o]
        detail = f"eval_file={source}; eval_id={eval_id}; shared={count}; eval_records_matched={len(hits)}; n={n}"
        return Drop("eval_ngram_overlap", value=total, threshold=self.min_matches, detail=detail)
