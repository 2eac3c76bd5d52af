"""Global steps finished on blocks of state (curation/cluster.py) decide as the local steps do (issue 19).

The blocks are held in this process (BlockCluster: the code the Ray executor runs as tasks), so these tests need no Ray;
tests/curation/pipeline/test_ray_executor.py runs the same on a local Ray cluster.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from curatune.curation.cluster import BlockCluster, batch_state
from curatune.curation.dedup.exact import ExactDedup
from curatune.curation.dedup.lsh import bucket_map, bucket_reduce, candidate_pairs
from curatune.curation.dedup.minhash import MinHashDedup
from curatune.curation.record import Record


def chat(rid: str, question: str, answer: str) -> Record:
    return Record(rid, messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}])


def planted(n_orig: int = 600, n_exact: int = 60, n_near: int = 50, seed: int = 3) -> tuple[list[Record], set[str], set[str]]:
    """Chat records of 60 random words; ``n_exact`` copies of originals that differ only in case and spacing, and ``n_near``
    copies with one answer word changed (3-gram Jaccard about 0.9, word sets 0.97: found whatever the banding). Returns
    the records (copies after their original, shuffled in) and the ids of the planted exact and near copies."""
    rng = random.Random(seed)
    vocab = [f"v{i}" for i in range(8000)]
    origs = [
        (f"Question {rng.randrange(10**6)} about {' '.join(rng.choices(vocab, k=6))}?", " ".join(rng.choices(vocab, k=60)))
        for _ in range(n_orig)
    ]
    recs = [chat(f"o{i}", q, a) for i, (q, a) in enumerate(origs)]
    exact, near = set(), set()
    sources = rng.sample(range(n_orig), n_exact + n_near)
    for k, i in enumerate(sources):
        q, a = origs[i]
        if k < n_exact:
            rid, q2, a2 = f"e{k}", q.upper(), "  " + a.replace(" ", "   ")
            exact.add(rid)
        else:
            words = a.split()
            words[rng.randrange(len(words))] = "changed"
            rid, q2, a2 = f"n{k}", q, " ".join(words)
            near.add(rid)
        rec = chat(rid, q2, a2)
        recs.insert(rng.randrange(recs.index(next(r for r in recs if r.id == f"o{i}")) + 1, len(recs) + 1), rec)
    return recs, exact, near


def local_verdicts(steps: list, recs: list[Record], flag_first: bool = False) -> dict[str, tuple]:
    """The pass runner's way: each step observes the survivors of the ones before it (all but the last decide on observing)."""
    out: dict[str, tuple] = {}
    survivors = recs
    for step in steps:
        step.setup()
        for r in survivors:
            step.observe(r, None)
        step.finish()  # (a step deciding on observing has its verdicts already: the same)
        nxt = []
        for r in survivors:
            v = step.decide(r)
            if v.action != "keep":
                out[r.id] = (step.name, v.reason, v.duplicate_of, v.value, v.threshold, v.detail)
                if not flag_first:
                    continue
            nxt.append(r)
        survivors = nxt
    return out


def block_verdicts(steps: list, recs: list[Record], batch: int = 37, per_block: int = 3, parts: int = 3, flag_first: bool = False) -> dict:
    """The Ray executor's way, in this process: batches prepared, their state in blocks, each step finished on them."""
    values = []
    for start in range(0, len(recs), batch):
        b = recs[start : start + batch]
        states = [g.prepare_batch(b) for g in steps]
        values.append(batch_state(b, range(start, start + len(b)), steps, list(zip(*states))))
    blocks = [values[i : i + per_block] for i in range(0, len(values), per_block)]
    blocks = [[b""], *blocks[:1], [b"", b""], *[[b"", *b] for b in blocks[1:]]]  # batches whose records were all dropped before
    out: dict[str, tuple] = {}
    excluded = np.empty(0, np.int64)
    for j, step in enumerate(steps):
        step.setup()
        dropped = step.finish_on(BlockCluster(blocks, j, excluded, parts))
        if not flag_first:
            excluded = np.union1d(excluded, dropped)
    for r in recs:
        for step in steps:
            v = step.decide(r)
            if v.action != "keep":
                out[r.id] = (step.name, v.reason, v.duplicate_of, v.value, v.threshold, v.detail)
                if v.action == "drop" and not flag_first or step is steps[-1]:
                    break
    return out


