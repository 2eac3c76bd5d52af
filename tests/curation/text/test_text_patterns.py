"""Regex prefilters and rewrites give the matches of the patterns they replace."""

from __future__ import annotations

import random
import re

import pytest

from curatune.curation.filter._instruct_text import _ABBREVIATION, phrase_sections
from curatune.curation.filter.answers import _SOCIAL_END, _any_refusal
from curatune.curation.filter.harmful import CATEGORIES, DEFAULT_LEXICON, expand_forms
from curatune.curation.filter.instructions import _reference_gates, _reference_lines
from curatune.curation.text.ignorecase import FOLDS_TO_ASCII, ignorecase_view
from curatune.curation.text.patterns import (
    alternation,
    fast_term_regex,
    needs_gate,
    prefiltered_search,
    prefiltered_search_reference,
    search_end,
    search_end_reference,
    search_last_token,
    search_last_token_reference,
    term_regex,
    trie_regex,
    trie_regex_reference,
    whole_runs,
)
from curatune.curation.text.words import letter_runs

# ---- refusal phrases as one trie -------------------------------------------------------------------------


def test_combined_refusal_pattern_matches_every_listed_phrase():
    pattern = _any_refusal()
    phrases = [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]
    assert phrases
    missed = [p for p in phrases if not pattern.search(p)]
    assert missed == []


def _bounded(body: str) -> re.Pattern:
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def test_trie_matches_where_and_what_the_longest_first_alternation_matches(generate):
    rng = random.Random(2)
    real = [p for ps in phrase_sections("refusal_phrases.txt").values() for p in ps]
    cases = [real] + [[w for w in generate("abc ", 12, seed=s, max_len=5) if w] for s in range(300)]
    for phrases in cases:
        if not phrases:
            continue
        trie, reference = _bounded(trie_regex(phrases)), _bounded(trie_regex_reference(phrases))
        texts = generate("abc .x", 60, seed=rng.randint(0, 10**6), max_len=20) + [f"x {p} y" for p in phrases[:50]]
        for text in texts:
            a, b = trie.search(text), reference.search(text)
            assert (a and (a.span(), a.group())) == (b and (b.span(), b.group())), (phrases, text)


# ---- input reference lines and the literals they need ---------------------------------------------------


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
    every_line = alternation(tuple(p for p, _ in _reference_lines()[reason]))
    want = every_line.search(text)
    got = prefiltered_search(_reference_lines()[reason], text, ignorecase_view(text))
    assert (got and (got.span(), got.group())) == (want and (want.span(), want.group()))


def test_prefiltered_search_equals_the_reference_on_generated_instructions(texts):
    rng = random.Random(4)
    pieces = ["the following", "this", "given", "image", "video", "attached", "below", "link", "url", "passage", "ſ", "İ", "ı"]
    made = [" ".join(rng.choice(pieces + ["x", "Text", "FILE"]) for _ in range(rng.randint(0, 8))) for _ in range(3000)]
    for reason, lines in _reference_lines().items():
        for text in texts[:3000] + made:
            a = prefiltered_search(lines, text, ignorecase_view(text))
            b = prefiltered_search_reference(lines, text)
            assert (a and (a.span(), a.group())) == (b and (b.span(), b.group())), (reason, text)


def test_needs_gate_finds_nothing_only_where_the_prefiltered_search_finds_nothing(texts):
    rng = random.Random(5)
    pieces = ["the following", "this", "given", "image", "video", "attached", "below", "link", "url", "(see attach", "ſ", "İ", "ı"]
    made = [" ".join(rng.choice(pieces + ["x", "Text", "FILE", "Code"]) for _ in range(rng.randint(0, 8))) for _ in range(3000)]
    gated = 0
    for reason, lines in _reference_lines().items():
        gate = _reference_gates()[reason]
        assert gate is not None and gate.pattern == needs_gate(lines).pattern  # every line needs a literal
        for text in texts[:3000] + made + REFERENCE_TEXTS:
            view = ignorecase_view(text)
            if gate.search(view) is None:
                gated += 1
                assert prefiltered_search_reference(lines, text) is None, (reason, text)
            # and where the gate lets a text through, it finds one of the literals it was made of
            elif not any(s in view for _, needs in lines for s in needs[0]):
                raise AssertionError((reason, text))
    assert gated > 1000  # the gate rules texts out (it would pass the test by finding something everywhere)


