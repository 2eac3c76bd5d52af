"""A token memo answers what judging every token afresh answers, warm, cold, and when it forgets."""

from __future__ import annotations

import random

from curatune.curation.text.memo import TokenMemo, token_hits_reference


def _judge(token: str) -> str | None:
    # A pure function with falsy answers too: vowels count, and tokens without one are not hits.
    n = sum(c in "aeiou" for c in token)
    return f"{token}:{n}" if n else None


def test_memo_hits_equal_judging_every_token_afresh():
    rng = random.Random(3)
    vocabulary = ["".join(rng.choice("abcdefghiou") for _ in range(rng.randint(1, 5))) for _ in range(300)]
    for limit in (500_000, 50, 0):
        memo = TokenMemo(_judge, limit=limit)
        for _ in range(400):
            tokens = [rng.choice(vocabulary) for _ in range(rng.randint(0, 30))]
            want = sorted(token_hits_reference(_judge, tokens))
            assert sorted(memo.hits(tokens)) == want
            assert sorted(memo.hits(set(tokens))) == want
            assert sorted(memo.hits(tuple(tokens))) == want
            assert sorted(memo.hits(iter(tokens))) == want


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
