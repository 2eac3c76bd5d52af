"""The ftfy shortcut never skips a text that ftfy (clean.unicode's configuration) would change."""

from __future__ import annotations

import ftfy
import pytest

from curatune.curation.clean.unicode import _FTFY
from curatune.curation.text import mojibake as m
from curatune.curation.text.mojibake import ftfy_changes_reference, ftfy_may_change

# Texts where ftfy changes something, each kind of trigger the shortcut must see, and texts it must pass.
FTFY_TEXTS = [
    "doesnâ€™t work",
    "I donâ\x80\x99t know",
    "control \x85 and \x9c here",
    "a lone surrogate \ud83d here",
    "an escape \x1b[31mred\x1b[0m",
    "line one\nÃ  la carte",
    "Â first line",
    "I’m fine – “quoted” «guillemets» 20°C",
    "café naïve résumé",
    "emoji 👨\u200d👩\u200d👧 and ✓",
    "plain ASCII",
    "ÃƒÂ©tÃƒÂ© double",
]


@pytest.mark.parametrize("text", FTFY_TEXTS)
def test_ftfy_shortcut_never_skips_a_change(text):
    m._WINDOW_MEMO.clear()
    fixed = ftfy.fix_text(text, _FTFY)
    if not m.ftfy_may_change(text):
        assert fixed == text
    if fixed != text:
        assert m.ftfy_may_change(text)


def test_ftfy_shortcut_on_generated_mojibake(texts, generate):
    # UTF-8 read as Windows-1252 and Latin-1, mixed with clean accents, controls and line starts.
    made = generate("aé’ÃÂâ€™\x80\x99\x85 \n.", 6000, seed=5, max_len=16)
    made += [t.encode("utf-8").decode("cp1252", "replace") for t in ("café", "naïve", "I’m", "“hi”", "€5")]
    changed = 0
    for warm in (False, True):  # a cold memo, then the same texts through the warm one
        if not warm:
            m._WINDOW_MEMO.clear()
        for text in texts + made:
            if ftfy_changes_reference(text, _FTFY):
                changed += 1
                assert ftfy_may_change(text), repr(text)
    assert changed > 100  # the generated texts do hold mojibake
