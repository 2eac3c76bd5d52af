"""The fast paths added for speed agree with the slow paths they skip."""

from __future__ import annotations

import pytest

from curatune.curation.clean.whitespace import Whitespace
from curatune.curation.filter._instruct_text import phrase_sections
from curatune.curation.filter._prose import ignorecase_view as _ignorecase_view
from curatune.curation.filter.answers import _any_refusal
from curatune.curation.filter.instructions import _alternation, _reference_lines, _reference_match

TEXTS = [
    "Plain answer.",
    "Trailing spaces   \nnext line",
    "a\r\nb\r\n",
    "one\n\n\n\ntwo",
    "```python\n    indented = True   \n```",
    "  leading",
    "tab\there",
    "",
    "x\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_whitespace_clean_already_means_nothing_to_fix(text):
    step = Whitespace()
    if step._clean_already(text):
        assert step.fix(text) == (text, [])


def test_combined_refusal_pattern_matches_every_listed_phrase():
    pattern = _any_refusal()
    phrases = [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]
    assert phrases
    missed = [p for p in phrases if not pattern.search(p)]
    assert missed == []


def test_reference_prefilter_reads_needed_literals_from_every_line():
    lines = _reference_lines()
    assert set(lines) == {"missing_referenced_input", "attachment_reference"}
    assert all(needs for patterns in lines.values() for _, needs in patterns), lines
    needs = dict(lines["attachment_reference"])[r"\b(link|url) (below|above)\b"]
    assert set(needs) == {frozenset({"link", "url"}), frozenset({"below", "above"})}


REFERENCE_TEXTS = [
    "Summarize the following text.",
    "Describe this image in detail.",
    "Describe THIS IMAGE in detail.",
    "Describe the attached file.",
    "Rewrite the given sentence in the passive voice.",
    "Rewrite a given sentence.",
    "Translate the paragraph below into French.",
    "Open the link above and summarise it.",
    "Explain what the map shows in this video.",
    "Explain this given graph and the following image.",
    "What is the capital of France?",
    "Write a story about a dragon.",
    "Analyse the data set given: 1, 2, 3.",
    "Classify the following sentences: I like it.",
    "Describe thı\u0307s ımage (see attachment)",
    "Summarise the \u017following text",
    "the following",
    "",
]


@pytest.mark.parametrize("text", REFERENCE_TEXTS)
@pytest.mark.parametrize("reason", ["missing_referenced_input", "attachment_reference"])
def test_reference_prefilter_finds_what_the_whole_alternation_finds(reason, text):
    every_line = _alternation(tuple(p for p, _ in _reference_lines()[reason]))
    want = every_line.search(text)
    got = _reference_match(reason, text, _ignorecase_view(text))
    assert (got and (got.span(), got.group())) == (want and (want.span(), want.group()))


# Texts whose tokens and words repeat, so that the second look at each goes through the memo.
MEMO_TEXTS = [
    "The rnodern w0rld is 1ike this: infor- mation, and th1s again.",
    "A clean sentence with ordinary words, names like Gorn, and v2.3 of /api/x.",
    "He wanted to kill time; she said kill the process, then murder mystery novels.",
    "The rnodern w0rld is 1ike this: infor- mation, and th1s again.",
    "kill yourself, he wrote; the rnodern 1ike w0rld.",
]


def test_ocr_memo_gives_what_a_fresh_scorer_gives(monkeypatch):
    from curatune.curation.filter import ocr

    warm = ocr._Scorer()
    for text in MEMO_TEXTS * 2:
        assert warm.score(text) == ocr._Scorer().score(text), text
    monkeypatch.setattr(warm._memo, "limit", 0)  # forgets before every text: the same answers
    for text in MEMO_TEXTS:
        assert warm.score(text) == ocr._Scorer().score(text), text
    assert warm.score(MEMO_TEXTS[0])[0] >= 3


def test_harmful_memo_gives_what_a_fresh_lexicon_gives(monkeypatch):
    from curatune.curation.filter import harmful

    def fresh(text):
        step = harmful.Harmful()
        step.setup()
        return step.category_scores(text)

    warm = harmful.Harmful()
    warm.setup()
    for text in MEMO_TEXTS * 2:
        assert warm.category_scores(text) == fresh(text), text
    monkeypatch.setattr(warm._lexicon._memo, "limit", 0)
    for text in MEMO_TEXTS:
        assert warm.category_scores(text) == fresh(text), text
    assert warm.category_scores(MEMO_TEXTS[4])


def test_repeated_ngram_fraction_never_exceeds_the_bound_that_skips_it():
    """gopher_repetition skips the n-gram count when (total - distinct words' chars) / total is within the limit."""
    import random
    from collections import Counter

    from curatune.curation.filter.quality import dup_ngram_char_fraction

    rng = random.Random(5)
    for vocab_size in (3, 8, 30, 200):
        vocab = ["".join(rng.choices("abcdefgh", k=rng.randint(1, 9))) for _ in range(vocab_size)]
        for _ in range(50):
            words = rng.choices(vocab, k=rng.randint(10, 120))
            if rng.random() < 0.5:  # a looping answer: one stretch copied several times
                words = words[:12] * rng.randint(2, 6) + words[12:]
            total = sum(map(len, words))
            bound = (total - sum(map(len, Counter(words)))) / total
            for n in range(1, 11):
                assert dup_ngram_char_fraction(words, n, total) <= bound + 1e-12


@pytest.mark.parametrize("text", ["word " * 300, "a" + " " * 500 + "b c d", "\n\n  x  \t" * 120, "short text", "y" * 450 + " z " * 10, ""])
def test_langid_prefix_collapse_equals_the_whole_collapse(text):
    from curatune.curation.filter._langid import MAX_CHARS, clean_for_langid

    clean_for_langid.cache_clear()
    expected = " ".join(text.split())[:MAX_CHARS]
    assert clean_for_langid(text) == (expected.lower() if expected.isupper() else expected)


@pytest.mark.parametrize(
    "text", ["The café's menu, and 42 dishes!", "naïve Ünïcode ☃ 中文 words", "KELVIN \u212a sign", "x\udcff y", "", "a-b_c d'e"]
)
def test_byte_letter_runs_equal_the_regex_words(text):
    # The language and harmful-content filters find words as bytes; the regex is what they replace.
    import re

    from curatune.curation.filter._prose import letter_run_list, letter_runs

    low = text.lower()
    assert [w.decode() for w in letter_run_list(low)] == re.findall(r"[a-z]+", low)
    assert {w.decode() for w in letter_runs(low)} == set(re.findall(r"[a-z]+", low))


def _random_texts(alphabet: str, n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(n)]


def test_repetition_words_as_bytes_equal_the_regex_words():
    # Apostrophes join words only between letters or digits; ’ stands for ' in a text holding one kind only.
    from curatune.curation.filter.quality import _WORD, _words

    texts = _random_texts("aé1'’ _-.A\n“”–…", 30_000) + ["don't 'quoted' rock'n'roll dogs' a''b", "It’s “fine” – really…", "naïve café"]
    for text in texts:
        one_kind = ("’" in text) != ("'" in text)

        def norm(ws):
            ws = [w.decode() if isinstance(w, bytes) else w for w in ws]
            return [w.replace("’", "'") for w in ws] if one_kind else ws

        assert norm(_words(text)) == norm(_WORD.findall(text.lower())), text


def test_instruction_word_keys_are_the_words_encoded():
    from curatune.curation.filter._instruct_text import word_keys, words

    for text in _random_texts("aZ1_' -.é\nİ’“”–…\u00a0", 20_000, seed=1) + ["Name three colours: red, green and blue.", "ÉCOLE d’été"]:
        assert [w.decode() for w in word_keys(text)] == words(text), text


def test_english_word_counts_in_one_pass_equal_the_two_set_counts():
    import random

    from curatune.curation.filter import _langid as L

    vocabulary = sorted(L._ENGLISH_ONLY_B | L._ENGLISH_TOO_B) + [b"river", b"docker", b"die", b"und"]
    rng = random.Random(0)
    for _ in range(2000):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(0, 60))]
        while len(b" ".join(words)) > L.MAX_CHARS:  # the span the check reads
            words.pop()
        only, too = sum(w in L._ENGLISH_ONLY_B for w in words), sum(w in L._ENGLISH_TOO_B for w in words)
        want = len(words) >= 8 and only >= 3 and only + too >= 4 and 4 * (only + too) >= len(words)
        L.surely_english.cache_clear()
        L.clean_for_langid.cache_clear()
        assert L.surely_english(" ".join(w.decode() for w in words)) == want


def test_langid_collapse_equals_split_and_join():
    from curatune.curation.filter._langid import _collapse

    for text in _random_texts("ab \t\n.é\u00a0\x0b", 30_000, seed=2) + [" one line ", "two  spaces", "tab\there", ""]:
        assert _collapse(text) == " ".join(text.split()), repr(text)
