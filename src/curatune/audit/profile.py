"""Per-record checks of an audit, in bounded memory: counts, parse problems, empty fields, role order,
exact duplicates and character lengths.

Nothing here keeps a record or a text. Lengths go into fixed-size histograms
(:class:`Hist`); duplicates are found from 64-bit hashes kept in compact
arrays (14 bytes per record: hash, line, source), sorted once at the end.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import numpy as np
import xxhash

from ..curation.dedup.exact import dedup_text, normalise
from ..curation.read.records import Reject
from ..curation.record import Record

MAX_EXAMPLES = 50

# Role-order problems of chat records; a record can have several.
ROLE_ORDER_PROBLEMS = {
    "bad_first_role": "the conversation starts with neither a system nor a user turn",
    "system_not_first": "a system turn comes after the first turn",
    "consecutive_same_role": "two consecutive turns have the same role (tool turns excepted)",
    "not_ending_with_assistant": "the last turn is not the assistant's, so there is nothing to learn at the end",
    "no_assistant_turn": "the conversation has no assistant turn at all",
}


class Hist:
    """A histogram of non-negative integers with bounded memory.

    Values below ``EXACT`` are counted exactly; larger ones in log bins of 1/``SUB``
    octave (quantiles there are within about 2%). Mean, min and max are exact.
    """

    EXACT = 4096
    SUB = 32

    def __init__(self) -> None:
        self.exact = np.zeros(self.EXACT, dtype=np.int64)
        self.big: Counter = Counter()
        self.n = 0
        self.total = 0
        self.max = 0
        self.min: int | None = None

    def add(self, values) -> None:
        a = np.asarray(values, dtype=np.int64)
        if a.size == 0:
            return
        small = a[a < self.EXACT]
        if small.size:
            self.exact += np.bincount(small, minlength=self.EXACT)
        big = a[a >= self.EXACT]
        if big.size:
            self.big.update(np.floor(np.log2(big) * self.SUB).astype(np.int64).tolist())
        self.n += int(a.size)
        self.total += int(a.sum())
        self.max = max(self.max, int(a.max()))
        lo = int(a.min())
        self.min = lo if self.min is None else min(self.min, lo)

    def _big_lower(self, key: int) -> int:
        return int(np.ceil(2 ** (key / self.SUB)))

    def quantile(self, q: float) -> int | None:
        if self.n == 0:
            return None
        rank = max(1, int(np.ceil(q * self.n)))
        cum = np.cumsum(self.exact)
        if cum[-1] >= rank:
            return int(np.searchsorted(cum, rank))
        seen = int(cum[-1])
        for key in sorted(self.big):
            seen += self.big[key]
            if seen >= rank:
                return min(self._big_lower(key), self.max)
        return self.max

    def bins(self, n_bins: int = 40) -> tuple[list[float], list[int]]:
        """Log-spaced bin edges (from 1) and counts, for plots; zeros fall in the first bin."""
        if self.n == 0:
            return [], []
        hi = max(self.max, 2)
        edges = np.unique(np.round(np.geomspace(1, hi + 1, n_bins + 1)).astype(np.int64))
        counts = np.zeros(len(edges) - 1, dtype=np.int64)
        values = np.arange(self.EXACT)
        idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(counts) - 1)
        np.add.at(counts, idx, self.exact)
        for key, c in self.big.items():
            i = int(np.clip(np.searchsorted(edges, self._big_lower(key), side="right") - 1, 0, len(counts) - 1))
            counts[i] += c
        return edges.tolist(), counts.tolist()

    def to_dict(self) -> dict[str, Any]:
        if self.n == 0:
            return {"count": 0}
        edges, counts = self.bins()
        return {
            "count": self.n,
            "mean": round(self.total / self.n, 2),
            "min": self.min,
            "max": self.max,
            "quantiles": {f"p{int(q * 100)}": self.quantile(q) for q in (0.1, 0.5, 0.9, 0.99)},
            "histogram": {"edges": edges, "counts": counts},
        }


class DuplicateIndex:
    """Exact duplicates from 64-bit hashes of normalised text; the first of each group is the original."""

    def __init__(self) -> None:
        self.hashes = array("Q")
        self.lines = array("I")
        self.sources = array("H")

    def add(self, text: str, source: int, line: int) -> None:
        self.hashes.append(xxhash.xxh3_64_intdigest(normalise(text).encode("utf-8", "surrogatepass")))
        self.lines.append(min(line, 0xFFFFFFFF))
        self.sources.append(min(source, 0xFFFF))

    def summary(self, n_examples: int = 10) -> tuple[dict[str, Any], list[tuple[list[int], int]]]:
        """Counts, and for the first ``n_examples`` groups (by first occurrence) ``(first four members, size)``.

        Members are positions in this index, in reading order.
        """
        h = np.frombuffer(self.hashes, dtype=np.uint64) if len(self.hashes) else np.zeros(0, np.uint64)
        if h.size == 0:
            return {"duplicates": 0, "groups": 0, "largest_group": 0}, []
        order = np.argsort(h, kind="stable")
        s = h[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        sizes = np.diff(np.r_[starts, s.size])
        multi = sizes > 1
        groups = int(multi.sum())
        counts = {"duplicates": int((sizes[multi] - 1).sum()), "groups": groups, "largest_group": int(sizes.max()) if groups else 0}
        if not groups:
            return counts, []
        g_starts, g_sizes = starts[multi], sizes[multi]
        firsts = order[g_starts]
        pick = np.argsort(firsts, kind="stable")[:n_examples]
        return counts, [([int(x) for x in order[g_starts[i] : g_starts[i] + min(g_sizes[i], 4)]], int(g_sizes[i])) for i in pick]

    def location(self, ordinal: int, sources: list[str]) -> dict[str, Any]:
        return {"source": sources[self.sources[ordinal]], "line": int(self.lines[ordinal])}


def _blank(s: str | None) -> bool:
    return s is not None and not s.strip()


def role_order_problems(messages: list[dict[str, str]]) -> list[str]:
    roles = [m["role"] for m in messages]
    out = []
    if roles[0] not in ("system", "user"):
        out.append("bad_first_role")
    if "system" in roles[1:]:
        out.append("system_not_first")
    if any(a == b and a != "tool" for a, b in zip(roles, roles[1:])):
        out.append("consecutive_same_role")
    if roles[-1] != "assistant":
        out.append("not_ending_with_assistant")
    if "assistant" not in roles:
        out.append("no_assistant_turn")
    return out


class Profiler:
    """Everything an audit learns from one pass over records and rejects, without the tokenizer."""

    def __init__(self, max_examples: int = MAX_EXAMPLES):
        self.max_examples = max_examples
        self.records = 0
        self.rejects = 0
        self.kinds: Counter = Counter()
        self.per_source: Counter = Counter()
        self.parse_reasons: Counter = Counter()
        self.parse_examples: dict[str, list[dict]] = {}
        self.empty_fields: Counter = Counter()  # role -> fields that are empty or whitespace only
        self.empty_records = 0
        self.empty_examples: list[dict] = []
        self.role_order: Counter = Counter()
        self.role_order_records = 0
        self.role_order_examples: list[dict] = []
        self.turns = Hist()
        self.chars: dict[str, Hist] = {}
        self.sources: list[str] = []
        self._source_index: dict[str, int] = {}
        self.dup_record = DuplicateIndex()
        self.dup_prompt = DuplicateIndex()
        self._prompt_ordinals = array("I")  # record ordinal of each prompt-dedup entry

    def _src(self, source: str) -> int:
        i = self._source_index.get(source)
        if i is None:
            i = self._source_index[source] = len(self.sources)
            self.sources.append(source)
        return i

    def observe_batch(self, items: list[Record | Reject]) -> list[Record]:
        records = []
        chars: dict[str, list[int]] = {}
        turns: list[int] = []
        for item in items:
            if isinstance(item, Reject):
                self._reject(item)
                continue
            records.append(item)
            self._record(item, chars, turns)
        for role, values in chars.items():
            self.chars.setdefault(role, Hist()).add(values)
        self.turns.add(turns)
        return records

    def _reject(self, r: Reject) -> None:
        self.rejects += 1
        self.per_source[r.source] += 1
        self.parse_reasons[r.reason] += 1
        ex = self.parse_examples.setdefault(r.reason, [])
        if len(ex) < self.max_examples:
            ex.append({"source": r.source, "line": r.line, "id": r.id, "detail": r.detail})

    def _record(self, rec: Record, chars: dict[str, list[int]], turns: list[int]) -> None:
        ordinal = self.records
        self.records += 1
        kind = rec.kind
        self.kinds[kind] += 1
        source = rec.meta.get("source", "")
        line = rec.meta.get("line", 0) or 0
        self.per_source[source] += 1
        src = self._src(source)

        fields: list[tuple[str, str]] = []
        if rec.messages is not None:
            fields = [(m["role"], m["content"]) for m in rec.messages]
            turns.append(len(rec.messages))
        for name in ("text", "label", "chosen", "rejected"):
            value = getattr(rec, name)
            if value is not None:
                fields.append((name, value))
        per_role: dict[str, int] = {}
        empty_roles = []
        for role, text in fields:
            per_role[role] = per_role.get(role, 0) + len(text)
            if _blank(text):
                self.empty_fields[role] += 1
                empty_roles.append(role)
        for role, n in per_role.items():
            chars.setdefault(role, []).append(n)
        if empty_roles:
            self.empty_records += 1
            if len(self.empty_examples) < self.max_examples:
                self.empty_examples.append({"id": rec.id, "source": source, "line": line, "roles": sorted(set(empty_roles))})

        if kind == "chat" and rec.messages is not None:  # (a chat record has messages: the test is for the type checker)
            problems = role_order_problems(rec.messages)
            if problems:
                self.role_order.update(problems)
                self.role_order_records += 1
                if len(self.role_order_examples) < self.max_examples:
                    roles = "/".join(m["role"] for m in rec.messages)
                    self.role_order_examples.append({"id": rec.id, "source": source, "line": line, "problems": problems, "roles": roles})

        self.dup_record.add(dedup_text(rec, "record"), src, line)
        if rec.messages is not None and rec.response_text.strip():
            self.dup_prompt.add(dedup_text(rec, "prompt"), src, line)
            self._prompt_ordinals.append(ordinal)

    def duplicates(self, resolve_ids) -> dict[str, Any]:
        """Exact duplicates of whole records and of prompts (records with a non-empty answer).

        ``resolve_ids(ordinals) -> {ordinal: id}`` names the example records: ids are not kept
        during the pass, only hashes and locations.
        """
        parts = []
        for name, index, to_record in (("record", self.dup_record, None), ("prompt", self.dup_prompt, self._prompt_ordinals)):
            counts, groups = index.summary()
            parts.append((name, index, (lambda r, t=to_record: t[r] if t is not None else r), counts, groups))
        ordinals = sorted({rec_of(r) for _, _, rec_of, _, groups in parts for members, _ in groups for r in members})
        ids = resolve_ids(ordinals) if ordinals else {}
        out: dict[str, Any] = {}
        for name, index, rec_of, counts, groups in parts:
            examples = []
            for members, size in groups:
                locs = [{"id": ids.get(rec_of(r)), **index.location(r, self.sources)} for r in members]
                examples.append({"size": size, "first": locs[0], "duplicates": locs[1:]})
            out[name] = {**counts, "examples": examples}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "parse_problems": self.rejects,
            "kinds": dict(self.kinds.most_common()),
            "per_source": dict(self.per_source),
            "turns": self.turns.to_dict(),
            "parse": {
                "total": self.rejects,
                "reasons": dict(self.parse_reasons.most_common()),
                "examples": self.parse_examples,
            },
            "empty_fields": {
                "records": self.empty_records,
                "fields": dict(self.empty_fields.most_common()),
                "examples": self.empty_examples,
            },
            "role_order": {
                "records": self.role_order_records,
                "problems": {k: self.role_order.get(k, 0) for k in ROLE_ORDER_PROBLEMS},
                "meaning": ROLE_ORDER_PROBLEMS,
                "examples": self.role_order_examples,
            },
            "chars": {role: h.to_dict() for role, h in sorted(self.chars.items())},
        }
