"""clean.unicode on long mojibake: time and peak memory per record, 1 kB to 1 MB, against the difflib count it replaced.

The time went into counting the repaired spans for the ledger detail (difflib, quadratic in the length of a
changed word), not into ftfy. Records: English-and-French text with accents and curly quotes, or Japanese,
encoded in UTF-8 and decoded as cp1252 (the usual mojibake); 'no spaces' removes the spaces, so that one word
is the whole record (the worst case of the old count). For each size: ``UnicodeRepair().fix`` once, its
wall time, then tracemalloc's peak (Python allocations) in a second call; the old count (``changed_spans_plain``) only up to ``--plain-max``
characters, as it takes minutes beyond.

    python bench/bench_unicode.py                        # 1k .. 1M characters
    python bench/bench_unicode.py --sizes 1000 10000     # a quick check
    python bench/bench_unicode.py --agreement 3000       # how often the linear count equals difflib's
    python bench/bench_unicode.py --shared-data ../shared/data   # the same on real text
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from pathlib import Path

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


SENTENCES = [
    "The Mona Lisa doesn’t have eyebrows.", "café résumé naïve", "À bientôt, l'été est là", "It costs £100 — or €120…",
    "Größe über Straße", "Ångström façade", "“Quoted” text ‘here’", "日本語のテキストです", "Привет, как дела?",
    "Ελληνικά κείμενα", "emoji 😀 here", "señor niño año", "œuvre cœur", "ça va très bien", "1–2 °C ± 3",
]  # fmt: skip


def agreement(cases: int, seed: int = 0) -> None:
    """How often the linear count equals difflib's, on generated repairs: mojibake (ftfy) and NFC of NFD text."""
    import unicodedata

    import ftfy

    rng = random.Random(seed)
    pairs = []
    for _ in range(cases):
        text = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            text = text.replace(" ", "")
        bad = text.encode("utf-8").decode(rng.choice(["cp1252", "latin-1"]), errors="replace")
        if rng.random() < 0.5:
            cut = rng.randint(0, len(text))
            bad = text[:cut] + text[cut:].encode("utf-8").decode("cp1252", errors="replace")
        fixed = ftfy.fix_text(bad, _FTFY)
        if fixed != bad:
            pairs.append(("mojibake", " " in text, bad, fixed))
        nfd = unicodedata.normalize("NFD", fixed)
        if nfd != fixed:
            pairs.append(("NFC", " " in text, nfd, fixed))
    print("| repair | text | pairs | equal counts | spans (difflib) | spans (linear) |")
    print("|---|---|---:|---:|---:|---:|")
    for kind in ("mojibake", "NFC"):
        for spaced in (True, False):
            chosen = [(a, b) for k, s, a, b in pairs if k == kind and s == spaced]
            plain = [changed_spans_plain(a, b) for a, b in chosen]
            fast = [changed_spans(a, b) for a, b in chosen]
            same = sum(p == f for p, f in zip(plain, fast))
            label = "with spaces" if spaced else "no spaces"
            print(f"| {kind} | {label} | {len(chosen):,} | {same:,} ({same / max(1, len(chosen)):.1%}) | {sum(plain):,} | {sum(fast):,} |")


def agreement_on_shared_data(folder: Path) -> None:
    """The same comparison on real text (not used to choose the walk): every text field with a non-ASCII character
    of dolly_3k.json, alpaca_random_9k.json and imdb_train_10k.jsonl, made mojibake (cp1252), and made NFD."""
    import json
    import unicodedata

    import ftfy

    texts = []
    for name in ("dolly_3k.json", "alpaca_random_9k.json"):
        for r in json.loads((folder / name).read_text(encoding="utf-8")):
            texts += [r[k] for k in ("instruction", "input", "output") if r.get(k) and not r[k].isascii()]
    for line in (folder / "imdb_train_10k.jsonl").read_text(encoding="utf-8").splitlines():
        t = json.loads(line).get("text", "")
        texts += [t] if t and not t.isascii() else []
    print(f"{len(texts):,} texts, {sum(map(len, texts)):,} characters")
    print("| repair | pairs | equal counts | spans (difflib) | spans (linear) |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("mojibake", "NFC"):
        plain, fast = [], []
        for t in texts:
            if kind == "mojibake":
                a = t.encode("utf-8").decode("cp1252", errors="replace")
                b = ftfy.fix_text(a, _FTFY)
            else:
                a, b = unicodedata.normalize("NFD", t), t
            if a != b:
                plain.append(changed_spans_plain(a, b))
                fast.append(changed_spans(a, b))
        same = sum(p == f for p, f in zip(plain, fast))
        print(f"| {kind} | {len(plain):,} | {same:,} ({same / max(1, len(plain)):.1%}) | {sum(plain):,} | {sum(fast):,} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 3_000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--plain-max", type=int, default=5_000, help="run the old difflib count up to this many characters")
    ap.add_argument("--shared-data", type=Path, metavar="DIR", help="instead: the comparison on the texts of ../shared/data")
    ap.add_argument("--agreement", type=int, metavar="N", help="instead: compare the two counts on N generated repairs")
    args = ap.parse_args()
    if args.agreement:
        agreement(args.agreement)
        return
    if args.shared_data:
        agreement_on_shared_data(args.shared_data)
        return
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