def test_bucket_grouping_gives_candidate_pairs():
    rng = np.random.default_rng(0)
    bands = rng.integers(0, 6, size=(300, 4)).astype(np.uint64)  # many collisions
    a, b = candidate_pairs(bands)
    pos = np.arange(300, dtype=np.int64) * 7 + 5  # positions: increasing, not the ordinals
    cols = {"pos": pos, "bands": bands}
    pieces = [bucket_map({k: v[i::2] for k, v in cols.items()}, 4, ("bands",)) for i in range(2)]
    keys = np.unique(np.concatenate([bucket_reduce([p[k] for p in pieces], ("bands",)) for k in range(4)]))
    assert np.array_equal(keys >> 32, pos[a]) and np.array_equal(keys & 0xFFFFFFFF, pos[b])


@pytest.mark.parametrize(
    "exact_params, minhash_params",
    [
        ({}, {}),
        ({"keep": "longest"}, {"keep": "longest"}),
        ({}, {"verify": "signature"}),
    ],
)
def test_exact_then_minhash_on_blocks_decide_as_local(exact_params, minhash_params):
    recs, exact, near = planted()
    local = local_verdicts([ExactDedup(**exact_params), MinHashDedup(**minhash_params)], recs)
    steps = [ExactDedup(**exact_params), MinHashDedup(**minhash_params)]
    on_blocks = block_verdicts(steps, recs)
    assert on_blocks == local
    # the planted copies, exactly: each exact copy (or its original, with keep: longest) and each near copy
    by_step = {name: sum(1 for v in local.values() if v[0] == name) for name in ("dedup.exact", "dedup.minhash")}
    assert by_step == {"dedup.exact": len(exact), "dedup.minhash": len(near)}
    if not exact_params:
        assert {i for i, v in local.items() if v[0] == "dedup.exact"} == exact
        assert {i for i, v in local.items() if v[0] == "dedup.minhash"} == near


def test_flagged_exact_copies_are_still_seen_by_minhash():
    """exact dedup with on_fail: flag keeps its copies: MinHash observes them (and drops them as near duplicates)."""
    recs, exact, near = planted(300, 30, 20, seed=5)
    local = local_verdicts([ExactDedup(), MinHashDedup()], recs, flag_first=True)
    on_blocks = block_verdicts([ExactDedup(), MinHashDedup()], recs, flag_first=True)
    assert on_blocks == local
    assert {i for i, v in local.items() if v[0] == "dedup.minhash"} == exact | near


def test_clusters_artifacts_match(tmp_path):
    recs, _, _ = planted(300, 30, 30, seed=9)
    steps_local = [ExactDedup(), MinHashDedup()]
    local_verdicts(steps_local, recs)
    steps_blocks = [ExactDedup(), MinHashDedup()]
    block_verdicts(steps_blocks, recs)
    for a, b in zip(steps_local, steps_blocks):
        (tmp_path / "l").mkdir(exist_ok=True)
        (tmp_path / "b").mkdir(exist_ok=True)
        names = a.write_artifacts(tmp_path / "l")
        assert names == b.write_artifacts(tmp_path / "b") and names
        for name in names:
            f = name.split("/")[-1]
            assert (tmp_path / "l" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


@pytest.mark.parametrize("verify", ["parts", "signature"])
def test_minhash_with_spilled_candidate_pairs_decides_the_same(verify):
    """Candidate pairs past the budget spill in chunks (compact.PairKeys): the same verdicts and clusters, locally and
    on blocks."""
    recs, _, near = planted(400, 0, 60, seed=21)
    ref = MinHashDedup(verify=verify)
    expected = local_verdicts([ref], recs)
    small = MinHashDedup(verify=verify)
    small.pair_budget = 5  # every few keys spill
    assert local_verdicts([small], recs) == expected and small._clusters == ref._clusters
    on_blocks = MinHashDedup(verify=verify)
    on_blocks.pair_budget = 5
    assert block_verdicts([on_blocks], recs) == expected and on_blocks._clusters == ref._clusters
    assert {i for i, v in expected.items()} == near


def test_minhash_reads_the_cluster_rows_once_per_chunk(monkeypatch):
    """Verification loads each chunk's rows in one read of the blocks; nothing is read row by row afterwards."""
    recs, _, near = planted(300, 0, 40, seed=4)
    reads = []
    real = BlockCluster._fetch_many
    monkeypatch.setattr(BlockCluster, "_fetch_many", lambda self, cols, pos: reads.append(cols) or real(self, cols, pos))
    step = MinHashDedup()
    assert set(block_verdicts([step], recs)) == near
    assert reads == [("sig", "parts"), ("sig", "parts", "rank", "id")]
