"""clean.unicode on long mojibake: time and peak memory per record, 1 kB to 1 MB, against the difflib count it replaced.

The time went into counting the repaired spans for the ledger detail (difflib, quadratic in the length of a
changed word), not into ftfy. Records: English-and-French text with accents and curly quotes, or Japanese,
encoded in UTF-8 and decoded as cp1252 (the usual mojibake); 'no spaces' removes the spaces, so that one word
is the whole record (the worst case of the old count). For each size: ``UnicodeRepair().fix`` once, its
wall time, then tracemalloc's peak (Python allocations) in a second call; the old count (``changed_spans_plain``) only up to ``--plain-max``
characters, as it takes minutes beyond.

    python bench/bench_unicode.py                        # 1k .. 1M characters
    python bench/bench_unicode.py --sizes 1000 10000     # a quick check
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from curatune.curation.clean.unicode import _FTFY, UnicodeRepair
from curatune.curation.text.diff import changed_spans, changed_spans_plain

WORDS = ["café", "naïve", "don’t", "résumé", "über", "Ångström", "“quoted”", "plain", "text", "€5", "l’été", "the", "of"]
JAPANESE = ["日本語", "テキスト", "です", "東京", "の", "、", "。"]


def mojibake(chars: int, vocabulary: list[str], spaces: bool, seed: int = 0) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    total = 0
    while total < chars:
        w = rng.choice(vocabulary)
        words.append(w)
        total += len(w) + spaces
    text = (" " if spaces else "").join(words)
    return text.encode("utf-8").decode("cp1252", errors="replace")[:chars]


def measure(fn, *args) -> tuple[float, float, object]:
    """Wall time of one call, then tracemalloc's peak in a second call (tracing slows Python code tenfold)."""
    t = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - t
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 3_000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--plain-max", type=int, default=5_000, help="run the old difflib count up to this many characters")
    args = ap.parse_args()
    import ftfy

    step = UnicodeRepair()
    shapes = [("latin, spaces", WORDS, True), ("latin, no spaces", WORDS, False), ("japanese, no spaces", JAPANESE, False)]
    print("| record | characters | clean.unicode s | peak MiB | spans | old count s | old spans |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, vocabulary, spaces in shapes:
        for size in args.sizes:
            bad = mojibake(size, vocabulary, spaces)
            seconds, peak, (fixed, counts) = measure(step.fix, bad)
            old = "not run"
            old_spans = ""
            if len(bad) <= args.plain_max:
                repaired = ftfy.fix_text(bad, _FTFY)
                t = time.perf_counter()
                old_spans = str(changed_spans_plain(bad, repaired))
                old = f"{time.perf_counter() - t:.3f}"
                assert changed_spans(bad, repaired) == counts[0]
            print(f"| {label} | {len(bad):,} | {seconds:.3f} | {peak:.1f} | {counts[0]:,} | {old} | {old_spans} |", flush=True)


if __name__ == "__main__":
    main()
