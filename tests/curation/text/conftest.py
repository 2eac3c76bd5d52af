"""Generated strings for the kernel equivalence tests: seeded, so that a failure names a string that can be rerun."""

from __future__ import annotations

import random

import pytest

# Texts every kernel must agree on: empty, blank, punctuation only, prose punctuation, accents, the characters
# that case-fold to ASCII letters (İ ı ſ and the Kelvin sign), U+0307, emoji, CJK, a lone surrogate, controls.
EDGE_TEXTS = [
    "",
    " ",
    "\n\n",
    "...",
    "!!! ??? ,,, ;;; :::",
    "a",
    "Plain ASCII prose, with commas; and a full stop.",
    "It’s “fine” – really… «oui» 20°C\u00a0ok • item",
    "naïve café résumé façade",
    "KELVIN \u212a sign, İstanbul, dotless ı, long ſ",
    "thı\u0307s and i\u0307",
    "emoji 👨\u200d👩\u200d👧 and ✓",
    "数据 清洗 中文",
    "x\udcff y",
    "tab\there\x0bvt\x0cff\x85nel",
    "don't 'quoted' rock'n'roll dogs' a''b",
    "UPPER CASE TEXT",
    "```python\nx = 1\n```\nand `inline` code ~~~block~~~",
]

# Alphabets that stress the kernels: ASCII letters and digits, apostrophes of both kinds, prose punctuation,
# whitespace of several kinds, accented and case-folding letters.
ALPHABETS = [
    "ab Z1_'-.,",
    "aé1'’ _-.A\n“”–…",
    "aZ1_' -.é\nİ’“”–…\u00a0",
    "ab \t\n.é\u00a0\x0b",
    "kKsSiI\u212aſıİ\u0307 -",
    "ab#@:/.`~{}();=<> \n",
]


def random_texts(alphabet: str, n: int, seed: int = 0, max_len: int = 14) -> list[str]:
    """``n`` strings of 0 to ``max_len`` characters drawn from ``alphabet``."""
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len))) for _ in range(n)]


def many_texts(n: int = 3000, seed: int = 0, max_len: int = 14) -> list[str]:
    """The edge texts, then ``n`` generated strings from each alphabet."""
    out = list(EDGE_TEXTS)
    for k, alphabet in enumerate(ALPHABETS):
        out += random_texts(alphabet, n, seed=seed + k, max_len=max_len)
    return out


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return many_texts()


@pytest.fixture(scope="session")
def generate():
    """``generate(alphabet, n, seed=0, max_len=14)``: more strings from an alphabet of a test's own."""
    return random_texts
