"""select.budget keeping the pool's mix: task clusters, ranks within answer-length buckets, defects left out.

Planted sets with known truth: clusters of vectors far apart, scores that favour one cluster or long
answers, records with placeholder inputs. Each test states the count a correct selector must give.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from curatune.curation.record import Record
from curatune.curation.score.quality import QualityScore
from curatune.curation.select.budget import BudgetSelect
from curatune.curation.select.tasks import instruction_verb, length_buckets, rank_within_length, task_clusters
from curatune.embed import model as embed_model

DIM = 32


def clustered_vector(text: str) -> np.ndarray:
    """Cluster c (``c<N>`` in the text) points along axis c; member m (``m<N>``) adds a small private direction."""
    c = int(re.search(r"\bc(\d+)", text).group(1))
    m = int(re.search(r"\bm(\d+)", text).group(1))
    x = np.zeros(DIM, dtype=np.float32)
    x[c] = 1.0
    x[8 + m % 24] = 0.3  # members differ (cosine 0.92 to each other, under max_similarity 0.95 below)
    return x


@pytest.fixture
def clustered(monkeypatch):
    emb = embed_model.Embedder(lambda texts: np.stack([clustered_vector(t) for t in texts]), key="clustered", cache=False)
    monkeypatch.setattr(embed_model, "load_embedder", lambda model="default", *a, **k: emb)


def chat(rid: str, user: str, answer: str, **scores: float) -> Record:
    meta = {"scores": dict(scores)} if scores else {}
    return Record(rid, messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}], meta=meta)


def run(step, records):
    for r in records:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: step.decide(r) for r in records}


def kept(verdicts) -> set[str]:
    return {i for i, v in verdicts.items() if v.action == "keep"}


def test_stratified_selection_keeps_every_cluster(clustered):
    # Four task clusters of 40, 30, 20 and 10 records; every record of cluster 0 outscores every other record,
    # so a selector by score alone spends the whole budget of 20 on cluster 0.
    sizes = {0: 40, 1: 30, 2: 20, 3: 10}
    records = [
        chat(f"c{c}-{m}", f"task c{c} m{m}", "An answer.", quality=(1.0 if c == 0 else 0.5) - m / 1000)
        for c, n in sizes.items()
        for m in range(n)
    ]
    by_score = kept(run(BudgetSelect(budget=20, max_similarity=0.95), records))
    assert {rid.split("-")[0] for rid in by_score} == {"c0"}

    step = BudgetSelect(budget=20, stratify="task", clusters=4, max_similarity=0.95)
    chosen = kept(run(step, records))
    per_cluster = {c: sum(rid.startswith(f"c{c}-") for rid in chosen) for c in sizes}
    assert per_cluster == {0: 8, 1: 6, 2: 4, 3: 2}  # each cluster's share of the pool, exactly
    # Within each cluster, the best scores: members 0..k-1.
    assert chosen == {f"c{c}-{m}" for c, k in per_cluster.items() for m in range(k)}
    comp = step._summary["composition"]
    assert [c["pool_share"] for c in comp["clusters"]] == [0.4, 0.3, 0.2, 0.1]
    assert [c["selected_share"] for c in comp["clusters"]] == [0.4, 0.3, 0.2, 0.1]
    assert comp["clusters_below_a_third"] == []


def test_task_clusters_find_planted_groups_numbered_by_size():
    rng = np.random.default_rng(0)
    centres = np.eye(DIM, dtype=np.float32)[:3]
    emb = np.concatenate([centres[c] + 0.05 * rng.standard_normal((n, DIM)) for c, n in ((2, 5), (0, 30), (1, 15))]).astype(np.float32)
    labels = task_clusters(emb / np.linalg.norm(emb, axis=1, keepdims=True), 3)
    assert labels.tolist() == [2] * 5 + [0] * 30 + [1] * 15


def test_quality_rank_is_not_answer_length_in_disguise():
    # 50 short clean answers (6 to 15 words) and 50 long clean ones (80 to 129 words): the quality score grows
    # with length, so every long answer outscores every short one; ranked within length buckets, the best short
    # answers rank with the best long ones and a selection of 20 takes 10 of each.
    words = "the river carries cold water from the mountains down to the sea every spring".split()
    short = [" ".join(words[: 6 + i % 10]) + "." for i in range(50)]
    long = [" ".join((words * 10)[: 80 + i]) + "." for i in range(50)]
    quality = QualityScore(w_rules=0, w_ocr=0, w_repetition=0)  # the length part alone: monotone in length
    quality.setup()
    records = [chat(f"s{i}", f"Say something, c0 m{i}.", a) for i, a in enumerate(short)]
    records += [chat(f"l{i}", f"Say more, c0 m{i}.", a) for i, a in enumerate(long)]
    for r in records:
        r.meta["scores"] = quality.score(r)
    raw = {r.id: r.meta["scores"]["quality"] for r in records}
    assert min(raw[f"l{i}"] for i in range(50)) > max(raw[f"s{i}"] for i in range(50))

    n_words = np.array([len(r.messages[1]["content"].split()) for r in records], dtype=float)
    ranked = rank_within_length(np.array(list(raw.values())), n_words, buckets=2)
    assert length_buckets(n_words, 2).tolist() == [0] * 50 + [1] * 50
    # Not monotone in length: the five best short answers (tied at 15 words) share rank 0.9, above 45 of the
    # 50 long ones; the worst long answer ranks below every short one.
    assert ranked[:50].max() == pytest.approx(0.9) and sum(ranked[50:] < ranked[:50].max()) == 45
    assert sum(ranked[:50] > ranked[50:].min()) == 50

    step = BudgetSelect(budget=20, length_buckets=2, max_similarity=1.0, fields="response")
    verdicts = run_with_vectors(step, records)
    chosen = kept(verdicts)
    assert sum(rid.startswith("s") for rid in chosen) == 10 and len(chosen) == 20
    assert step._summary["composition"]["selected"]["share_under_20_words"] == 0.5
    by_score_alone = kept(run_with_vectors(BudgetSelect(budget=20, max_similarity=1.0, fields="response"), records))
    assert not any(rid.startswith("s") for rid in by_score_alone)


def run_with_vectors(step, records):
    """Run a step with distinct random vectors (nothing is a near copy), without the embedding model."""
    rng = np.random.default_rng(1)
    step.embed = lambda texts: (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True))(rng.standard_normal((len(texts), 16)))
    return run(step, records)


def test_defective_records_are_never_selected():
    quality = QualityScore()
    quality.setup()
    good = [
        chat(f"g{i}", f"Rewrite the sentence in the past tense.\n\nShe walks to school number {i}.", f"She walked to school number {i}.")
        for i in range(6)
    ]
    # Placeholder inputs ("<noinput>", "No input") and a placeholder answer: defects, whatever their other parts score.
    bad = [
        chat(
            "p1", "Write a haiku about autumn.\n\n<noinput>", "Leaves fall slowly down, red and gold upon the ground, autumn says goodbye."
        ),
        chat("p2", "Name three colours.\n\nNo input", "Red, green and blue are three colours that most people can name."),
        chat("p3", "Explain gravity.", "TODO"),
    ]
    for r in good + bad:
        r.meta["scores"] = quality.score(r)
    assert [r.meta["scores"]["defects"] for r in bad] == [1.0, 1.0, 1.0]
    assert all(r.meta["scores"]["defects"] == 0.0 for r in good)
    step = BudgetSelect(budget=8, max_similarity=1.0)
    verdicts = run_with_vectors(step, good + bad)
    assert kept(verdicts) == {r.id for r in good}  # 8 asked, 6 can be selected
    assert {verdicts[r.id].reason for r in bad} == {"defective"}
    comp = step._summary["composition"]
    assert (comp["pool"]["share_defective"], comp["selected"]["share_defective"]) == (round(3 / 9, 4), 0.0)
    assert (comp["pool"]["share_with_input"], comp["selected"]["share_with_input"]) == (round(8 / 9, 4), 1.0)
    assert comp["verbs"]["rewrite"] == {"pool": round(6 / 9, 4), "selected": 1.0}


def test_instruction_verb():
    assert instruction_verb(chat("a", "Rewrite this sentence.\n\nHe go home.", "He goes home.")) == "rewrite"
    assert instruction_verb(chat("b", "  'Classify' the following.", "A.")) == "classify"
    assert instruction_verb(chat("c", "123", "A.")) == ""


def test_length_buckets_never_split_one_word_count():
    # 30 one-word answers are more than a bucket's share (25 of 100): they get a bucket of their own, and the
    # ten two-word answers start the next one (quantile edges would have put both in one bucket).
    words = np.array([1] * 30 + [2] * 10 + list(range(3, 63)), dtype=float)
    b = length_buckets(words, 4)
    assert set(b[:30]) == {0} and set(b[30:40]) == {1} and b.max() == 3
