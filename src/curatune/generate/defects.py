"""Plant one defect in an item: each function takes a clean item and returns the damaged one and a detail.

Items are ``{"instruction", "input", "output"}``. Malformed lines are built in ``noisy.py``
because they depend on the output format.
"""

from __future__ import annotations

import random
import re
import string

from .compose import Slots, item_text, jaccard, shingles, vocab

_NON_ASCII_SWAPS = (("'", "’"), (" - ", " – "), ("don't", "don’t"))


def _d() -> dict:
    return vocab()["defects"]


# ---- answers that carry no answer -------------------------------------------------------------
def empty_answer(rng: random.Random, item: dict) -> tuple[dict, str]:
    value = rng.choice(_d()["empties"])
    return {**item, "output": value}, "empty" if value == "" else "whitespace only"


def placeholder_answer(rng: random.Random, item: dict) -> tuple[dict, str]:
    value = rng.choice(_d()["placeholders"])
    return {**item, "output": value}, value


def truncated_answer(rng: random.Random, item: dict) -> tuple[dict, str]:
    out = item["output"]
    # Cut at a space inside a sentence (never right after sentence punctuation), 35-85% into the answer.
    spaces = [i for i in range(int(len(out) * 0.35), int(len(out) * 0.85)) if out[i] == " " and out[i - 1] not in ".!?:;,"]
    if not spaces:
        spaces = [i for i in range(1, len(out)) if out[i] == " " and out[i - 1].isalnum()] or [len(out) // 2]
    cut = out[: rng.choice(spaces)].rstrip(" \n.!?:;,\"'’”")
    notes = [f"cut at char {len(cut)} of {len(out)}"]
    if cut.count("```") % 2:
        notes.append("unclosed code fence")
    if cut.count("(") > cut.count(")") or cut.count("[") > cut.count("]") or cut.count("{") > cut.count("}"):
        notes.append("unclosed bracket")
    return {**item, "output": cut}, "; ".join(notes)


def refusal(rng: random.Random, item: dict, s: Slots) -> tuple[dict, str]:
    d = _d()
    opener = rng.choice(d["refusal_open"])
    text = f"{opener} {s.fill(rng.choice(d['refusal_action']))}{rng.choice(d['refusal_reason'])}.{rng.choice(d['refusal_tail'])}"
    return {**item, "output": text}, opener


# ---- damaged text ---------------------------------------------------------------------------
def ensure_non_ascii(text: str) -> str:
    """The text with at least one non-ASCII character (curly apostrophe, en dash...), so encodings can break it."""
    if any(ord(c) > 127 for c in text):
        return text
    for a, b in _NON_ASCII_SWAPS:
        if a in text:
            return text.replace(a, b)
    return text.rstrip() + " It’s a small change – but worth it."


def mojibake(rng: random.Random, item: dict) -> tuple[dict, str]:
    import ftfy.bad_codecs  # noqa: F401 - registers "sloppy-windows-1252"

    codec = "sloppy-windows-1252" if rng.random() < 0.75 else "latin-1"
    fields = ["output"] + (["instruction"] if rng.random() < 0.3 else [])
    new = dict(item)
    for f in fields:
        new[f] = ensure_non_ascii(new[f]).encode("utf-8").decode(codec)
    return new, f"{codec}: {', '.join(fields)}"


_CONFUSIONS = (("rn", "m"), ("m", "rn"), ("l", "1"), ("I", "l"), ("O", "0"), ("0", "O"), ("cl", "d"), ("e", "c"), ("h", "b"))


def ocr_noise(rng: random.Random, item: dict) -> tuple[dict, str]:
    words = item["output"].split(" ")
    counts: dict[str, int] = {}
    junk = _d()["ocr_junk"]
    candidates = [i for i, w in enumerate(words) if len(w) >= 3 and w.isascii() and "`" not in w]
    rng.shuffle(candidates)
    n_edits = max(3, len(candidates) // 6)
    for i in candidates[:n_edits]:
        w = words[i]
        op = rng.random()
        if op < 0.55:
            options = [(a, b) for a, b in _CONFUSIONS if a in w]
            if options:
                a, b = rng.choice(options)
                words[i] = w.replace(a, b, 1)
                counts[f"{a}/{b}"] = counts.get(f"{a}/{b}", 0) + 1
                continue
        if op < 0.8 and len(w) >= 7 and w.isalpha():
            k = rng.randint(3, len(w) - 3)
            words[i] = f"{w[:k]}- {w[k:]}"
            counts["hyphenation"] = counts.get("hyphenation", 0) + 1
            continue
        k = rng.randint(0, len(w))
        words[i] = w[:k] + rng.choice(junk) + w[k:]
        counts["junk"] = counts.get("junk", 0) + 1
    detail = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    return {**item, "output": " ".join(words)}, detail


# ---- content that should not be there ----------------------------------------------------------
def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, dgt in enumerate(reversed(digits)):
        if i % 2:
            dgt *= 2
            if dgt > 9:
                dgt -= 9
        total += dgt
    return total % 10 == 0


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


def _credit_card(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.2:  # American Express: 15 digits, 4-6-5
        num = _luhn_complete("3" + rng.choice("47") + "".join(rng.choice(string.digits) for _ in range(12)))
        return f"{num[:4]} {num[4:10]} {num[10:]}"
    prefix = "4" if kind < 0.6 else f"5{rng.randint(1, 5)}"
    num = _luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(15 - len(prefix))))
    sep = rng.choice([" ", "-", ""])
    return sep.join(num[i : i + 4] for i in range(0, 16, 4))


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def _iban(rng: random.Random) -> str:
    country = rng.choice(["DE", "GB", "NL", "FR"])
    digits = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    bban = {
        "DE": lambda: digits(18),
        "GB": lambda: rng.choice(["NWBK", "BARC", "LOYD", "HBUK"]) + digits(14),
        "NL": lambda: rng.choice(["ABNA", "INGB", "RABO"]) + digits(10),
        "FR": lambda: digits(23),
    }[country]()
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    iban = f"{country}{check:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _pii_value(rng: random.Random, kind: str) -> str:
    d = _d()
    if kind == "email":
        sep = rng.choice([".", "_", ""])
        number = rng.randint(1, 99) if rng.random() < 0.5 else ""
        return f"{rng.choice(d['pii_first'])}{sep}{rng.choice(d['pii_last'])}{number}@{rng.choice(d['pii_mail_domain'])}"
    if kind == "phone":
        style = rng.random()
        area, ex, num = rng.choice([212, 415, 617, 312, 206, 303, 512, 646, 718]), rng.randint(201, 989), rng.randint(1000, 9999)
        if style < 0.5:
            return f"+1 ({area}) {ex}-{num}" if style < 0.25 else f"{area}-{ex}-{num}"
        if style < 0.75:
            return f"+44 7{rng.randint(400, 999)} {rng.randint(100000, 999999)}"
        return f"+49 30 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    if kind == "credit_card":
        return _credit_card(rng)
    if kind == "iban":
        return _iban(rng)
    if kind == "ssn":
        area = rng.choice([rng.randint(1, 665), rng.randint(667, 899)])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if kind == "ipv4":
        first = rng.choice([23, 34, 45, 52, 64, 81, 93, 104, 142, 151, 185, 203, 212])
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind == "api_key":
        alnum = string.ascii_letters + string.digits
        style = rng.random()
        if style < 0.45:
            return "sk-" + "".join(rng.choice(alnum) for _ in range(48))
        if style < 0.8:
            return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
        return "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
    raise KeyError(kind)


PII_TYPES = ("email", "phone", "credit_card", "iban", "ssn", "ipv4", "api_key")


def pii(rng: random.Random, item: dict) -> tuple[dict, str, dict[str, str]]:
    """Plant 1-2 PII values; returns the item, the detail (comma-separated types) and the planted values."""
    d = _d()
    kinds = sorted(rng.sample(PII_TYPES, rng.choice([1, 1, 2])))
    new = dict(item)
    values = {}
    for kind in kinds:
        values[kind] = value = _pii_value(rng, kind)
        if rng.random() < 0.5:
            sentence = rng.choice(d["pii_user"][kind]).replace("{" + kind + "}", value)
            field = "input" if new.get("input") and rng.random() < 0.5 else "instruction"
            new[field] = f"{new[field]} {sentence}" if rng.random() < 0.6 else f"{sentence} {new[field]}"
        else:
            sentence = rng.choice(d["pii_answer"][kind]).replace("{" + kind + "}", value)
            new["output"] = f"{new['output']} {sentence}"
    return new, ",".join(kinds), values


def toxic(rng: random.Random, item: dict) -> tuple[dict, str]:
    d = _d()
    noun, adj = rng.choice(d["toxic_nouns"]), rng.choice(d["toxic_adjs"])
    template = rng.choice(d["toxic_sentences"])
    sentence = template.replace("{n}", noun).replace("{a}", adj)
    sentence = re.sub(r"\ban? (\w)", lambda m: ("an " if m.group(1) in "aeiou" else "a ") + m.group(1), sentence)  # a/an agreement
    words = [w for w, slot in ((adj, "{a}"), (noun, "{n}")) if slot in template]
    out = f"{sentence} {item['output']}" if rng.random() < 0.5 else f"{item['output']} {sentence}"
    return {**item, "output": out}, ",".join(words)


# ---- near duplicates ---------------------------------------------------------------------
_EDITABLE = re.compile(r"^[A-Za-z]+[,.]?$")


def _prose_span(out: str) -> tuple[int, int]:
    """Where the editable prose of an answer ends: before its first code fence."""
    i = out.find("```")
    return (0, len(out)) if i < 0 else (0, i)


def near_duplicate(rng: random.Random, item: dict, lo: float = 0.75, hi: float = 0.95) -> tuple[dict, float, list[str]] | None:
    """A copy with a few word edits and cosmetic changes; word 5-gram Jaccard with ``item`` in [lo, hi].

    Returns None when ``item`` is too short to reach the range (the caller picks another original).
    """
    d = _d()["near_dup_words"]
    original = shingles(item_text(item))
    target = rng.uniform(lo + 0.03, hi - 0.03)
    start, end = _prose_span(item["output"])
    fields = {"instruction": item["instruction"].split(" "), "output": item["output"][start:end].split(" ")}
    tail = item["output"][end:]
    edits: list[str] = []

    def text_of(f: dict) -> dict:
        return {**item, "instruction": " ".join(f["instruction"]), "output": " ".join(f["output"]) + tail}

    j = 1.0
    for _ in range(60):
        if j <= target:
            break
        field = "output" if rng.random() < 0.8 else "instruction"
        words = list(fields[field])
        idx = [i for i, w in enumerate(words) if _EDITABLE.match(w)]
        if not idx:
            continue
        i = rng.choice(idx)
        w = words[i]
        core = w.rstrip(",.")
        op = rng.random()
        if op < 0.4 and core.lower() in d["swap"]:
            new = d["swap"][core.lower()]
            words[i] = (new.capitalize() if core[0].isupper() else new) + w[len(core) :]
            name = f"swap {core}->{new}"
        elif op < 0.8:
            filler = rng.choice(d["insert"])
            words.insert(i if w.endswith((",", ".")) else i + 1, filler)
            name = f"insert {filler}"
        elif len(words) > 8:
            del words[i]
            name = f"delete {core}"
        else:
            continue
        candidate = {**fields, field: words}
        cj = jaccard(original, shingles(item_text(text_of(candidate))))
        if cj < lo:
            continue
        fields, j = candidate, cj
        edits.append(name)
    if not (lo <= j <= hi):
        return None
    new = text_of(fields)
    # Cosmetic changes that word n-grams do not see but byte-level hashing does.
    if rng.random() < 0.5 and new["output"].endswith("."):
        new["output"] = new["output"][:-1] + "!"
        edits.append("punctuation")
    if rng.random() < 0.4:
        new["instruction"] = new["instruction"][:1].lower() + new["instruction"][1:]
        edits.append("case")
    return new, j, edits
