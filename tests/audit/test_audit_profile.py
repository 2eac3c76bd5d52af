"""Bounded-memory building blocks of the audit: histograms and the duplicate index."""

from __future__ import annotations

import numpy as np

from curatune.audit.profile import DuplicateIndex, Hist, role_order_problems


def test_hist_quantiles_exact_below_4096_and_close_above():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4000, size=10_001)
    h = Hist()
    for chunk in np.array_split(values, 7):
        h.add(chunk)
    s = np.sort(values)
    for q in (0.1, 0.5, 0.9, 0.99):
        assert h.quantile(q) == s[int(np.ceil(q * len(s))) - 1]
    assert (h.n, h.min, h.max, h.total) == (len(values), s[0], s[-1], int(values.sum()))

    big = Hist()
    big.add([10, 5000, 100_000, 1_000_000])
    assert big.max == 1_000_000 and big.min == 10
    assert abs(big.quantile(0.75) - 100_000) / 100_000 < 0.03
    edges, counts = big.bins()
    assert sum(counts) == 4 and edges[0] == 1 and edges[-1] >= 1_000_000


def test_duplicate_index_groups_in_reading_order():
    idx = DuplicateIndex()
    texts = ["A b", "x", "a  B", "y", "x", "A B", "z"]
    for line, t in enumerate(texts, start=1):
        idx.add(t, 0, line)
    counts, groups = idx.summary()
    assert counts == {"duplicates": 3, "groups": 2, "largest_group": 3}
    assert groups == [([0, 2, 5], 3), ([1, 4], 2)]
    assert idx.location(5, ["f.jsonl"]) == {"source": "f.jsonl", "line": 6}
    assert DuplicateIndex().summary() == ({"duplicates": 0, "groups": 0, "largest_group": 0}, [])


def test_role_order_codes():
    def roles(*rs):
        return role_order_problems([{"role": r, "content": "x"} for r in rs])

    assert roles("system", "user", "assistant") == []
    assert roles("user", "assistant", "tool", "tool", "assistant") == []
    assert roles("user", "system", "assistant") == ["system_not_first"]
    assert roles("tool", "assistant") == ["bad_first_role"]
    assert roles("user", "assistant", "assistant") == ["consecutive_same_role"]
    assert roles("system") == ["not_ending_with_assistant", "no_assistant_turn"]
