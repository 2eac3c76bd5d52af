"""Exact verdicts of the Gopher, C4 and FineWeb rules on hand-written answers, and the answers they must leave alone."""

from __future__ import annotations

import pytest

from curatune.curation.filter.c4 import C4Quality
from curatune.curation.filter.fineweb import FineWebQuality
from curatune.curation.filter.gopher_quality import GopherQuality
from curatune.curation.filter.gopher_repetition import GopherRepetition
from curatune.curation.record import Record
from curatune.curation.text.ngrams import dup_ngram_char_fraction, top_ngram_char_fraction

PROSE = (
    "The water cycle describes how water moves between the oceans, the air and the land. Heat from the sun "
    "evaporates water from the surface of the sea, and the vapour rises until it cools and condenses into clouds. "
    "When the droplets in a cloud grow heavy enough they fall as rain or snow, which feeds rivers, lakes and "
    "ground water that flow back to the sea over days or centuries."
)


def chat(answer: str, prompt: str = "Explain this.") -> Record:
    return Record("r", messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])


def verdict(step, rec):
    if hasattr(step, "setup"):
        step.setup()
    v = step.keep(rec)
    return (v.action, v.reason)


# ---- Gopher quality ---------------------------------------------------------------------


def test_gopher_keeps_clean_prose_short_answers_lists_and_code():
    g = GopherQuality()
    assert verdict(g, chat(PROSE)) == ("keep", None)
    assert verdict(g, chat("Paris.")) == ("keep", None)
    names = "\n".join(f"- {n} {n}son" for n in ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi"] * 4)
    assert verdict(g, chat(names)) == ("keep", None)
    table = "\n".join(f"{i} | Name{i} | Engineer" for i in range(30))
    assert verdict(g, chat(table)) == ("keep", None)
    code = "```python\n" + "\n".join(f"x{i} = [i ** 2 for i in range({i})]  # {i}" for i in range(30)) + "\n```"
    assert verdict(g, chat(code)) == ("keep", None)
    presidents = ", ".join(["George Washington", "John Adams", "Thomas Jefferson", "James Madison"] * 10)
    assert verdict(g, chat(presidents)) == ("keep", None)


def test_gopher_symbol_ratio_and_hashtags_for_tweets():
    spam = PROSE + " " + " ".join(f"#tag{i}" for i in range(12))
    g = GopherQuality()
    v = (g.setup(), g.keep(chat(spam)))[1]
    assert (v.action, v.reason, v.threshold) == ("drop", "gopher_symbol_ratio", 0.1)
    assert v.value == round(12 / len(spam.split()), 4)
    assert verdict(g, chat(spam, prompt="Write a tweet about rain with hashtags.")) == ("keep", None)


def test_gopher_ellipsis_lines():
    text = "\n".join([PROSE[:120] + "..."] * 2 + [PROSE[120:240] + "..."] + [PROSE[240:]])
    assert verdict(GopherQuality(), chat(text)) == ("drop", "gopher_ellipsis_lines")


def test_gopher_stopwords_on_keyword_soup():
    soup = " ".join(["cheap", "watches", "replica", "luxury", "discount", "brand", "sale", "online", "free", "shipping"] * 7)
    g = GopherQuality()
    g.setup()
    v = g.keep(chat(soup))
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "gopher_stopwords", 0, 2)


def test_gopher_mean_word_length_and_alpha_words():
    long_words = " ".join(["internationalisation", "the", "characteristically", "of", "incomprehensibilities"] * 12)
    assert verdict(GopherQuality(), chat(long_words)) == ("drop", "gopher_mean_word_length")
    junk = " ".join(["the", "of", "~~", "@@", "&&", "§§", "¤¤"] * 10)
    assert verdict(GopherQuality(), chat(junk)) == ("drop", "gopher_alpha_words")
    maths = "We add them: " + " ".join(f"{i} + {i} = {2 * i}," for i in range(20)) + " and that is the answer to the sum of the two."
    assert verdict(GopherQuality(), chat(maths)) == ("keep", None)


def test_gopher_bullet_rule_is_off_by_default_and_works_when_on():
    bullets = "\n".join(f"- item number {i} of the long list that goes on and on" for i in range(12))
    assert verdict(GopherQuality(), chat(bullets)) == ("keep", None)
    assert verdict(GopherQuality(max_bullet_lines_ratio=0.9), chat(bullets)) == ("drop", "gopher_bullet_lines")


# ---- Gopher repetition ------------------------------------------------------------------


