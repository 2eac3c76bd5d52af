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
    code = "Use this:\n```python\nx1 = l0ad(f1le)\nprint(x1)\n```\nIt reads the file with utf8 and prints it. See https://docs.python.org/3/ for v3.12 notes."
    assert f.keep(chat(code)).action == "keep"
    table = "|Column 1|Column 2|\n|---|---|\n|Iron|Magnet|\n|Sleep|Movies|"
    assert f.keep(chat(table)).action == "keep"
    inline = "Call `rn0dern_1ike()` and `w0rld()` from the shell, then check the log for errors in the output."
    assert f.keep(chat(inline)).action == "keep"
