"""Evaluation metrics on small hand-made cases with known values, and bootstrap intervals on seeded data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix

from curatune.errors import InputError
from curatune.evaluate import (
    bootstrap_ci,
    classification_metrics,
    exact_match,
    generation_metrics,
    normalize_answer,
    paired_bootstrap_diff,
    token_f1,
    wilson_interval,
)

# --- SQuAD-style exact match and token F1 ---


@pytest.mark.parametrize(
    ("text", "normalised"),
    [("The  Eiffel Tower!", "eiffel tower"), ("An apple, a day.", "apple day"), ("Theatre", "theatre"), ("  ", "")],
)
def test_normalize_answer(text, normalised):
    assert normalize_answer(text) == normalised


@pytest.mark.parametrize(
    ("prediction", "reference", "em", "f1"),
    [
        ("the Denver Broncos", "Denver Broncos", 1.0, 1.0),
        ("in Paris, France", "Paris", 0.0, 0.5),  # P = 1/3, R = 1: F1 = 2 * (1/3) / (4/3)
        ("Broncos won", "Denver Broncos", 0.0, 0.5),  # P = R = 1/2
        ("b b c", "b c c", 0.0, 2 / 3),  # overlap counts each token as often as both have it: b once, c once
        ("Denver", ["Denver Broncos", "denver"], 1.0, 1.0),  # best of several gold answers
        ("", "", 1.0, 1.0),  # SQuAD 2.0: no answer predicted for a question with none
        ("", "Paris", 0.0, 0.0),
        ("a the an", "", 1.0, 1.0),  # articles only normalise to nothing
    ],
)
def test_exact_match_and_token_f1_on_known_cases(prediction, reference, em, f1):
    assert exact_match(prediction, reference) == em
    assert token_f1(prediction, reference) == pytest.approx(f1)


# --- generation metrics ---


def test_identical_texts_score_full_marks():
    texts = ["the cat sat on the mat today", "a quick brown fox jumps over the lazy dog"]
    scores = generation_metrics(texts, texts)
    assert scores.bleu == pytest.approx(100.0)
    assert scores.chrf == pytest.approx(100.0)
    assert (scores.rouge1, scores.rouge2, scores.rougeL) == (1.0, 1.0, 1.0)
    assert (scores.exact_match, scores.token_f1) == (1.0, 1.0)
    assert scores.n == 2 and "tok:13a" in scores.signatures["bleu"]


def test_disjoint_texts_score_zero():
    scores = generation_metrics(["abc def", "ghi"], ["xyz uvw", "klm"])
    assert scores.chrf == pytest.approx(0.0, abs=1e-9)
    assert scores.bleu == pytest.approx(0.0, abs=1e-9)
    assert np.allclose(scores.per_example["chrf"], 0.0)
    assert scores.rougeL == 0.0 and scores.token_f1 == 0.0


def test_rouge_on_a_known_pair():
    # LCS "police the gunman": 3 of 4 tokens each side; one bigram of three shared ("the gunman").
    scores = generation_metrics(["police kill the gunman"], ["police killed the gunman"])
    assert scores.rougeL == pytest.approx(0.75)
    assert scores.rouge1 == pytest.approx(0.75)
    assert scores.rouge2 == pytest.approx(1 / 3)
    stemmed = generation_metrics(["police kill the gunman"], ["police killed the gunman"], rouge_stemmer=True)
    assert stemmed.rougeL == pytest.approx(1.0)  # Porter: killed -> kill


def test_per_example_values_are_aligned_and_average_to_the_corpus_scores():
    predictions = ["Paris", "in Paris, France", "Berlin"]
    references = ["Paris", "Paris", ["Bonn", "Berlin"]]
    scores = generation_metrics(predictions, references)
    assert scores.per_example["exact_match"].tolist() == [1.0, 0.0, 1.0]
    assert scores.per_example["token_f1"].tolist() == pytest.approx([1.0, 0.5, 1.0])
    for name in ("exact_match", "token_f1", "rouge1", "rouge2", "rougeL"):
        assert getattr(scores, name) == pytest.approx(scores.per_example[name].mean())
    assert set(scores.as_dict(per_example=True)["per_example"]) == {"exact_match", "token_f1", "chrf", "rouge1", "rouge2", "rougeL"}


def test_rouge_warns_when_references_have_no_tokens_and_takes_a_tokenizer():
    class Words:
        def tokenize(self, text):
            return text.lower().split()

    with pytest.warns(UserWarning, match="1 of 1 references have no ROUGE tokens"):
        assert generation_metrics(["кошка сидит"], ["кошка сидит"]).rougeL == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert generation_metrics(["кошка сидит"], ["кошка сидит"], rouge_tokenizer=Words()).rougeL == 1.0


def test_generation_inputs_that_do_not_pair_up_are_errors():
    with pytest.raises(InputError, match="2 predictions and 1 references"):
        generation_metrics(["a", "b"], ["a"])
    with pytest.raises(InputError, match=r"references\[1\] is \[\]"):
        generation_metrics(["a", "b"], ["a", []])
    with pytest.raises(InputError, match="empty"):
        generation_metrics([], [])


# --- classification ---

TRUE = ["cat", "dog", "cat", "bird", "dog", "cat"]
PRED = ["cat", "cat", "cat", "dog", "dog", "fish"]  # "fish" only predicted, "bird" never predicted


def test_classification_matches_sklearn_report():
    scores = classification_metrics(PRED, TRUE)
    report = classification_report(TRUE, PRED, output_dict=True, zero_division=0)
    assert scores.labels == ["bird", "cat", "dog", "fish"]
    assert scores.accuracy == pytest.approx(report["accuracy"]) == pytest.approx(3 / 6)
    for label in scores.labels:
        mine, theirs = scores.per_class[label], report[label]
        assert (mine.precision, mine.recall, mine.f1) == pytest.approx((theirs["precision"], theirs["recall"], theirs["f1-score"]))
        assert mine.support == theirs["support"]
    macro = report["macro avg"]
    assert (scores.macro_precision, scores.macro_recall, scores.macro_f1) == pytest.approx(
        (macro["precision"], macro["recall"], macro["f1-score"])
    )
    assert scores.per_class["fish"].support == 0 and scores.per_class["fish"].f1 == 0.0
    assert scores.per_example["correct"].tolist() == [1, 0, 1, 0, 1, 0]


def test_confusion_matrix_exact_and_in_the_given_label_order():
    scores = classification_metrics(PRED, TRUE)
    # rows: reference bird, cat, dog, fish; columns: predicted, same order
    expected = [[0, 0, 1, 0], [0, 2, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert scores.confusion.tolist() == expected
    assert expected == confusion_matrix(TRUE, PRED, labels=scores.labels).tolist()
    ordered = classification_metrics(PRED, TRUE, labels=["dog", "cat", "bird"])
    assert ordered.labels == ["dog", "cat", "bird", "fish"]  # labels seen but not listed come after, not dropped
    assert ordered.confusion.tolist() == confusion_matrix(TRUE, PRED, labels=ordered.labels).tolist()
    assert ordered.as_dict()["per_class"]["cat"]["support"] == 3


def test_classification_errors():
    with pytest.raises(InputError, match="2 predictions and 1 references"):
        classification_metrics(["a", "b"], ["a"])
    with pytest.raises(InputError, match="more than once"):
        classification_metrics(["a"], ["a"], labels=["a", "a"])


# --- intervals ---


def test_bootstrap_ci_contains_the_true_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(2.0, 1.0, 200), rng.normal(2.0, 1.0, 5000)
    ci_small, ci_large = bootstrap_ci(small, seed=0), bootstrap_ci(large, seed=0)
    for ci, values in ((ci_small, small), (ci_large, large)):
        assert ci.low < 2.0 < ci.high
        assert ci.estimate == pytest.approx(values.mean())
        assert ci.low < ci.estimate < ci.high
    assert ci_large.high - ci_large.low < (ci_small.high - ci_small.low) / 3  # width ~ 1/sqrt(n): 5x narrower
    assert bootstrap_ci(small, seed=0) == ci_small  # seeded: the same interval every time
    assert bootstrap_ci(small, stat=np.median, confidence=0.9).estimate == pytest.approx(np.median(small))


def test_bootstrap_ci_in_chunks_of_resamples(monkeypatch):
    import curatune.evaluate.metrics as metrics

    monkeypatch.setattr(metrics, "_MAX_CELLS", 1000)  # 5 resamples of 200 per chunk
    ci = bootstrap_ci(np.arange(200.0), n_resamples=101)
    assert ci.n_resamples == 101 and ci.low < 99.5 < ci.high


def test_paired_bootstrap_finds_a_planted_difference_that_separate_intervals_miss():
    rng = np.random.default_rng(2)
    a = rng.normal(0.6, 0.2, 400)
    b = a + 0.03 + rng.normal(0.0, 0.05, 400)  # b better by 0.03 on every example, give or take
    ci_a, ci_b = bootstrap_ci(a), bootstrap_ci(b)
    assert ci_b.low < ci_a.high  # the separate intervals overlap
    paired = paired_bootstrap_diff(a, b)
    assert paired.difference == pytest.approx(b.mean() - a.mean())
    assert 0 < paired.low < 0.03 < paired.high
    assert paired.b_better_fraction == 1.0
    reverse = paired_bootstrap_diff(b, a)
    assert reverse.high < 0 and reverse.b_better_fraction == 0.0


def test_paired_bootstrap_finds_nothing_where_nothing_was_planted():
    rng = np.random.default_rng(3)
    a = rng.normal(0.6, 0.2, 400)
    b = a + rng.normal(0.0, 0.05, 400)
    paired = paired_bootstrap_diff(a, b)
    assert paired.low < 0 < paired.high
    assert 0.05 < paired.b_better_fraction < 0.95


def test_bootstrap_input_errors():
    with pytest.raises(InputError, match="same examples"):
        paired_bootstrap_diff([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(InputError, match=r"positions \[1\]"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=95)


def test_wilson_interval_known_values():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)  # not (0, 0), as the normal approximation says
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    half = wilson_interval(7.5, 10)  # a tie counts as half a win
    assert wilson_interval(7, 10)[0] < half[0] < wilson_interval(8, 10)[0]
    assert wilson_interval(0, 0) == (0.0, 1.0)
