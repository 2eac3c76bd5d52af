"""The compact state (curation/compact.py) answers what the dict, set, list and bytearray it replaces answer."""

from __future__ import annotations

import random

import numpy as np
import pytest

from curatune.curation.compact import HashIndex, IdTable, SpillBuffer
from curatune.curation.dedup.exact import ExactDedup
from curatune.curation.dedup.minhash import MinHashDedup
from curatune.curation.record import Record


def test_hash_index_equals_a_dict_through_growth_and_collisions():
    rng = random.Random(0)
    # Keys sharing their low bits collide in the table's slots; growth re-places them.
    keys = [rng.getrandbits(64) for _ in range(3000)] + [k << 20 for k in range(1, 500)] + [0, 2**64 - 1]
    index, ref = HashIndex(capacity=4), {}
    for v, k in enumerate(keys):
        if k not in ref:
            index.put(k, v)
            ref[k] = v
    assert len(index) == len(ref)
    assert all(index.get(k) == v for k, v in ref.items())
    missing = [rng.getrandbits(64) for _ in range(2000)]
    assert all((k in index) == (k in ref) for k in missing)
    as_set = HashIndex()
    assert not as_set and as_set.add(7) and not as_set.add(7) and 7 in as_set and 8 not in as_set and as_set


def test_hash_index_setdefault_and_add_equal_a_dict_and_a_set():
    rng = random.Random(1)
    keys = [rng.getrandbits(64) for _ in range(2000)] + [k << 24 for k in range(1, 400)] + [0, 2**64 - 1]
    keys += rng.choices(keys, k=2000)  # repeats
    index, ref, as_set, ref_set = HashIndex(capacity=2), {}, HashIndex(capacity=2), set()
    for v, k in enumerate(keys):
        assert index.setdefault(k, v) == ref.get(k)
        ref.setdefault(k, v)
        assert as_set.add(k) == (k not in ref_set)
        ref_set.add(k)
    assert len(index) == len(ref) and len(as_set) == len(ref_set)
    assert all(index.get(k) == v for k, v in ref.items())


def test_id_table_gives_back_every_string():
    ids = ["a", "", "gen-000001", "é:日本", "\udcff surrogate", "x" * 500]
    table = IdTable()
    assert [table.append(s) for s in ids] == list(range(len(ids)))
    assert [table[i] for i in range(len(ids))] == ids and len(table) == len(ids)


def test_spill_buffer_reads_back_the_same_bytes_from_memory_or_disk():
    data = np.arange(10_000, dtype=np.uint64).reshape(1000, 10)
    for limit in (1 << 30, 800):
        buf = SpillBuffer(limit)
        for row in data:
            buf.append(row.tobytes())
        assert buf.spilled == (limit == 800)
        assert np.array_equal(buf.view(np.uint64, (1000, 10)), data)
        buf.close()


def _records() -> list[Record]:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    base = [" ".join(rng.choices(words, k=40)) for _ in range(150)]
    recs = []
    for i in range(900):
        text = base[rng.randrange(150)]
        if i % 3 == 0:  # a near copy: one word changed
            t = text.split()
            t[rng.randrange(40)] = "changed"
            text = " ".join(t)
        recs.append(Record(f"r{i}", text=text + (" tail" * (i % 4) if i % 5 == 0 else "")))
    return recs


def _verdicts(step, recs):
    for r in recs:
        step.observe(r, None)
    step.finish()
    return [(v.action, v.reason, v.duplicate_of, v.value) for v in map(step.decide, recs)]


def test_minhash_spilled_to_disk_decides_as_in_memory():
    recs = _records()
    in_memory = _verdicts(MinHashDedup(), recs)
    spilling = MinHashDedup()
    spilling.spill_bytes = 4096
    spilling._reset()
    assert _verdicts(spilling, recs) == in_memory
    assert sum(a == "drop" for a, *_ in in_memory) > 100


def test_exact_dedup_keeps_the_planted_keepers():
    recs = [Record(f"r{i}", text=f"text {i % 10}" + " x" * (i % 7)) for i in range(70)]
    # 70 records, 70 distinct (i % 10, i % 7) pairs: no duplicate
    assert all(a == "keep" for a, *_ in _verdicts(ExactDedup(), recs))
    recs = [Record(f"r{i}", text=f"text {i % 10}" + " x" * (i % 3)) for i in range(60)]  # 30 texts, each twice
    first = _verdicts(ExactDedup(), recs)
    assert [d for _, _, d, _ in first[30:]] == [f"r{i}" for i in range(30)]
    longest = _verdicts(ExactDedup(keep="longest"), recs)
    assert sum(a == "drop" for a, *_ in longest) == 30


def test_spilled_columns_and_rows_read_back_the_matrix():
    data = np.arange(30_000, dtype=np.uint64).reshape(3000, 10) * np.uint64(2654435761)
    buf = SpillBuffer(1000)
    for row in data:
        buf.append(row.tobytes())
    cols = buf.columns(np.uint64, (3000, 10))
    cols.chunk_bytes = 800  # many chunks, the last one short
    assert cols.shape == (3000, 10) and all(np.array_equal(cols[:, j], data[:, j]) for j in range(10))
    rows = buf.rows(np.uint64, (3000, 10))
    picked = np.array([2999, 0, 17, 17, 1500])
    assert np.array_equal(rows[picked], data[picked])
    buf.close()


def test_minhash_parts_spilled_to_disk_decides_as_in_memory():
    # verify: parts keeps its own signatures (prompt's, answer's) in spill buffers too; spilled, they decide the same.
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(400)]
    recs = []
    for i in range(600):
        base = i // 3  # three variants of each prompt/answer, some edited
        prng = random.Random(base)
        q = [prng.choice(vocab) for _ in range(12)]
        a = [prng.choice(vocab) for _ in range(30)]
        if i % 3 == 2:
            a[rng.randrange(len(a))] = rng.choice(vocab)
        recs.append(Record(f"c{i}", messages=[{"role": "user", "content": " ".join(q)}, {"role": "assistant", "content": " ".join(a)}]))
    in_memory = _verdicts(MinHashDedup(verify="parts"), recs)
    spilling = MinHashDedup(verify="parts")
    spilling.spill_bytes = 2048
    spilling._reset()
    assert _verdicts(spilling, recs) == in_memory
    assert spilling._part_sig_buf.size == 0  # freed after finish
    assert sum(a == "drop" for a, *_ in in_memory) >= 300


@pytest.mark.parametrize("budget", [1 << 20, 50, 7])
def test_pair_keys_give_each_key_once_in_bounded_chunks(budget):
    """PairKeys equals np.unique over every key added; past its budget the keys spill and every chunk stays within it."""
    from curatune.curation.compact import PairKeys

    rng = np.random.default_rng(budget)
    added = [rng.integers(0, 400, size=int(rng.integers(0, 60))) for _ in range(40)]
    keys = PairKeys(budget=budget, parts=4)
    for k in added:
        keys.add(k)
    chunks = list(keys.chunks())
    got = np.concatenate(chunks) if chunks else np.empty(0, np.int64)
    assert np.array_equal(np.sort(got), np.unique(np.concatenate(added)))  # each once, none lost
    if budget < 100:
        assert keys.spilled_keys >= sum(k.size for k in added) and len(chunks) > 1
        # a chunk is the unique keys of at most a budget of keys (or of one hash value at the deepest level)
        assert max(c.size for c in chunks) <= max(budget, 1)
