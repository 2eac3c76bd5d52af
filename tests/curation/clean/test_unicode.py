"""clean.unicode: mojibake repaired, invisible characters removed, legitimate text untouched."""

from __future__ import annotations

import pytest

from curatune.curation.record import Record
from curatune.curation.registry import build_step


def rec(answer: str, question: str = "Say something.") -> Record:
    return Record("t:1", messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}])


def apply(r: Record, **params):
    return build_step("clean.unicode", params).apply(r)


CLEAN = [
    "The quick brown fox jumps over the lazy dog.",
    "Ça va ? Très bien, merci. L’été à Paris est chaud — « vraiment ».",
    "Größe, Straße, naïve Façade; Müller’s Café öffnet um 8 Uhr.",
    "¿Dónde está la biblioteca? ¡Aquí!",
    "def f(x):\n\treturn x ** 2  # ¬a ∧ b ≤ c\n",
    "Family: 👨‍👩‍👧 and a thumbs up 👍🏽, keycap 1️⃣, flag 🇫🇷.",
    "Persian: می‌خواهم and Hindi: क्‍ष keep their joiners.",
    "Curly “quotes” and ‘apostrophes’ stay; so do ﬁ ligatures and ＡＢＣ full-width letters.",
    "Prices: £100, 100€, ¥500, and 5°C.",
    "Ελληνικά, русский, 日本語, 한국어, עברית, العربية",
    "Line one\r\nline two\ttabbed",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_unchanged(text):
    assert apply(rec(text)) is None


@pytest.mark.parametrize(
    ("bad", "good", "reason"),
    [
        ("The Mona Lisa doesnâ€™t have eyebrows.", "The Mona Lisa doesn’t have eyebrows.", "mojibake"),
        ("cafÃ© rÃ©sumÃ©", "café résumé", "mojibake"),
        ("Ã  bientÃ´t, l'Ã©tÃ©", "à bientôt, l'été", "mojibake"),
        ("It costs Â£100.", "It costs £100.", "mojibake"),
        ("zero\u200bwidth space", "zerowidth space", "zero_width"),
        ("\ufeffStarts with a BOM.", "Starts with a BOM.", "zero_width"),
        ("soft\u00adhyphen and a stray\u200djoiner", "softhyphen and a strayjoiner", "zero_width"),
        ("bell\x07 and null\x00 chars", "bell and null chars", "control_chars"),
        ("Marauder\x0b- Borg vessel", "Marauder\n- Borg vessel", "control_chars"),
        ("\x1b[31mred\x1b[0m text", "red text", "mojibake"),
        ("Cafe\u0301 au lait", "Café au lait", "unicode_normalized"),
    ],
)
def test_repairs(bad, good, reason):
    edit = apply(rec(bad))
    assert edit is not None
    assert edit.record.messages[1]["content"] == good
    assert edit.reason == reason
    assert edit.record.messages[0]["content"] == "Say something."


def test_idempotent():
    for bad in ("The Mona Lisa doesnâ€™t have eyebrows.\u200b\x07", "cafÃ© rÃ©sumÃ©", "Cafe\u0301"):
        once = apply(rec(bad)).record
        assert apply(once) is None


def test_detail_counts_what_changed():
    edit = apply(rec("doesnâ€™t and donâ€™t and canâ€™t\u200b", question="\ufeffHi\x07"))
    assert edit.reason == "mojibake"
    assert edit.detail == (
        "messages[0].content: 1 control chars removed, 1 zero-width chars removed; "
        "messages[1].content: 3 mojibake sequences fixed, 1 zero-width chars removed"
    )


def test_options_and_other_fields():
    assert apply(rec("Cafe\u0301"), normalization="none") is None
    assert apply(rec("cafÃ©"), fix_mojibake=False) is None
    edit = apply(Record("p:1", messages=[{"role": "user", "content": "q"}], chosen="cafÃ©", rejected="ok"))
    assert (edit.record.chosen, edit.record.rejected) == ("café", "ok")
    assert apply(Record("x:1", text="plain\u200b text")).record.text == "plain text"