def test_repetition_catches_loops_and_keeps_parallel_lists_and_songs():
    r = GopherRepetition()
    assert verdict(r, chat(PROSE)) == ("keep", None)
    loop = " ".join(["I am not able to answer that question right now."] * 8)
    v = r.keep(chat(loop))
    assert (v.action, v.reason, v.threshold) == ("drop", "gopher_repetition_dup_ngram", 0.6)
    assert v.detail.endswith("n=5")
    spam = PROSE + " " + " ".join(["buy now"] * 40)
    v = r.keep(chat(spam))
    assert (v.action, v.reason, v.threshold, v.detail) == ("drop", "gopher_repetition_top_ngram", 0.3, "messages[1].content; n=2")
    lines = "\n".join(["The answer is in the book."] * 4 + ["It was written long ago.", "Read it."])
    assert verdict(r, chat(lines)) == ("drop", "gopher_repetition_dup_lines")
    questions = (  # parallel, as list answers are (shape of an Alpaca answer)
        "1. How does the stock market work?\n2. What are the key factors that move the stock market?\n"
        "3. What are the risks associated with investing in the stock market?\n4. When is the best time to invest in the stock market?\n"
        "5. What are the various types of investments available in the stock market?\n6. Who regulates the trading of shares?"
    )
    assert verdict(r, chat(questions)) == ("keep", None)
    chorus = "Chorus:\nOh the rain falls down on me\nAnd I sing along\n\n"
    song = (
        "Verse 1:\nWalking in the morning light\nEverything feels new\n\n"
        + chorus
        + "Verse 2:\nWalking in the evening\nThe stars come through\n\n"
        + chorus
        + chorus
    )
    assert verdict(r, chat(song, prompt="Write a song about rain")) == ("keep", None)


def test_ngram_fractions_exact():
    words = "a b a b a b".split()
    # "a b" occurs 3 times: (1 + 1 + 1 space) * 3 / 11 characters
    assert top_ngram_char_fraction(words, 2, len("a b a b a b")) == pytest.approx(9 / 11)
    words = "one two three four five one two three four five".split()
    assert dup_ngram_char_fraction(words, 5, sum(map(len, words))) == pytest.approx(0.5)
    assert dup_ngram_char_fraction("no repeats in this short text at all".split(), 5, 29) == 0.0


# ---- C4 -------------------------------------------------------------------------------------


def test_c4_rules():
    c = C4Quality()
    v = c.keep(chat("Lorem ipsum dolor sit amet, consectetur adipiscing elit."))
    assert (v.action, v.reason, v.detail) == ("drop", "c4_lorem_ipsum", "messages[1].content")
    assert verdict(c, chat("Please enable JavaScript in your browser to view this page.")) == ("drop", "c4_javascript")
    assert verdict(c, chat("JavaScript is a language for the web; use const for constants.")) == ("keep", None)
    assert verdict(c, chat("Dear {name}, your order {id} has shipped.")) == ("keep", None)
    assert verdict(C4Quality(curly_bracket=True), chat(PROSE + " Dear {name}, thank you.")) == ("drop", "c4_curly_bracket")
    assert verdict(C4Quality(curly_bracket=True), chat('```json\n{"a": 1}\n```')) == ("keep", None)


# ---- FineWeb --------------------------------------------------------------------------------


def test_fineweb_line_punctuation_on_menu_text_not_lists_or_poems():
    menu = "\n".join(f"Home page of the site and all the links for section {i} here" for i in range(8))
    f = FineWebQuality()
    v = f.keep(chat(menu))
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "fineweb_line_punctuation", 0.0, 0.12)
    films = "\n".join(["Dear White People", "Selma", "Creed", "Creed II", "Thor: Ragnarok", "Passing", "Annihilation"])
    assert verdict(f, chat(films)) == ("keep", None)
    kv = "\n".join(f"Item {i}: Fast Food Restaurant" for i in range(8))
    assert verdict(f, chat(kv)) == ("keep", None)
    poem = "\n".join(["The sun slips away setting the sky ablaze"] + [f"The colours ignite and fade to line {i} of blue" for i in range(8)])
    assert verdict(f, chat(poem, prompt="Write a poem about a sunset")) == ("keep", None)
    assert verdict(f, chat(PROSE)) == ("keep", None)


@pytest.mark.parametrize("step", [GopherQuality(), GopherRepetition(), C4Quality(), FineWebQuality()])
def test_every_kind_of_record(step):
    recs = [
        Record("t", text=PROSE),
        Record("l", text=PROSE, label="pos"),
        Record("p", messages=[{"role": "user", "content": "Q?"}], chosen=PROSE, rejected="no"),
        Record("e", messages=[{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]),
    ]
    assert [verdict(step, r) for r in recs] == [("keep", None)] * 4
