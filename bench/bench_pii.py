"""PII detection: speed and accuracy of curatune's detector against presidio's pattern recognisers.

On the 9,229 Alpaca records in ../shared/data (skipped when absent):

- speed: records/s for curatune's ``PiiDetector`` (every text field of a
  record), the ``clean.pii`` and ``filter.pii`` steps, and presidio-analyzer
  with a no-op NLP engine and only its pattern recognisers (no spaCy model);
- false alarms: records each type flags on the unmodified data (read them with
  ``--show``: Alpaca has phone-like numbers, Sudoku grids and prices);
- recall: the same records with one seeded, synthetic PII value planted in the
  answer of a share of them, per type; presidio has no API-key recogniser;
- when ``curatune.generate.generate_noisy`` exists: recall on its planted
  ``pii`` defects, and clean records flagged;
- ``dedup.decontaminate`` against Dolly 3k as the eval set: speed and drops.

    .venv/bin/python bench/bench_pii.py            # everything
    .venv/bin/python bench/bench_pii.py --quick    # 2,000 records, presidio on 500
    .venv/bin/python bench/bench_pii.py --show     # also print every flagged span on the clean data
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from curatune.curation.pii import PII_TYPES, PiiDetector
from curatune.curation.record import Record
from curatune.curation.registry import build_step

ROOT = Path(__file__).resolve().parents[1]
ALPACA = ROOT.parent / "shared" / "data" / "alpaca_random_9k.json"
OUT = ROOT / "bench" / "out" / "bench_pii.json"
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "US_SSN": "us_ssn",
}


# ---- synthetic PII, seeded ---------------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    for check in string.digits:
        total = 0
        for i, ch in enumerate(reversed(body + check)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return body + check
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


def make_value(kind: str, rng: random.Random) -> str:
    d = lambda n: _digits(rng, n)  # noqa: E731
    if kind == "email":
        user = rng.choice(["john.smith", "a.kowalska", "mike_99", "li.wei", "sarah+news", "dev-ops"]) + d(rng.randint(0, 3))
        address = f"{user}@{rng.choice(['gmail.com', 'example.org', 'uni-bonn.de', 'mail.company.co.uk', 'outlook.fr'])}"
        return address.upper() if rng.random() < 0.15 else address
    if kind == "phone":
        a = str(rng.randint(2, 9)) + d(2)
        return rng.choice(
            [
                f"({a}) {rng.randint(2, 9)}{d(2)}-{d(4)}",
                f"{a}-{rng.randint(2, 9)}{d(2)}-{d(4)}",
                f"{a}.{rng.randint(2, 9)}{d(2)}.{d(4)}",
                f"+1 {a} {rng.randint(2, 9)}{d(2)} {d(4)}",
                f"+44 20 {d(4)} {d(4)}",
                f"+49 30 {d(8)}",
                f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"020 {d(4)} {d(4)}",
                f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"1-800-{d(3)}-{d(4)}",
                # formats the patterns were not written around
                f"+1-{a}-{rng.randint(2, 9)}{d(2)}-{d(4)}",
                f"+91 9{d(4)} {d(5)}",
                f"{a} {rng.randint(2, 9)}{d(2)} {d(4)}",
                f"(020) {d(4)} {d(4)}",
                f"{rng.randint(2, 9)}{d(2)}-{d(4)}",  # 7-digit local number: not detected without context
            ]
        )
    if kind == "credit_card":
        prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("34", 15), ("37", 15), ("6011", 16)])
        n = _luhn_complete(prefix, length, rng)
        sep = rng.choice([" ", "-", ""])
        groups = [n[:4], n[4:10], n[10:]] if length == 15 else [n[i : i + 4] for i in range(0, 16, 4)]
        return sep.join(groups)
    if kind == "iban":
        country, bban = rng.choice(
            [
                ("DE", d(18)),
                ("GB", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + d(14)),
                ("FR", d(23)),
                ("NL", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + d(10)),
                ("ES", d(20)),
            ]
        )
        iban = _iban(country, bban)
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.6 else iban
    if kind == "ip_address":
        if rng.random() < 0.2:
            return ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))
        octets = (rng.choice([23, 45, 81, 93, 104, 151, 185, 203]), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
        ip = ".".join(str(x) for x in octets)
        return ip + ":8080" if rng.random() < 0.2 else ip
    if kind == "us_ssn":
        sep = "-" if rng.random() < 0.85 else " "  # "536 22 1234" without an SSN word: not detected
        return sep.join((f"{rng.randint(1, 665):03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"))
    if kind == "secret":
        alnum = string.ascii_letters + string.digits
        r = lambda n: "".join(rng.choice(alnum) for _ in range(n))  # noqa: E731
        return rng.choice(
            [
                "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
                "sk-proj-" + r(40),
                "ghp_" + r(36),
                "xoxb-" + d(12) + "-" + r(24),
                "AIza" + r(35),
                f"api_key={r(32)}",
                f'"client_secret": "{r(24)}"',
                f"password: {r(16)}",
            ]
        )
    raise ValueError(kind)


TEMPLATES = [
    "{v}",
    "Contact: {v}.",
    "You can reach the office using {v} during working hours.",
    "Details ({v}) were attached.",
    "- {v}",
    "As requested, here it is: {v}",
]


def plant(records: list[Record], rate: float, seed: int) -> tuple[list[Record], list[tuple[int, str, str]]]:
    """A copy of ``records`` with one PII value added to the answer of ``rate`` of them; (index, type, value) per plant."""
    rng = random.Random(seed)
    out, truth = [], []
    for i, rec in enumerate(records):
        if rng.random() >= rate:
            out.append(rec)
            continue
        kind = PII_TYPES[len(truth) % len(PII_TYPES)]
        value = make_value(kind, rng)
        sentence = rng.choice(TEMPLATES).format(v=value)
        messages = [dict(m) for m in rec.messages]
        messages[-1]["content"] = (messages[-1]["content"] + "\n" + sentence).strip()
        out.append(Record(rec.id, messages=messages))
        truth.append((i, kind, value))
    return out, truth


# ---- detectors ---------------------------------------------------------------------------------


def presidio_engine():
    """presidio-analyzer with only its pattern recognisers and a no-op NLP engine: no spaCy model, no download."""
    import tldextract

    # The e-mail recogniser validates with tldextract.extract, which fetches the public-suffix list on first use;
    # use the snapshot bundled with tldextract instead so that the benchmark never touches the network.
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    registry = RecognizerRegistry(
        recognizers=[EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer(), IpRecognizer(), UsSsnRecognizer()]
    )
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def presidio_find(engine, text: str, threshold: float) -> list[tuple[str, str]]:
    return [(PRESIDIO_TYPES[r.entity_type], text[r.start : r.end]) for r in engine.analyze(text, language="en", score_threshold=threshold)]


def curatune_find(detector: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(m.type, text[m.start : m.end]) for m in detector.find(text)]


def record_hits(find, rec: Record) -> list[tuple[str, str]]:
    return [h for _, text in rec.text_fields() for h in find(text)]


def timed(fn, items, repeat: int = 1) -> tuple[list, float]:
    """Results and the best of ``repeat`` timings (the machine is shared: the best run is the least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = [fn(x) for x in items]
        best = min(best, time.perf_counter() - t0)
    return out, best


def decontamination(records: list[Record]) -> dict | None:
    """dedup.decontaminate with Dolly (2,996 records) as the eval set: index build time, records/s, drops."""
    dolly = ALPACA.with_name("dolly_3k.json")
    if not dolly.exists():
        return None
    out = {}
    for n in (13, 8):
        step = build_step("dedup.decontaminate", {"eval_paths": [str(dolly)], "n": n})
        t0 = time.perf_counter()
        step.setup()
        t_build = time.perf_counter() - t0
        verdicts, t = timed(step.keep, records, repeat=2)
        out[f"n={n}"] = {
            "index_build_s": round(t_build, 2),
            "records_per_s": round(len(records) / t),
            "dropped": dict(Counter(v.reason for v in verdicts if v.action != "keep")),
        }
    return out


def _core(kind: str, value: str) -> str:
    """The part of a planted value a detector should cover: a secret's value without its key, an IP without its port."""
    if kind == "secret":
        return re.split(r"[=:]\s*\"?", value)[-1].strip('"')
    if kind == "ip_address" and value.endswith(":8080"):
        return value[: -len(":8080")]
    return value


def recall(hits: list[list[tuple[str, str]]], truth: list[tuple[int, str, str]], types) -> dict[str, dict]:
    """Per type: planted values found (same type, and the found span covers the value's digits/letters)."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, kind, value in truth:
        if kind not in types:
            continue
        per[kind][1] += 1
        core = _core(kind, value)
        if any(t == kind and (core in span or span in core and len(span) >= 0.8 * len(core)) for t, span in hits[i]):
            per[kind][0] += 1
    out = {k: {"found": f, "planted": n, "recall": round(f / n, 3)} for k, (f, n) in sorted(per.items())}
    f, n = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    out["all"] = {"found": f, "planted": n, "recall": round(f / n, 3) if n else None}
    return out


def flagged_per_type(hits: list[list[tuple[str, str]]]) -> dict[str, int]:
    c = Counter()
    for h in hits:
        for t in {t for t, _ in h}:
            c[t] += 1
    return dict(sorted(c.items()))


GENERATOR_TYPES = {"ssn": "us_ssn", "ipv4": "ip_address", "api_key": "secret"}


def generator_recall(detector: PiiDetector, n: int) -> dict | None:
    """Recall per planted type on curatune.generate's noisy set, and how many of its clean records are flagged."""
    try:
        from curatune.generate import generate_noisy
    except ImportError:
        return None
    from curatune.curation.read.records import read_records

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noisy.jsonl"
        generate_noisy(path, n, 0.3, "alpaca", 0)
        truth = [json.loads(line) for line in path.with_name("noisy.truth.jsonl").read_text().splitlines() if line.strip()]
        recs = {r.id: r for r in read_records(str(path)) if isinstance(r, Record)}
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    clean = clean_flagged = 0
    for t in truth:
        rec = recs.get(t["id"])
        if rec is None:
            continue
        types = {m.type for _, text in rec.text_fields() for m in detector.find(text)}
        if t["defect"] == "pii":
            for kind in t["detail"].split(","):
                kind = GENERATOR_TYPES.get(kind, kind)
                per[kind][1] += 1
                per[kind][0] += kind in types
        elif t["defect"] == "clean":
            clean += 1
            clean_flagged += bool(types)
    out = {k: {"found": f, "planted": m, "recall": round(f / m, 3)} for k, (f, m) in sorted(per.items())}
    f, m = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    out["all"] = {"found": f, "planted": m, "recall": round(f / m, 3) if m else None}
    out["clean_records"], out["clean_flagged"] = clean, clean_flagged
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 records; presidio on 500")
    ap.add_argument("--show", action="store_true", help="print every span flagged on the unmodified data")
    ap.add_argument("--presidio-threshold", type=float, default=0.4, help="presidio score_threshold (phone scores 0.4)")
    args = ap.parse_args()
    if not ALPACA.exists():
        print(f"skipped: {ALPACA} is absent")
        return 0
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    rows = json.loads(ALPACA.read_text())
    records = [
        Record(
            f"alpaca:{i}",
            messages=[
                {"role": "user", "content": r["instruction"] + ("\n" + r["input"] if r["input"] else "")},
                {"role": "assistant", "content": r["output"]},
            ],
        )
        for i, r in enumerate(rows)
    ]
    if args.quick:
        records = records[:2000]
    n_presidio = 500 if args.quick else len(records)
    planted, truth = plant(records, rate=0.1, seed=0)

    detector = PiiDetector()
    results: dict = {"records": len(records), "presidio_records": n_presidio}
    cur_find = lambda s: curatune_find(detector, s)  # noqa: E731
    clean_hits, t_cur = timed(lambda r: record_hits(cur_find, r), records, repeat=3)
    planted_hits, _ = timed(lambda r: record_hits(cur_find, r), planted)
    redact = build_step("clean.pii", {"ip_skip_private": False})
    filt = build_step("filter.pii", {"types": list(PII_TYPES), "ip_skip_private": False})
    redact.setup()
    filt.setup()
    _, t_clean = timed(redact.apply, records, repeat=3)
    _, t_filter = timed(filt.keep, records, repeat=3)
    results["curatune"] = {
        "records_per_s": round(len(records) / t_cur),
        "clean_pii_records_per_s": round(len(records) / t_clean),
        "filter_pii_records_per_s": round(len(records) / t_filter),
        "clean_data_flagged_records": flagged_per_type(clean_hits),
        "clean_data_any_flagged": sum(1 for h in clean_hits if h),
        "recall": recall(planted_hits, truth, PII_TYPES),
    }

    t0 = time.perf_counter()
    engine = presidio_engine()
    t_build = time.perf_counter() - t0
    pres_find = lambda s: presidio_find(engine, s, args.presidio_threshold)  # noqa: E731
    p_clean, t_pres = timed(lambda r: record_hits(pres_find, r), records[:n_presidio])
    p_planted, _ = timed(lambda r: record_hits(pres_find, r), planted[:n_presidio])
    results["presidio"] = {
        "engine_build_s": round(t_build, 2),
        "records_per_s": round(n_presidio / t_pres),
        "clean_data_flagged_records": flagged_per_type(p_clean),
        "clean_data_any_flagged": sum(1 for h in p_clean if h),
        "recall": recall(p_planted, [t for t in truth if t[0] < n_presidio], set(PRESIDIO_TYPES.values())),
    }
    results["generator"] = generator_recall(detector, 2000 if args.quick else 10000)
    results["decontaminate_alpaca_vs_dolly"] = decontamination(records)

    print(f"## PII detection on {len(records)} Alpaca records (presidio on {n_presidio}), 10% planted\n")
    print("| detector | records/s | clean records flagged | recall (all planted) |")
    print("|---|---:|---:|---:|")
    for name in ("curatune", "presidio"):
        r = results[name]
        n = len(records) if name == "curatune" else n_presidio
        print(f"| {name} | {r['records_per_s']:,} | {r['clean_data_any_flagged']} / {n} | {r['recall']['all']['recall']} |")
    print(f"| clean.pii step | {results['curatune']['clean_pii_records_per_s']:,} | | |")
    print(f"| filter.pii step | {results['curatune']['filter_pii_records_per_s']:,} | | |")
    print("\n| type | curatune recall | presidio recall | curatune flags on clean data | presidio flags on clean data |")
    print("|---|---:|---:|---:|---:|")
    for t in PII_TYPES:
        cr, pr = results["curatune"]["recall"].get(t, {}), results["presidio"]["recall"].get(t, {})
        print(
            f"| {t} | {cr.get('recall', '-')} ({cr.get('found', 0)}/{cr.get('planted', 0)}) | "
            f"{pr.get('recall', 'n/a')} | {results['curatune']['clean_data_flagged_records'].get(t, 0)} | "
            f"{results['presidio']['clean_data_flagged_records'].get(t, 0) if t in PRESIDIO_TYPES.values() else 'n/a'} |"
        )
    gen = results["generator"]
    if gen:
        print(
            f"\n### curatune.generate noisy set: {gen['all']['found']}/{gen['all']['planted']} planted values found, "
            f"{gen['clean_flagged']}/{gen['clean_records']} clean records flagged\n"
        )
        print("| type | recall |\n|---|---:|")
        for t in PII_TYPES:
            if t in gen:
                print(f"| {t} | {gen[t]['recall']} ({gen[t]['found']}/{gen[t]['planted']}) |")
    if results["decontaminate_alpaca_vs_dolly"]:
        print(f"\n### dedup.decontaminate, {len(records)} Alpaca records against Dolly 3k as the eval set\n")
        print("| n | index build s | records/s | dropped |\n|---|---:|---:|---|")
        for k, v in results["decontaminate_alpaca_vs_dolly"].items():
            print(f"| {k} | {v['index_build_s']} | {v['records_per_s']:,} | {v['dropped']} |")
    if args.show:
        for name, hits in (("curatune", clean_hits), ("presidio", p_clean)):
            print(f"\n### {name}: spans flagged on the unmodified data")
            for rec, h in zip(records, hits):
                for t, span in h:
                    print(f"- {rec.id} {t}: {span!r}")
        missed = [(t, v) for (i, t, v) in truth if not any(k == t for k, _ in planted_hits[i])]
        print("\n### curatune: planted values missed")
        for t, v in missed:
            print(f"- {t}: {v!r}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
