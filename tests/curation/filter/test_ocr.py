"""filter.ocr_noise: exact verdicts on planted OCR damage, and clean text, code, URLs, numbers and names left alone."""

from __future__ import annotations

import pytest

from curatune.curation.filter.ocr import OcrNoise, _Scorer
from curatune.curation.record import Record

CLEAN = (
    "Modern computers store information in memory and process it with a central processing unit. "
    "The operating system decides which program runs and when, and it keeps programs from reading "
    "each other's data. Most people never notice this work, but it happens many times every second."
)


def chat(answer: str) -> Record:
    return Record("r", messages=[{"role": "user", "content": "Explain computers."}, {"role": "assistant", "content": answer}])


@pytest.fixture(scope="module")
def scorer() -> _Scorer:
    return _Scorer()


@pytest.mark.parametrize(
    "tok",
    ["rnodern", "1ike", "w0rld", "th1s", "0ften", "Iike", "sornething", "frorn", "wbich", "tirner", "an•d", "da°y", "w^rd", "~^|", "¦code"],
)
def test_suspicious_tokens(scorer, tok):
    assert scorer.suspicious(tok)


@pytest.mark.parametrize(
    "tok",
    [
        "modern",
        "utf8",
        "mp3",
        "x86",
        "v1.2.3",
        "5th",
        "10km",
        "1990s",
        "H2O",
        "i7",
        "b2b",
        "k8s",
        "i18n",
        "COVID-19",
        "3D",
        "4G",
        "https://example.com/a1b2",
        "www.w3schools.com",
        "jane.doe@example.com",
        "Gorn",
        "Iowa",
        "Ireland",
        "corned",
        "«Bonjour»",
        "20°C",
        "3.14",
        "$1,200",
        "-",
    ],
)
def test_clean_tokens(scorer, tok):
    assert not scorer.suspicious(tok)


def test_broken_hyphenation(scorer):
    assert scorer.broken_hyphens("the infor- mation and the com-\nputer") == 2
    assert scorer.broken_hyphens("pre- and post-war, a to-do list, well-known") == 0


def test_verdicts():
    f = OcrNoise()
    f.setup()
    assert f.keep(chat(CLEAN)).action == "keep"
    noisy = CLEAN.replace("computers", "cornputers").replace("memory", "rnemory").replace("which", "wbich").replace("every", "cvery")
    v = f.keep(chat(noisy))
    n = len(noisy.split())
    assert (v.action, v.reason, v.value, v.threshold) == ("drop", "ocr_noise", round(4 / n, 4), 0.03)
    assert v.detail == f"messages[1].content; 4 of {n} tokens suspicious"
    # One odd token is not enough (min_suspicious=2).
    assert f.keep(chat(CLEAN.replace("memory", "rnemory"))).action == "keep"
    hyph = CLEAN.replace("information", "infor- mation").replace("operating", "oper- ating")
    assert f.keep(chat(hyph)).reason == "ocr_noise"


def test_code_tables_and_identifiers_are_clean():
    f = OcrNoise()
    f.setup()
    code = (
        "Use this:\n```python\nx1 = l0ad(f1le)\nprint(x1)\n```\n"
        "It reads the file with utf8 and prints it. See https://docs.python.org/3/ for v3.12 notes."
    )
    assert f.keep(chat(code)).action == "keep"
    table = "|Column 1|Column 2|\n|---|---|\n|Iron|Magnet|\n|Sleep|Movies|"
    assert f.keep(chat(table)).action == "keep"
    inline = "Call `rn0dern_1ike()` and `w0rld()` from the shell, then check the log for errors in the output."
    assert f.keep(chat(inline)).action == "keep"


def test_token_shortcuts_give_what_the_full_check_gives(scorer):
    # The memo judges tokens with _token_suspicious, which settles most tokens before calling suspicious.
    import random

    rng = random.Random(4)
    words = ["modern", "like", "world", "this", "often", "Iowa", "names", "computer", "which", "every"]
    damage = ["rn", "m", "1", "0", "5", "|", "I", "l", "c", "e", "•", "°", "~", "^", "¬", "«", "»", "`"]
    wrap = ["", "", "(", ")", ",", ".", '"', "“", "”", "'", "...", ":"]
    tokens = []
    for _ in range(20_000):
        w = rng.choice(words)
        if rng.random() < 0.6:
            i = rng.randint(0, len(w))
            w = w[:i] + rng.choice(damage) + w[i + rng.randint(0, 1) :]
        w = w.capitalize() if rng.random() < 0.2 else w.upper() if rng.random() < 0.05 else w
        tokens.append(rng.choice(wrap) + w + rng.choice(wrap))
    tokens += ["v2.3", "/api/x", "42", "10km", "5th", "x86", "https://a.io/x1", "a@b.io", "~^|", "", "I", "Iike,", "«Bonjour»"]
    assert sum(map(scorer.suspicious, tokens)) > 1000
    assert [scorer._token_suspicious(t) for t in tokens] == [scorer.suspicious(t) for t in tokens]
