"""filter.label_errors: exact planted flips found on separable fake embeddings, verdicts, artifacts, small classes."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from curatune.curation.filter.label_errors import LabelErrors, find_label_errors
from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.embed import Embedder
from curatune.embed import model as embed_model

N, DIM, FLIPS = 200, 8, 10


def planted(seed: int = 0) -> tuple[list[Record], set[str], dict[str, np.ndarray]]:
    """N labelled records in two tight, well separated Gaussian clusters, FLIPS of them with the other cluster's label.

    Returns the records, the flipped ids and the fake "embedding" of each text.
    """
    rng = np.random.default_rng(seed)
    vectors: dict[str, np.ndarray] = {}
    records = []
    truth = rng.permutation(np.repeat(["pos", "neg"], N // 2))
    flipped = set(rng.choice(N, FLIPS, replace=False).tolist())
    for i, label in enumerate(truth):
        centre = np.zeros(DIM)
        centre[0] = 5.0 if label == "pos" else -5.0
        text = f"review number {i}"
        vectors[text] = centre + 0.5 * rng.normal(size=DIM)
        given = ("neg" if label == "pos" else "pos") if i in flipped else str(label)
        records.append(Record(f"r{i}", text=text, label=given))
    return records, {f"r{i}" for i in flipped}, vectors


@pytest.fixture
def dict_embedder(monkeypatch):
    """An embedder that looks texts up in a dict (over conftest's bag of words); returns the dict to fill and the calls."""
    vectors: dict[str, np.ndarray] = {}
    calls: list[int] = []

    def encode(texts):
        calls.append(len(texts))
        return np.stack([vectors[t] for t in texts])

    monkeypatch.setattr(embed_model, "load_embedder", lambda model="default": Embedder(encode, "fake", cache=False))
    return vectors, calls


@pytest.fixture
def no_embedder(monkeypatch):
    def fail(model="default"):
        raise AssertionError("the embedder must not be loaded here")

    monkeypatch.setattr(embed_model, "load_embedder", fail)


def run(step: LabelErrors, records: list[Record]):
    """Observe, finish, decide, like the pipeline's two passes; returns {id: verdict}."""
    for r in records:
        step.observe(r, step.prepare(r))
    step.finish()
    return {r.id: step.decide(r) for r in records}


def test_function_finds_exactly_the_planted_flips_from_embeddings():
    records, flipped, vectors = planted()
    x = np.stack([vectors[r.text] for r in records])
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # as the embedder returns them
    res = find_label_errors(x, [r.label for r in records], folds=5, seed=0)
    assert {records[i].id for i in res.issues} == flipped
    assert res.folds == 5 and res.warnings == [] and res.analysed.all()
    # Ranked by self-confidence, lowest (most confidently wrong) first.
    conf = res.self_confidence[res.issues]
    assert list(conf) == sorted(conf) and conf.max() < 0.5


def test_step_drops_exactly_the_planted_flips_and_keeps_unlabelled(dict_embedder):
    vectors, calls = dict_embedder
    records, flipped, vecs = planted()
    vectors.update(vecs)
    others = [
        Record("text:0", text="plain text, no label"),
        Record("chat:0", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]),
        Record("pref:0", messages=[{"role": "user", "content": "q"}], chosen="a", rejected="b"),
    ]
    mixed = records[:100] + others + records[100:]

    class ListSink(Sink):
        def __init__(self):
            self.kept, self.dropped, self.events = [], [], []

        def keep(self, rec):
            self.kept.append(rec.id)

        def drop(self, item, event):
            self.dropped.append(item.id)

        def event(self, event):
            self.events.append(event)

    sink = ListSink()
    result = Pipeline([PipelineStep(LabelErrors(features="embedding"), on_fail="drop")], workers=1, batch_size=16).run(mixed, sink)
    assert set(sink.dropped) == flipped and result.dropped == FLIPS
    assert {"text:0", "chat:0", "pref:0"} <= set(sink.kept)
    assert sum(calls) == N  # the labelled texts only, each once
    by_id = {r.id: r for r in records}
    for e in sink.events:
        assert (e.step, e.action, e.reason, e.threshold) == ("filter.label_errors", "drop", "label_error", None)
        given = by_id[e.id].label
        other = "neg" if given == "pos" else "pos"
        m = re.fullmatch(rf"given '{given}', model says '{other}' with p=(\d\.\d\d); rank (\d+) of {FLIPS} flagged", e.detail)
        assert m, e.detail
        assert isinstance(e.value, float) and 0 <= e.value < 0.5
        assert float(m.group(1)) == pytest.approx(1 - e.value, abs=0.006)  # two classes: p(other) = 1 - p(given)


