"""Byte-table word scanners, prose punctuation, folding and words equal their regex references."""

from __future__ import annotations

import random
import re

import pytest

from curatune.curation.text.words import (
    cannot_hold_repetition_words,
    cannot_hold_words,
    fold,
    fold_reference,
    letter_run_list,
    letter_run_list_reference,
    letter_runs,
    lower_letter_runs,
    punct_to_spaces,
    punct_to_spaces_reference,
    repetition_words,
    repetition_words_reference,
    word_bytes_table,
    word_keys,
    word_keys_reference,
    word_runs_reference,
    words,
    words_reference,
)


def _random_texts(alphabet: str, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(n)]


@pytest.mark.parametrize(
    ("keep", "lower"),
    [
        ("abcdefghijklmnopqrstuvwxyz", False),
        ("abcdefghijklmnopqrstuvwxyz0123456789'", True),
        ("abcdefghijklmnopqrstuvwxyz0123456789_", True),
    ],
)
def test_word_bytes_table_runs_equal_the_regex_runs(texts, keep, lower):
    table = word_bytes_table(keep, lower)
    for text in texts:
        got = [w.decode() for w in text.encode("utf-8", "surrogatepass").translate(table).split()]
        assert got == word_runs_reference(text, keep, lower), repr(text)


@pytest.mark.parametrize(
    "text", ["The café's menu, and 42 dishes!", "naïve Ünïcode ☃ 中文 words", "KELVIN \u212a sign", "x\udcff y", "", "a-b_c d'e"]
)
def test_byte_letter_runs_equal_the_regex_words(text):
    # The language and harmful-content filters find words as bytes; the regex is what they replace.
    low = text.lower()
    assert [w.decode() for w in letter_run_list(low)] == re.findall(r"[a-z]+", low)
    assert {w.decode() for w in letter_runs(low)} == set(re.findall(r"[a-z]+", low))


def test_letter_runs_equal_the_reference_on_generated_texts(texts):
    for text in texts:
        for t in (text, text.lower()):
            want = letter_run_list_reference(t)
            assert [w.decode("utf-8", "surrogatepass") for w in letter_run_list(t)] == want, repr(t)
            assert {w.decode("utf-8", "surrogatepass") for w in letter_runs(t)} == set(want), repr(t)


def test_lower_letter_runs_equal_the_runs_of_the_lower_cased_text(texts):
    # For ASCII text and text whose only non-ASCII is prose punctuation (what filter.harmful uses it on); on any
    # text, the runs of A-Z read as a-z.
    for text in texts:
        want = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
        assert {w.decode() for w in lower_letter_runs(text)} == want, repr(text)
        if text.isascii() or punct_to_spaces(text).isascii():
            assert lower_letter_runs(text) == letter_runs(text.lower()), repr(text)


@pytest.mark.parametrize("keep", ["", "’", "’“"])
def test_punct_to_spaces_equals_the_per_character_replacement(texts, keep):
    for text in texts:
        assert punct_to_spaces(text, keep) == punct_to_spaces_reference(text, keep), repr(text)


def test_fold_equals_nfkc_quotes_lower_and_one_space(texts):
    for text in texts:
        assert fold(text) == fold_reference(text), repr(text)


def test_words_equal_the_words_of_the_folded_text(texts):
    for text in texts:
        assert words(text) == words_reference(text), repr(text)


def test_instruction_word_keys_are_the_words_encoded():
    for text in _random_texts("aZ1_' -.é\nİ’“”–…\u00a0", 20_000, seed=1) + ["Name three colours: red, green and blue.", "ÉCOLE d’été"]:
        assert [w.decode() for w in word_keys(text)] == words(text), text


def test_word_keys_equal_the_reference(texts):
    for text in texts:
        assert word_keys(text) == word_keys_reference(text), repr(text)


def test_repetition_words_as_bytes_equal_the_regex_words():
    # Apostrophes join words only between letters or digits; ’ stands for ' in a text holding one kind only.
    texts = _random_texts("aé1'’ _-.A\n“”–…", 30_000) + ["don't 'quoted' rock'n'roll dogs' a''b", "It’s “fine” – really…", "naïve café"]
    for text in texts:
        one_kind = ("’" in text) != ("'" in text)

        def norm(ws, one_kind=one_kind):
            ws = [w.decode() if isinstance(w, bytes) else w for w in ws]
            return [w.replace("’", "'") for w in ws] if one_kind else ws

        assert norm(repetition_words(text)) == norm(repetition_words_reference(text)), text


def test_short_texts_hold_fewer_words_than_the_bound_says(texts):
    for text in texts:
        for n in range(0, 9):
            if cannot_hold_words(text, n):
                assert len(text.split()) < n, (text, n)
            if cannot_hold_repetition_words(text, n):
                assert len(repetition_words_reference(text)) < n, (text, n)