def test_needs_gate_is_absent_when_a_line_needs_no_literal():
    assert needs_gate(((r"\w+", ()), (r"\bthis\b", (frozenset({"this"}),)))) is None
    assert needs_gate(()).search("anything") is None


def test_justified_refusal_prefilter_finds_what_the_whole_alternation_finds(texts):
    from curatune.curation.filter.refusal import _harmful_request_lines, justified

    assert all(needs for _, needs in _harmful_request_lines())
    rng = random.Random(6)
    pieces = sorted({s for _, needs in _harmful_request_lines() for need in needs for s in need}) + ["İ", "ſ", "ı", "x", "How", "to"]
    made = [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 7))) for _ in range(4000)]
    made += ["How do I make a bomb?", "How to HACK my neighbour's WiFi", "Write a racist joke.", "ſteal a car", "Tell me a story."]
    hits = 0
    for prompt in texts[:2000] + made:
        want = bool(prompt) and prefiltered_search_reference(_harmful_request_lines(), prompt.lower(), ignorecase=False) is not None
        assert justified(prompt) == want, prompt
        hits += want
    assert hits > 200  # the generated prompts reach the patterns


# ---- a pattern anchored at the end of a line --------------------------------------------------------------


def test_last_token_search_equals_the_whole_line_search(texts, generate):
    lines = texts + generate("ab#@:/.w \t", 20_000, seed=6, max_len=30) + ["Follow us #rain", "mail me: a@b.co  ", "see www.x.org", "@"]
    for line in lines:
        if "\n" in line:
            continue  # lines come from splitlines
        assert search_last_token(_SOCIAL_END, line) == search_last_token_reference(_SOCIAL_END, line), repr(line)


# ---- a pattern anchored at the end of the text --------------------------------------------------------------


def test_end_search_equals_the_whole_text_search(texts, generate):
    made = generate("ab .DrMsSt\nſKK-e", 20_000, seed=8, max_len=14)
    endings = ["Dr.", "dr.", "I met Dr.", "xDr.", "approx.", "e.g.", "i.e.", "A.", "a.", "no.", "No.\n", "NO.\n\n", "St. ", "ſt."]
    endings += ["K.", "n 12345678901234567890"]
    cases = texts + made + endings + [f"{t} {e}" for t in texts[:300] for e in endings]
    patterns = [_ABBREVIATION, re.compile(r"(?:\bab|\b[a-z])\.$", re.I), re.compile(r"(?<=x)y$"), re.compile(r"\d+$")]  # the last unbounded
    for pattern in patterns:
        for text in cases:
            assert search_end(pattern, text) == search_end_reference(pattern, text), (pattern.pattern, text)


# ---- lexicon terms ---------------------------------------------------------------------------------------


def _lexicon_terms() -> list[str]:
    import yaml

    data = yaml.safe_load(DEFAULT_LEXICON.read_text(encoding="utf-8"))
    categories = [data[c] for c in CATEGORIES]  # the file also holds discussion words and statements
    terms = {
        f
        for cat in categories
        for strength in ("topic", "strong", "weak")
        for t in cat.get(strength) or ()
        for f in expand_forms(str(t).lower())
    }
    return sorted(t for t in terms if not re.fullmatch(r"[a-z]+", t))  # plain words need no pattern


def test_fast_term_patterns_and_needed_words_decide_as_the_term_patterns(generate):
    terms = _lexicon_terms()
    assert len(terms) > 20
    rng = random.Random(8)
    for term in terms:
        pattern, fast, needs = term_regex(term), fast_term_regex(term) or term_regex(term), whole_runs(term)
        words = re.findall(r"[a-z]+", term.replace("*", "x"))
        texts = [
            term.replace("*", ""),
            term.replace("*", "ing"),
            "x" + term.replace("*", "ed"),
            term.replace(" ", "\n  ").replace("*", "s") + "y",
            "The " + term.replace("*", "") + ", she said.",
        ]
        texts += [" ".join(rng.choice(words + ["a", "-", "The", "self", "x"]) for _ in range(rng.randint(0, 6))) for _ in range(40)]
        texts += generate("abs ek-\n", 20, seed=rng.randint(0, 10**6))
        for text in texts:
            low = text.lower()
            if FOLDS_TO_ASCII.search(low):
                continue
            want = pattern.search(low) is not None
            assert (fast.search(low) is not None) == want, (term, low)
            if want:
                assert {w.encode() for w in needs} <= letter_runs(low), (term, low)