def test_artifacts_ranked(dict_embedder, tmp_path):
    vectors, _ = dict_embedder
    records, flipped, vecs = planted()
    vectors.update(vecs)
    step = LabelErrors(features="embedding")
    verdicts = run(step, records)
    assert step.write_artifacts(tmp_path) == ["artifacts/label_issues.jsonl", "artifacts/label_scores.jsonl", "artifacts/label_errors.json"]
    scores = [json.loads(line) for line in (tmp_path / "label_scores.jsonl").read_text().splitlines()]
    assert len(scores) == N and {s["id"] for s in scores} == {r.id for r in records}  # a score for every record
    rows = [json.loads(line) for line in (tmp_path / "label_issues.jsonl").read_text().splitlines()]
    assert [r["rank"] for r in rows] == list(range(1, FLIPS + 1))
    assert {r["id"] for r in rows} == flipped
    assert [r["self_confidence"] for r in rows] == sorted(r["self_confidence"] for r in rows)
    for r in rows:
        assert set(r) == {"rank", "id", "given", "predicted", "self_confidence", "p_predicted"}
        assert r["given"] != r["predicted"] and r["self_confidence"] == verdicts[r["id"]].value
    summary = json.loads((tmp_path / "label_errors.json").read_text())
    assert summary["labelled_records"] == summary["analysed_records"] == N
    assert summary["folds"] == 5 and summary["label_issues"] == FLIPS and summary["warnings"] == []
    assert summary["classes"] == {"neg": sum(r.label == "neg" for r in records), "pos": sum(r.label == "pos" for r in records)}


def test_deterministic(dict_embedder):
    vectors, _ = dict_embedder
    records, _, vecs = planted(seed=3)
    vectors.update(vecs)
    a = run(LabelErrors(seed=7, features="embedding"), records)
    b = run(LabelErrors(seed=7, features="embedding"), records)
    assert a == b


def test_unlabelled_only_keeps_everything_without_loading_a_model(no_embedder, tmp_path):
    step = LabelErrors()
    recs = [Record("t0", text="hello"), Record("c0", messages=[{"role": "user", "content": "x"}])]
    assert all(v.kept for v in run(step, recs).values())
    assert step.write_artifacts(tmp_path) == []


def test_tiny_classes_are_skipped_with_a_warning_and_no_model(no_embedder, tmp_path):
    step = LabelErrors()  # min_per_class 10: 3 + 2 records are too few to check
    recs = [Record(f"a{i}", text=f"a {i}", label="a") for i in range(3)] + [Record(f"b{i}", text=f"b {i}", label="b") for i in range(2)]
    assert all(v.kept for v in run(step, recs).values())
    step.write_artifacts(tmp_path)
    summary = json.loads((tmp_path / "label_errors.json").read_text())
    assert summary["folds"] == 0 and summary["skipped_classes"] == {"a": 3, "b": 2}
    assert any("not checked" in w for w in summary["warnings"])
    assert (tmp_path / "label_issues.jsonl").read_text() == ""


def test_small_class_reduces_folds(dict_embedder):
    vectors, _ = dict_embedder
    records, flipped, vecs = planted()
    vectors.update(vecs)
    # A third class with 3 records (fewer than 5 folds) far from the others, and one with a single record.
    extra = []
    for i in range(3):
        t = f"rare {i}"
        vectors[t] = np.r_[0.0, 6.0, 0.5 * np.random.default_rng(i).normal(size=DIM - 2)]
        extra.append(Record(f"rare{i}", text=t, label="rare"))
    vectors["lonely"] = np.ones(DIM)
    extra.append(Record("lonely", text="lonely", label="one"))
    step = LabelErrors(min_per_class=2, features="embedding")
    verdicts = run(step, records + extra)
    assert step._summary["folds"] == 3 and step._summary["skipped_classes"] == {"one": 1}
    assert any("folds reduced from 5 to 3" in w for w in step._summary["warnings"])
    assert verdicts["lonely"].kept
    assert {i for i, v in verdicts.items() if not v.kept} == flipped


