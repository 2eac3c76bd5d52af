"""dedup.semantic, filter.domain and select.budget on planted vectors: exact verdicts.

Each test gives the steps an embedder whose vectors are built by hand from a
tag in the text ("t3 v7": topic 3, variant 7), so every similarity is known.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from curatune.curation.dedup.semantic import SemanticDedup
from curatune.curation.filter.domain import DomainRelevance, bimodal_threshold
from curatune.curation.record import Record
from curatune.curation.select.budget import BudgetSelect, allocate
from curatune.embed import model as embed_model
from curatune.errors import RecipeError

DIM = 64


def planted_vector(text: str, spread: float) -> np.ndarray:
    """Topic t points along axis t; variant v adds ``spread`` along axis 32 + v (v=0 adds nothing)."""
    t = int(re.search(r"\bt(\d+)", text).group(1))
    m = re.search(r"\bv(\d+)", text)
    v = int(m.group(1)) if m else 0
    x = np.zeros(DIM, dtype=np.float32)
    x[t] = 1.0
    if v:
        x[32 + v] = spread
    return x


@pytest.fixture
def planted(monkeypatch):
    def use(spread: float):
        emb = embed_model.Embedder(lambda texts: np.stack([planted_vector(t, spread) for t in texts]), key="planted", cache=False)
        monkeypatch.setattr(embed_model, "load_embedder", lambda model="default", *a, **k: emb)
        return emb

    return use


def rec(rid: str, text: str, **meta) -> Record:
    return Record(rid, messages=[{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}], meta=dict(meta))


def run(step, records):
    for r in records:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: step.decide(r) for r in records}


# ---- dedup.semantic ---------------------------------------------------------------------------


def test_semantic_dedup_drops_close_variants_and_points_at_the_first(planted):
    planted(0.1)  # a variant's similarity to its topic's plain record: 1/sqrt(1.01) = 0.995
    records = [rec("a", "t1"), rec("b", "t2"), rec("a2", "t1 v1"), rec("c", "t3"), rec("a3", "t1 v2"), rec("b2", "t2 v3")]
    verdicts = run(SemanticDedup(threshold=0.95), records)
    dropped = {i: (v.duplicate_of, v.value) for i, v in verdicts.items() if v.action == "drop"}
    assert dropped == {"a2": ("a", 0.995), "a3": ("a", 0.995), "b2": ("b", 0.995)}
    assert all(v.reason == "semantic_duplicate" and v.threshold == 0.95 for v in verdicts.values() if v.action == "drop")


def test_semantic_dedup_threshold_above_the_similarity_keeps_all(planted):
    planted(0.5)  # similarity 1/sqrt(1.25) = 0.894
    verdicts = run(SemanticDedup(threshold=0.9), [rec("a", "t1"), rec("a2", "t1 v1")])
    assert all(v.action == "keep" for v in verdicts.values())


def test_semantic_dedup_keep_longest(planted):
    planted(0.1)
    records = [rec("short", "t1"), rec("long", "t1 v1 with many more words in it")]
    verdicts = run(SemanticDedup(threshold=0.95, keep="longest"), records)
    assert verdicts["short"].action == "drop" and verdicts["short"].duplicate_of == "long"


def test_semantic_dedup_clusters_many_records(planted):
    planted(0.1)
    # 40 topics x (1 plain + 2 variants) with cluster_size small enough to force k-means.
    records = [rec(f"t{t}-{v}", f"t{t} v{v}" if v else f"t{t}") for v in range(3) for t in range(1, 30)]
    verdicts = run(SemanticDedup(threshold=0.95, cluster_size=10), records)
    dropped = {i: v.duplicate_of for i, v in verdicts.items() if v.action == "drop"}
    assert dropped == {f"t{t}-{v}": f"t{t}-0" for t in range(1, 30) for v in (1, 2)}


# ---- filter.domain ----------------------------------------------------------------------------


def domain_data():
    inside = [rec(f"in{v}", f"t1 v{v}") for v in range(1, 21)]
    outside = [rec(f"out{v}", f"t5 v{v}") for v in range(1, 6)]
    return inside + outside


def test_domain_from_examples_drops_exactly_the_other_topic(planted):
    planted(0.3)
    step = DomainRelevance(examples=[f"t1 v{v}" for v in range(21, 31)])
    verdicts = run(step, domain_data())
    dropped = sorted(i for i, v in verdicts.items() if v.action == "drop")
    assert dropped == [f"out{v}" for v in range(1, 6)]
    # Examples are all 1/(1+0.09) = 0.917 similar to each other (MAD 0): that is the cut.
    assert verdicts["out1"].threshold == pytest.approx(0.9174, abs=1e-4) and verdicts["out1"].value == 0.0


def test_domain_from_a_description_cuts_only_two_clear_groups(planted):
    planted(0.3)
    verdicts = run(DomainRelevance(description="t1"), domain_data())
    assert sorted(i for i, v in verdicts.items() if v.action == "drop") == [f"out{v}" for v in range(1, 6)]
    # A dataset that is all in the domain loses nothing: one group, no cut.
    step = DomainRelevance(description="t1")
    assert all(v.action == "keep" for v in run(step, domain_data()[:20]).values())
    assert step._cut is None


def test_domain_from_a_labelled_sample(planted, tmp_path):
    planted(0.3)
    sample = tmp_path / "sample.jsonl"
    lines = [f'{{"text": "t1 v{v}", "label": "in"}}' for v in range(21, 31)] + [
        f'{{"text": "t5 v{v}", "label": "out"}}' for v in range(21, 31)
    ]
    sample.write_text("\n".join(lines) + "\n")
    verdicts = run(DomainRelevance(labelled_file=str(sample)), domain_data())
    assert sorted(i for i, v in verdicts.items() if v.action == "drop") == [f"out{v}" for v in range(1, 6)]


def test_domain_needs_the_domain(planted):
    planted(0.3)
    with pytest.raises(RecipeError, match="needs the domain"):
        DomainRelevance()
    # Nothing to score: nothing embedded, nothing dropped.
    assert run(DomainRelevance(description="t1"), []) == {}


def test_bimodal_threshold():
    cut, d = bimodal_threshold(np.array([0.1] * 10 + [0.8] * 30 + [0.82] * 5))
    assert 0.1 < cut < 0.8 and d > 2
    assert bimodal_threshold(np.linspace(0.5, 0.6, 50))[0] is None


# ---- select.budget ----------------------------------------------------------------------------


def test_allocate_is_proportional_and_exact():
    assert allocate({"a": 6, "b": 4}, 5) == {"a": 3, "b": 2}
    assert allocate({"a": 1, "b": 9}, 5) == {"a": 1, "b": 4}
    assert allocate({"a": 2, "b": 2}, 10) == {"a": 2, "b": 2}
    assert sum(allocate({"a": 7, "b": 5, "c": 1}, 6).values()) == 6


def scored(rid: str, text: str, q: float, **meta) -> Record:
    return rec(rid, text, scores={"quality": q}, **meta)


def test_select_takes_best_scores_and_skips_near_copies(planted):
    planted(0.1)
    records = [
        scored("A1", "t1", 0.9),
        scored("A2", "t1 v1", 0.85),
        scored("B1", "t2", 0.8),
        scored("C1", "t3", 0.7),
        scored("D1", "t4", 0.6),
        scored("E1", "t5", 0.5),
        scored("F1", "t6", 0.4),
    ]
    step = BudgetSelect(budget=4)
    verdicts = run(step, records)
    assert sorted(i for i, v in verdicts.items() if v.action == "keep") == ["A1", "B1", "C1", "D1"]
    a2 = verdicts["A2"]
    assert (a2.reason, a2.duplicate_of, a2.value, a2.threshold) == ("too_similar", "A1", 0.995, 0.9)
    e1 = verdicts["E1"]
    assert (e1.reason, e1.value, e1.threshold) == ("over_budget", 0.5, 0.6)
    assert step._summary["selected"] == 4 and step._summary["reasons"] == {"too_similar": 1, "over_budget": 2}


def test_select_fills_the_budget_with_the_most_different_copies(planted):
    planted(0.1)
    # Everything is one topic: the similarity rule admits one record, the fill adds the rest farthest-first.
    records = [scored(f"r{v}", f"t1 v{v}", 1 - v / 10) for v in range(5)]
    verdicts = run(BudgetSelect(budget=3), records)
    kept = [i for i, v in verdicts.items() if v.action == "keep"]
    assert len(kept) == 3 and "r0" in kept


def test_select_fraction_and_stratify_by_label(planted):
    planted(0.1)
    records = [Record(f"a{i}", text=f"t{i}", label="a", meta={"scores": {"quality": i}}) for i in range(1, 7)]
    records += [Record(f"b{i}", text=f"t{10 + i}", label="b", meta={"scores": {"quality": i}}) for i in range(1, 5)]
    verdicts = run(BudgetSelect(budget=0.5, stratify="label"), records)
    kept = sorted(i for i, v in verdicts.items() if v.action == "keep")
    assert kept == ["a4", "a5", "a6", "b3", "b4"]  # 3 of 6 a's, 2 of 4 b's, best scores first


def test_select_without_scores_is_a_seeded_diverse_sample(planted):
    planted(0.1)
    records = [rec(f"r{t}", f"t{t}") for t in range(1, 21)]
    first = {i for i, v in run(BudgetSelect(budget=5, seed=1), records).items() if v.action == "keep"}
    again = {i for i, v in run(BudgetSelect(budget=5, seed=1), records).items() if v.action == "keep"}
    assert len(first) == 5 and first == again


def test_bimodal_threshold_needs_a_valley():
    rng = np.random.default_rng(0)
    assert bimodal_threshold(rng.normal(0.5, 0.05, 2000))[0] is None  # a bell: Otsu would still cut it
    cut, _ = bimodal_threshold(np.concatenate([rng.normal(0.1, 0.03, 200), rng.normal(0.5, 0.05, 1800)]))
    assert 0.15 < cut < 0.4
