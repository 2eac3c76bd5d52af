"""A second, independent near-duplicate development set for dedup.minhash (issue 15, round 6): other edits than
bench/bench_neardup_dev.py's, written down and committed before any tuning of round 6, and used once, to report
the final choice (never to tune). bench/heldout is not used here.

Records: ../shared/data/alpaca_random_9k.json and dolly_3k.json, read as Alpaca records, as in
bench_neardup_dev.py. Seed 29 (not 11).

Positives (``--copies`` sources, drawn without replacement): each gets one rewritten copy. A copy applies
``strength`` rewrites (1, 2, 3 or 5, uniform), each drawn without replacement from the list below (a rewrite that
changes nothing in that text is passed over and the next one is tried), to the output, the instruction and input,
or all three (uniform):

- ``sentences``: the sentences shuffled; then two neighbouring sentences merged with ", and " or one long sentence
  split at its first ", " into two;
- ``contractions``: "do not" <-> "don't", "it is" <-> "it's"... (both directions, from one table);
- ``spelling``: American <-> British spellings ("color"/"colour", "organize"/"organise", "center"/"centre"...);
- ``numbers``: digits 0-20 <-> their words ("10" <-> "ten"), "%" <-> " percent", "1st" <-> "first";
- ``hedges``: 2 to 4 fillers and hedges put at the start of sentences or after a comma ("Basically,", "In general,",
  "I think", "Of course,", "Actually,", "Generally speaking,", "To be honest,");
- ``sentence``: one sentence removed from a text of 3 or more sentences, or one generic sentence added at its end
  ("I hope this helps.", "Let me know if you have any other questions.", "This is a common question.");
- ``bullets``: list markers rewritten ("1." / "1)" / "-" / "*" / "•" lines become another marker style), or a list
  joined into one comma-separated line;
- ``opening``: the instruction's opening rephrased ("Write a poem" -> "Could you write a poem?", "Please write...",
  "I need you to write...", "Can you tell me ...", "Explain X" -> "I'd like an explanation of X").

Negatives (the precision side, ``--siblings`` of each kind): pairs of records that are alike but are different
records, which must not be merged:

- ``template``: real pairs already in the data: two records whose instructions are equal once capitalised words,
  numbers and quoted text are masked (the same task about another entity: templated Dolly records, "Identify
  which instrument is string or percussion: X, Y"), and whose instructions are not equal. They are originals, so a
  drop among them also shows in "extra drops";
- ``entities``: a planted sibling: a copy of a record in which every number becomes another number and every
  capitalised word that does not start a sentence becomes another capitalised word drawn from the data (the same
  text about other names and figures: the generator's "the same steps with other file names"), kept only where at
  least 3 words and at least 10% of its words changed.

Figures: recall (a copy in one cluster with its source), by rewrite, strength and part; template pairs merged and
entity siblings merged (in one cluster with their source), of how many; originals dropped as near duplicates of
other originals ("extra drops", as in bench_neardup_dev.py).

    .venv/bin/python bench/bench_neardup_dev2.py                     # the default step
    .venv/bin/python bench/bench_neardup_dev2.py -p part_threshold=0.6
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_neardup_dev import load_rows, print_recall_tables, run  # noqa: E402

from curatune.curation.formats import FORMATS  # noqa: E402

REWRITES = ("sentences", "contractions", "spelling", "numbers", "hedges", "sentence", "bullets", "opening")
STRENGTHS = (1, 2, 3, 5)
PARTS = ("output", "prompt", "all")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

CONTRACTIONS = {
    "do not": "don't", "does not": "doesn't", "did not": "didn't", "is not": "isn't", "are not": "aren't",
    "was not": "wasn't", "were not": "weren't", "can not": "can't", "cannot": "can't", "will not": "won't",
    "would not": "wouldn't", "should not": "shouldn't", "could not": "couldn't", "have not": "haven't",
    "has not": "hasn't", "it is": "it's", "that is": "that's", "there is": "there's", "I am": "I'm",
    "you are": "you're", "we are": "we're", "they are": "they're", "I have": "I've", "you will": "you'll",
    "let us": "let's", "what is": "what's", "who is": "who's",
}  # fmt: skip
SPELLINGS = {
    "color": "colour", "colors": "colours", "favorite": "favourite", "behavior": "behaviour", "honor": "honour",
    "neighbor": "neighbour", "labor": "labour", "flavor": "flavour", "humor": "humour", "organize": "organise",
    "organized": "organised", "organization": "organisation", "organizations": "organisations",
    "recognize": "recognise", "realize": "realise", "analyze": "analyse", "optimize": "optimise",
    "summarize": "summarise", "categorize": "categorise", "prioritize": "prioritise", "minimize": "minimise",
    "maximize": "maximise", "center": "centre", "theater": "theatre", "meter": "metre", "liter": "litre",
    "fiber": "fibre", "defense": "defence", "license": "licence", "traveling": "travelling", "traveled": "travelled",
    "canceled": "cancelled", "modeling": "modelling", "program": "programme", "gray": "grey", "catalog": "catalogue",
    "dialog": "dialogue", "analog": "analogue", "aging": "ageing", "jewelry": "jewellery", "mold": "mould",
}  # fmt: skip
NUMBERS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
]  # fmt: skip
ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth"}
HEDGES = ("Basically,", "In general,", "I think", "Of course,", "Actually,", "Generally speaking,", "To be honest,", "Essentially,")
ADDED = ("I hope this helps.", "Let me know if you have any other questions.", "This is a common question.", "Hope that is useful!")
MARKERS = ("{n}.", "{n})", "-", "*", "•")
_LIST = re.compile(r"^(\s*)(?:\d+[.)]|[-*•])\s+", re.M)
_VERBS = "Write|Create|Generate|Compose|Describe|Explain|Give|Provide|List|Name|Find|Suggest|Make|Summarize|Classify|Identify"
OPENINGS = ((re.compile(rf"^({_VERBS})\s+(.*)$", re.S), None),)


def _case_like(src: str, word: str) -> str:
    return word[:1].upper() + word[1:] if src[:1].isupper() else word


def _swap_table(text: str, table: dict[str, str], rng: random.Random) -> str:
    pairs = list(table.items()) + [(v, k) for k, v in table.items()]
    rng.shuffle(pairs)
    for a, b in pairs:
        pat = re.compile(rf"\b{re.escape(a)}\b", re.I)
        if pat.search(text):
            text = pat.sub(lambda m, b=b: _case_like(m.group(0), b), text)
    return text


def r_sentences(text: str, rng: random.Random) -> str:
    sents = _SENT.split(text.strip())
    if len(sents) > 1:
        rng.shuffle(sents)
        if len(sents) > 2 and rng.random() < 0.5:
            i = rng.randrange(len(sents) - 1)
            a, b = sents[i], sents[i + 1]
            sents[i : i + 2] = [a.rstrip(".!?") + ", and " + b[:1].lower() + b[1:]]
    else:
        s = sents[0]
        i = s.find(", ")
        if i > 15:
            rest = s[i + 2 :]
            sents = [s[:i] + ".", rest[:1].upper() + rest[1:]]
    return " ".join(sents)


def r_contractions(text: str, rng: random.Random) -> str:
    return _swap_table(text, CONTRACTIONS, rng)


def r_spelling(text: str, rng: random.Random) -> str:
    return _swap_table(text, SPELLINGS, rng)


def r_numbers(text: str, rng: random.Random) -> str:
    def num(m: re.Match) -> str:
        return NUMBERS[int(m.group(0))]

    def word(m: re.Match) -> str:
        return str(NUMBERS.index(m.group(0).lower()))

    if rng.random() < 0.5 and re.search(r"\b(?:1?\d|20)\b", text):
        text = re.sub(r"(?<![\d.,])\b(?:1?\d|20)\b(?![\d.,%])", num, text)
    else:
        text = re.sub(r"\b(" + "|".join(NUMBERS) + r")\b", word, text, flags=re.I)
    text = re.sub(r"(\d)%", r"\1 percent", text) if "%" in text else re.sub(r"(\d) percent\b", r"\1%", text)
    return _swap_table(text, ORDINALS, rng)


def r_hedges(text: str, rng: random.Random) -> str:
    sents = _SENT.split(text.strip())
    for _ in range(rng.randint(2, 4)):
        i = rng.randrange(len(sents))
        h = rng.choice(HEDGES)
        s = sents[i]
        sents[i] = h + " " + (s[:1].lower() + s[1:] if s[:2] != "I " else s)
    return " ".join(sents)


def r_sentence(text: str, rng: random.Random) -> str:
    sents = _SENT.split(text.strip())
    if len(sents) >= 3 and rng.random() < 0.5:
        del sents[rng.randrange(len(sents))]
    else:
        sents.append(rng.choice(ADDED))
    return " ".join(sents)


def r_bullets(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    items = [i for i, ln in enumerate(lines) if _LIST.match(ln)]
    if len(items) < 2:
        return text
    if rng.random() < 0.3:
        body = [_LIST.sub("", lines[i]).strip().rstrip(".") for i in items]
        return "\n".join([ln for i, ln in enumerate(lines) if i not in set(items)] + [", ".join(body) + "."]).strip()
    marker = rng.choice(MARKERS)
    for n, i in enumerate(items, 1):
        lines[i] = _LIST.sub(lambda m, n=n: m.group(1) + marker.format(n=n) + " ", lines[i], count=1)
    return "\n".join(lines)


FORMS = ("Could you {v} {r}?", "Please {v} {r}.", "I need you to {v} {r}.", "Can you {v} {r} for me?", "I'd like you to {v} {r}.")


def r_opening(text: str, rng: random.Random) -> str:
    t = text.strip()
    m = OPENINGS[0][0].match(t)
    if m:
        verb, rest = m.group(1).lower(), m.group(2).rstrip(".")
        form = rng.choice(FORMS)
        return form.format(v=verb, r=rest)
    low = t[:1].lower() + t[1:]
    if t.endswith("?"):
        return rng.choice(("Can you tell me: {t}", "I was wondering, {t}", "Quick question: {t}")).format(t=low)
    return rng.choice(("Please {t}", "Could you help with this: {t}", "Task: {t}")).format(t=low)


FUNCS = {
    "sentences": r_sentences, "contractions": r_contractions, "spelling": r_spelling, "numbers": r_numbers,
    "hedges": r_hedges, "sentence": r_sentence, "bullets": r_bullets, "opening": r_opening,
}  # fmt: skip


def rewrite(d: dict, part: str, strength: int, rng: random.Random) -> tuple[dict, list[str]]:
    """The copy and the rewrites that changed it (``opening`` applies to the instruction only)."""
    c = dict(d)
    fields = {"output": ["output"], "prompt": ["instruction", "input"], "all": ["instruction", "input", "output"]}[part]
    applied: list[str] = []
    order = list(REWRITES)
    rng.shuffle(order)
    for name in order:
        if len(applied) >= strength:
            break
        changed = False
        for f in fields:
            if not c[f].strip() or (name == "opening" and f != "instruction"):
                continue
            new = FUNCS[name](c[f], rng)
            changed |= new != c[f]
            c[f] = new
        if changed:
            applied.append(name)
    return c, applied


_MASK = re.compile(r"\"[^\"]*\"|'[^']*'|\b\d[\d,.]*\b|(?<=[a-z,:;] )[A-Z][\w'-]*|(?<=[:,] )\w[\w' -]*$")


def template_pairs(rows: list[tuple[str, dict]], limit: int, rng: random.Random) -> list[tuple[str, str]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, d) in enumerate(rows):
        ins = d["instruction"].strip()
        if len(ins.split()) >= 4:
            groups[_MASK.sub("X", ins)].append(i)
    pairs = []
    for key, members in groups.items():
        if "X" not in key or len(members) < 2:
            continue
        for a, b in zip(members, members[1:]):
            if rows[a][1]["instruction"] != rows[b][1]["instruction"]:
                pairs.append((rows[a][0], rows[b][0]))
    rng.shuffle(pairs)
    return pairs[:limit]


_CAP = re.compile(r"(?<=[a-z,;:] )[A-Z][a-zA-Z]+|\b\d+(?:\.\d+)?\b")


def entity_sibling(d: dict, names: list[str], rng: random.Random) -> dict | None:
    c, changed, total = dict(d), 0, 0
    for f in ("instruction", "input", "output"):

        def sub(m: re.Match) -> str:
            nonlocal changed
            changed += 1
            w = m.group(0)
            if w[0].isdigit():
                return str(rng.randint(2, 999)) if "." not in w else f"{rng.uniform(0, 100):.1f}"
            return rng.choice([n for n in rng.sample(names, 4) if n != w] or ["Kestrel"])

        c[f] = _CAP.sub(sub, d[f])
        total += len(d[f].split())
    return c if changed >= 3 and changed >= 0.1 * total else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=1200)
    ap.add_argument("--siblings", type=int, default=300)
    ap.add_argument("--show", type=int, default=8)
    ap.add_argument("-p", action="append", default=[], help="a dedup.minhash parameter, key=value (YAML value)")
    args = ap.parse_args()
    import yaml

    params = {k: yaml.safe_load(v) for k, v in (p.split("=", 1) for p in args.p)}
    rng = random.Random(29)
    rows = load_rows()
    names = sorted({w for _, d in rows for w in _CAP.findall(d["output"]) if not w[0].isdigit()})
    out = list(rows)
    copy_of: dict[str, str] = {}
    how: dict[str, tuple[str, int, str]] = {}
    for k, i in enumerate(rng.sample(range(len(rows)), args.copies)):
        rid, d = rows[i]
        part, strength = rng.choice(PARTS), rng.choice(STRENGTHS)
        c, applied = rewrite(d, part, strength, rng)
        if not applied:
            continue
        out.append((f"copy:{k}", c))
        copy_of[f"copy:{k}"] = rid
        how[f"copy:{k}"] = ("+".join(sorted(applied)), len(applied), part)
    sib_of: dict[str, str] = {}
    for k, i in enumerate(rng.sample(range(len(rows)), len(rows))):
        if len(sib_of) >= args.siblings:
            break
        rid, d = rows[i]
        s = entity_sibling(d, names, rng)
        if s is not None:
            out.append((f"sibling:{k}", s))
            sib_of[f"sibling:{k}"] = rid
    templ = template_pairs(rows, args.siblings, rng)
    rng.shuffle(out)
    fmt = FORMATS["alpaca"]
    recs = [fmt.parse(d, rid) for rid, d in out]
    by_id = {r.id: r for r in recs}
    dropped, cpu = run(recs, params)

    def root(x: str) -> str:
        while x in dropped:
            x = dropped[x]
        return x

    def merged(a: str, b: str) -> bool:
        return root(a) == root(b) and (a in dropped or b in dropped)

    found = {c for c, s in copy_of.items() if merged(c, s)}
    sib_merged = [s for s, o in sib_of.items() if merged(s, o)]
    templ_merged = [(a, b) for a, b in templ if merged(a, b)]
    sources = set(copy_of.values()) | set(sib_of.values())
    extra = [
        r
        for r in dropped
        if not r.startswith(("copy:", "sibling:"))
        and not (r in sources and any(root(c) == root(r) for c, s in list(copy_of.items()) + list(sib_of.items()) if s == r))
    ]
    print(f"\ndedup.minhash {params or '(defaults)'}: {len(recs):,} records, {len(copy_of)} rewritten copies, {cpu:.1f} s CPU\n")
    print("| recall | template pairs merged | entity siblings merged | extra drops among originals |\n|---:|---:|---:|---:|")
    print(
        f"| {len(found) / len(copy_of):.3f} ({len(found)}/{len(copy_of)}) | {len(templ_merged)}/{len(templ)} | "
        f"{len(sib_merged)}/{len(sib_of)} | {len(extra)} |\n"
    )
    by_rw: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_strength: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_part: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c, (applied, strength, part) in how.items():
        for name in applied.split("+"):
            by_rw[name][0] += c in found
            by_rw[name][1] += 1
        for table, key in ((by_strength, strength), (by_part, part)):
            table[key][0] += c in found
            table[key][1] += 1
    print_recall_tables((("rewrite (copies that had it)", by_rw), ("rewrites applied", by_strength), ("part rewritten", by_part)))
    print(f"extra drops by source: {dict(Counter(r.split(':')[0] for r in extra))}")
    show = random.Random(0)
    for s in show.sample(sib_merged, min(args.show, len(sib_merged))):
        print(f"--- sibling merged: {s} of {sib_of[s]}\n  A: {by_id[s].all_text[:240]!r}\n  B: {by_id[sib_of[s]].all_text[:240]!r}")
    for a, b in templ_merged[: args.show]:
        print(f"--- template pair merged: {a} {b}\n  A: {by_id[a].all_text[:240]!r}\n  B: {by_id[b].all_text[:240]!r}")
    missed = [c for c in copy_of if c not in found]
    for c in show.sample(missed, min(args.show, len(missed))):
        print(f"--- missed {c} {how[c]}\n  copy: {by_id[c].all_text[:240]!r}\n  src:  {by_id[copy_of[c]].all_text[:240]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