@pytest.mark.slow
@pytest.mark.real_embedder
def test_real_minilm_finds_obvious_flips():
    good = ["A wonderful, moving film with brilliant acting.", "I loved every minute, a delight.", "Superb story and great music."]
    bad = ["A dull, boring mess of a film.", "Terrible acting and an awful plot.", "I hated it, a waste of time."]
    texts, labels = [], []
    for k in range(8):
        for t in good:
            texts.append(f"{t} ({k})")
            labels.append("pos")
        for t in bad:
            texts.append(f"{t} ({k})")
            labels.append("neg")
    labels[0], labels[4] = "neg", "pos"  # two flips
    res = find_label_errors(texts, labels, folds=4, features="embedding")
    # On 48 short texts the probabilities are mild and cleanlab is conservative: what is flagged
    # must be a flip, and the two flips must be the two records the model believes least.
    assert res.issues.size and set(res.issues.tolist()) <= {0, 4}
    assert set(np.argsort(res.self_confidence)[:2].tolist()) == {0, 4}


# ---- the lexical featurizer (the default) and the selection options ---------------------------------------

POS_WORDS = "superb wonderful brilliant moving delightful charming gripping stunning masterful joyful".split()
NEG_WORDS = "dull boring awful tedious clumsy dreadful lifeless painful sloppy tiresome".split()


def lexical(seed: int = 0, n: int = 300, flips: int = 15) -> tuple[list[str], list[str], set[int]]:
    """Short reviews whose class shows in their words: a separable set where TF-IDF alone finds every flip."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        pos = i % 2 == 0
        words = list(rng.choice(POS_WORDS if pos else NEG_WORDS, 4)) + ["film", "acting", "plot", f"id{i}"]
        texts.append(" ".join(rng.permutation(words)))
        labels.append("pos" if pos else "neg")
    flipped = set(rng.choice(n, flips, replace=False).tolist())
    for i in flipped:
        labels[i] = "neg" if labels[i] == "pos" else "pos"
    return texts, labels, flipped


def test_tfidf_default_finds_exactly_the_planted_flips_without_an_embedder(no_embedder):
    texts, labels, flipped = lexical()
    res = find_label_errors(texts, labels, folds=5, seed=0)
    assert res.features == "tfidf" and set(res.issues.tolist()) == flipped
    assert res.analysed.all() and not np.isnan(res.self_confidence).any()  # a label quality for every record
    assert list(res.self_confidence[res.issues]) == sorted(res.self_confidence[res.issues])


def test_threshold_top_k_and_max_share_choose_the_lowest_label_quality(no_embedder):
    texts, labels, flipped = lexical()
    quality = find_label_errors(texts, labels).self_confidence
    order = list(np.argsort(quality, kind="stable"))
    top = find_label_errors(texts, labels, top_k=5)
    assert top.issues.tolist() == order[:5] and set(top.issues.tolist()) <= flipped
    cut = float(np.sort(quality)[len(flipped) - 1]) + 1e-9
    by_threshold = find_label_errors(texts, labels, threshold=cut)
    assert set(by_threshold.issues.tolist()) == set(order[: len(flipped)]) == flipped
    capped = find_label_errors(texts, labels, max_share=0.02)  # 2% of 300 = 6 of the 15 flips, the 6 lowest
    assert capped.issues.tolist() == order[:6]


def test_step_writes_label_quality_for_every_labelled_record(no_embedder, tmp_path):
    texts, labels, flipped = lexical(seed=2)
    recs = [Record(f"r{i}", text=t, label=lab) for i, (t, lab) in enumerate(zip(texts, labels))]
    step = LabelErrors(top_k=len(flipped))
    verdicts = run(step, recs)
    assert {i for i, v in verdicts.items() if not v.kept} == {f"r{i}" for i in flipped}
    assert all("label_quality" in r.meta["scores"] for r in recs)
    low = sorted(recs, key=lambda r: r.meta["scores"]["label_quality"])[: len(flipped)]
    assert {r.id for r in low} == {f"r{i}" for i in flipped}
    step.write_artifacts(tmp_path)
    assert json.loads((tmp_path / "label_errors.json").read_text())["method"] == "top_k"


def test_progress_is_reported_for_each_phase(no_embedder):
    from curatune.curation.filter.label_errors import Progress

    messages: list[str] = []
    texts, labels, _ = lexical()
    find_label_errors(texts, labels, progress=Progress(messages.append, every=0.0))
    assert any(m.startswith("TF-IDF features of 300 texts") for m in messages)
    assert any(m.startswith("folds trained: 5 of 5") for m in messages)
    assert any(m.startswith("confident learning") for m in messages)
