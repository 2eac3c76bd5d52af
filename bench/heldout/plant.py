"""Plant known defects into real instruction records: the held-out set of issue 15.

Written separately from curatune's generator and from the checks' word lists (it reads
neither): every phrasing comes from the files under ``bench/heldout/phrases/``, written for this
set, and every base record is a real record of ``alpaca_random_9k.json`` or ``dolly_3k.json``
read at run time (the data never enters the repository).

    .venv/bin/python bench/heldout/plant.py                      # -> bench/out/heldout/
    .venv/bin/python bench/heldout/plant.py --seed 1 --out /tmp/h1

It writes, in ``--out``:

- ``main.jsonl``: alpaca rows (``id``, ``instruction``, ``input``, ``output``);
- ``mirror.jsonl``: the truncation mirror (see below), run as a separate dataset;
- ``truth.jsonl``: one line per record: ``id``, ``part``, ``defect`` (a defect type or ``clean``),
  ``group`` (what kind of record: the variant of a defect, or which clean control), ``source``
  (``file:index`` of the base record) and ``detail``;
- ``counts.json``: records per part, defect and group.

The procedure, per defect, is in the docstring of each ``plant_*`` function and in README.md.
Truncation pairs: every truncation base answer appears cut in one part and intact in the other
(``main`` holds half cut and half intact, ``mirror`` the other way round), so an answer and its
cut copy never meet in one dataset, where near-duplicate removal would see them.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHRASES = HERE / "phrases"
DEFAULT_DATA = Path("/work/shared/data")
SOURCES = ("alpaca_random_9k.json", "dolly_3k.json")

# Records planted per defect (and clean controls per group), for the main part.
COUNTS = {
    "clean_base": 900,
    "refusal_replace": 130,
    "refusal_prefix": 45,
    "refusal_suffix": 35,
    "refusal_inline": 30,
    "correct_refusal": 40,
    "truncation_pairs": 300,  # 300 answers: each cut in one part, intact in the other
    "near_duplicate_per_level": 45,  # x 4 levels
    "hard_negative_pairs": 80,
    "exact_duplicate": 100,
    "placeholder_input": 150,
    "echo_input": 80,
    "echo_instruction": 40,
    "missing_material_derived": 70,
    "placeholder_answer": 120,
    "pii": 100,
    "pii_reserved_inserted": 40,
}


# ---- reading -----------------------------------------------------------------------------


@dataclass
class Base:
    """A real record and where it came from."""

    source: str
    instruction: str
    input: str
    output: str

    def row(self, **changes) -> dict:
        out = {"instruction": self.instruction, "input": self.input, "output": self.output}
        out.update(changes)
        return out


def read_sources(data_dir: Path) -> list[Base]:
    bases = []
    for name in SOURCES:
        path = data_dir / name
        if not path.exists():
            raise SystemExit(f"{path}: not found. Pass --data with the folder that holds {', '.join(SOURCES)}.")
        for i, row in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            bases.append(Base(f"{name}:{i}", row.get("instruction") or "", row.get("input") or "", row.get("output") or ""))
    return bases


def lines(name: str) -> list[str]:
    """A phrase file: one entry a line, '#' lines are comments."""
    return [ln.rstrip("\n") for ln in (PHRASES / name).read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


def jsonl(name: str) -> list[dict]:
    return [json.loads(ln) for ln in lines(name)]


def excluded_sources() -> dict[str, str]:
    """Base records excluded by hand (read during verification, or labelled defective by hand)."""
    out = {}
    for name in ("excluded.jsonl", "real_defects.jsonl"):
        path = HERE / name
        if not path.exists():
            continue
        for ln in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(ln)
            labels = row.get("labels", ["excluded"])
            if labels != ["clean"]:
                out[f"{row['file']}:{row['index']}"] = row.get("note", ",".join(labels))
    return out


# ---- the base screen: which real records may serve as clean bases -------------------------

WORD = re.compile(r"\w+")
SENT_END = re.compile(r"[.!?][\"')\]]*$")
_PLACEHOLDERISH = re.compile(r"(no\s*input|n/?a\b|\bnone\b|\bnull\b|\bnil\b|^\W*$|<[^>]*>|\[[^\]]*\]|noinput|\bempty\b)", re.IGNORECASE)
_REFUSALISH = re.compile(
    r"(sorry|apolog|as an ai|\bai\b.{0,20}\bmodel|language model|\bgpt|cannot|can't|can not|unable to|not able to|"
    r"i don't have|i do not have|unfortunately|no output|nooutput|not possible)",
    re.IGNORECASE,
)
_CONTACTISH = re.compile(r"(@|https?://|www\.|\b\d{3}[-.\s)]+\d{3}[-.\s]+\d{4}\b|\b\d{1,3}(\.\d{1,3}){3}\b|\b\d{4}[ -]\d{4}[ -]\d{4})")
_REFERS = re.compile(
    r"\b(the following|following\b|this|these|those|given|below|above|provided|attached|aforementioned|"
    r"the (text|article|passage|paragraph|sentence|poem|story|essay|code|image|picture|photo|painting|video|song|list|"
    r"table|data|document|email|letter|review|tweet|statement|word|phrase|program|chart|graph|input|excerpt|context))\b",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def word_ratio(a: str, b: str) -> float:
    """Word-level edit similarity (difflib ratio over lower-cased words): 1.0 = same words in the same order."""
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(max(1, len(w) - n + 1))}


def jaccard3(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def full_text(row: dict) -> str:
    return f"{row['instruction']}\n{row['input']}\n{row['output']}"


def screen(b: Base) -> str | None:
    """Why a record may not be a clean base (None: it may). Conservative on purpose: a good record
    left out costs nothing, a defective one let in is a wrong label."""
    out, inp, ins = b.output.strip(), b.input.strip(), b.instruction.strip()
    if len(words(out)) < 2:
        return "answer shorter than two words"
    if len(out) > 2500 or len(inp) > 2500 or len(ins) > 1000:
        return "too long"
    if out[0] in "<[{":
        return "answer starts with a bracket (placeholder-like)"
    if inp and len(inp) < 40 and _PLACEHOLDERISH.search(inp):
        return "input looks like a placeholder"
    if "<" in inp and ">" in inp:
        return "input holds a tag"
    if _REFUSALISH.search(out):
        return "answer has refusal-like words"
    if _CONTACTISH.search(full_text(b.row())):
        return "contact details, URL, IP or card-like digits"
    if not inp and _REFERS.search(ins) and not re.search(r"[:\"“‘']\s*\S", ins):
        return "instruction refers to material and there is no input"
    if inp and word_ratio(out, inp) > 0.6:
        return "answer close to the input"
    if inp and len(words(out)) >= 30 and len(shingles(out) & shingles(inp)) > 0.7 * len(shingles(out)):
        return "answer copies the reference text"
    if word_ratio(out, ins) > 0.6:
        return "answer close to the instruction"
    text = full_text(b.row())
    if sum(c.isascii() for c in text) < 0.97 * len(text):
        return "not mostly ASCII (other languages)"
    return None


# ---- small text helpers --------------------------------------------------------------------

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE.split(text.strip()) if s]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


IMPERATIVE = {
    "write", "describe", "explain", "generate", "create", "summarize", "summarise", "list", "give", "name", "translate",
    "compose", "classify", "suggest", "provide", "identify", "find", "make", "design", "rewrite", "edit", "come", "tell",
    "compare", "construct", "develop", "outline", "draft", "convert", "calculate", "predict", "brainstorm", "analyze",
    "analyse", "evaluate", "produce", "build", "plan", "recommend", "invent", "paraphrase", "categorize", "sort", "rank",
}  # fmt: skip


def task_phrase(instruction: str) -> str | None:
    """'Write a poem about cats.' -> 'write a poem about cats'; None unless it starts with an imperative verb."""
    first = instruction.strip().split("\n")[0].strip()
    w = words(first[:20])
    if not w or w[0] not in IMPERATIVE or len(first) > 90:
        return None
    return lower_first(first).rstrip(" .!?:")


def vary_refusal(text: str, rng: random.Random) -> str:
    """Surface variety a real dataset has: curly apostrophes, dropped apostrophes, lower case, stray spaces."""
    r = rng.random()
    if r < 0.15:
        text = text.replace("'", "\u2019")
    elif r < 0.22:
        text = text.replace("I'm", "Im").replace("can't", "cant").replace("don't", "dont")
    elif r < 0.27:
        text = text.lower()
    if rng.random() < 0.05:
        text = text.replace(". ", ".  ", 1)
    return text


# ---- the plan ------------------------------------------------------------------------------


@dataclass
class Planted:
    row: dict
    part: str
    defect: str
    group: str
    source: str
    detail: dict = field(default_factory=dict)
    after: int | None = None  # index (in the plan) of the record this one must follow (duplicates)


class Planter:
    def __init__(self, bases: list[Base], seed: int):
        self.rng = random.Random(seed)
        self.bases = bases
        excluded = excluded_sources()
        self.screen_counts: Counter = Counter()
        self.why: dict[str, str | None] = {}  # source -> why it may not be a clean base (None: it may)
        pool = []
        for b in bases:
            why = self.why[b.source] = "excluded by hand" if b.source in excluded else screen(b)
            self.screen_counts[why or "eligible"] += 1
            if why is None:
                pool.append(b)
        pool = self._unique(pool)
        self.rng.shuffle(pool)
        self.pool = pool
        self.used: set[str] = set()
        self.plan: list[Planted] = []

    def _unique(self, pool: list[Base]) -> list[Base]:
        """One record per instruction: records sharing an instruction are kept for the hard negatives only."""
        seen: Counter = Counter(" ".join(words(b.instruction)) for b in pool)
        out = [b for b in pool if seen[" ".join(words(b.instruction))] == 1]
        self.screen_counts["instruction shared with another record"] = len(pool) - len(out)
        self.screen_counts["eligible"] -= len(pool) - len(out)
        return out

    def take(self, n: int, ok=lambda b: True, label: str = "") -> list[Base]:
        got = []
        for b in self.pool:
            if len(got) == n:
                break
            if b.source not in self.used and ok(b):
                got.append(b)
                self.used.add(b.source)
        if len(got) < n:
            raise SystemExit(f"plant.py: only {len(got)} base records fit '{label}', {n} wanted; lower COUNTS['{label}'].")
        return got

    def add(self, row: dict, defect: str, group: str, source: str, part: str = "main", after: int | None = None, **detail) -> int:
        self.plan.append(Planted(row, part, defect, group, source, detail, after))
        return len(self.plan) - 1

    # ---- clean controls ----------------------------------------------------------------

    def plant_clean(self) -> None:
        """Clean base records, unchanged (group ``base``)."""
        for b in self.take(COUNTS["clean_base"], label="clean_base"):
            self.add(b.row(), "clean", "base", b.source)

    # ---- refusals ----------------------------------------------------------------------

    def plant_refusals(self) -> None:
        """Refusals and canned AI non-answers. ``replace``: the whole answer becomes a refusal from
        refusals_full.txt ({task} filled from an imperative instruction); ``prefix``/``suffix``: a
        canned opening/closing around the real answer; ``inline``: a refusal sentence between two
        sentences of the real answer. ``correct_refusal`` (clean): a harmful prompt from
        harmful_prompts.txt answered with a refusal from refusals_harmful.txt: refusing is right there,
        so it is labelled clean."""
        full, prefixes, suffixes, inline = (
            lines(f) for f in ("refusals_full.txt", "refusal_prefixes.txt", "refusal_suffixes.txt", "refusal_inline.txt")
        )
        rng = self.rng
        for b in self.take(COUNTS["refusal_replace"], label="refusal_replace"):
            task = task_phrase(b.instruction)
            choices = [t for t in full if task or "{task}" not in t]
            text = rng.choice(choices).replace("{task}", task or "")
            self.add(b.row(output=vary_refusal(text, rng)), "refusal", "replace", b.source, phrase=text)
        for b in self.take(COUNTS["refusal_prefix"], ok=lambda b: len(words(b.output)) >= 8, label="refusal_prefix"):
            verb = (task_phrase(b.instruction) or "do that").split()[0]
            pre = rng.choice(prefixes).replace("{verb}", verb)
            body = lower_first(b.output.strip()) if pre.endswith((",", "but")) else b.output.strip()
            self.add(b.row(output=vary_refusal(pre, rng) + rng.choice([" ", "\n\n"]) + body), "refusal", "prefix", b.source, phrase=pre)
        for b in self.take(COUNTS["refusal_suffix"], ok=lambda b: len(words(b.output)) >= 8, label="refusal_suffix"):
            verb = (task_phrase(b.instruction) or "do that").split()[0]
            suf = rng.choice(suffixes).replace("{verb}", verb)
            self.add(
                b.row(output=b.output.strip() + rng.choice([" ", "\n\n"]) + vary_refusal(suf, rng)),
                "refusal",
                "suffix",
                b.source,
                phrase=suf,
            )
        for b in self.take(COUNTS["refusal_inline"], ok=lambda b: len(sentences(b.output)) >= 2, label="refusal_inline"):
            sents = sentences(b.output)
            at = rng.randint(1, len(sents) - 1)
            ins = rng.choice(inline)
            self.add(b.row(output=" ".join(sents[:at] + [vary_refusal(ins, rng)] + sents[at:])), "refusal", "inline", b.source, phrase=ins)
        prompts, answers = lines("harmful_prompts.txt"), lines("refusals_harmful.txt")
        for i, prompt in enumerate(prompts[: COUNTS["correct_refusal"]]):
            text = rng.choice(answers)
            self.add(
                {"instruction": prompt, "input": "", "output": text}, "clean", "correct_refusal", f"harmful_prompts.txt:{i}", phrase=text
            )

    # ---- truncation --------------------------------------------------------------------

    def plant_truncation(self) -> None:
        """Real answers (>= 20 words, ending with sentence punctuation, no code) cut at a random word
        boundary: a fraction f ~ U(0.15, 0.95) of the words is kept, moved to the nearest space
        (not a newline) whose preceding character is not sentence punctuation (. ! ? : ;), so the
        cut never lands on a sentence end. Each answer is cut in one part and intact (group
        ``truncation_control``, clean) in the other."""

        def ok(b: Base) -> bool:
            out = b.output.strip()
            return len(words(out)) >= 20 and bool(SENT_END.search(out)) and "```" not in out and "\n    " not in out

        picked = self.take(COUNTS["truncation_pairs"], ok=ok, label="truncation_pairs")
        half = len(picked) // 2
        for k, b in enumerate(picked):
            cut, frac = self._cut(b.output.strip())
            cut_part, intact_part = ("main", "mirror") if k < half else ("mirror", "main")
            self.add(b.row(output=cut), "truncated_answer", "cut", b.source, part=cut_part, kept_fraction=round(frac, 3))
            self.add(b.row(), "clean", "truncation_control", b.source, part=intact_part)

    def _cut(self, text: str) -> tuple[str, float]:
        spaces = [m.start() for m in re.finditer(r" +", text)]
        good = [p for p in spaces if text[p - 1] not in ".!?:;" and not (text[p - 1] in "\"')" and text[p - 2 : p - 1] in (".", "!", "?"))]
        target = self.rng.uniform(0.15, 0.95) * len(text)
        at = min(good, key=lambda p: abs(p - target))
        return text[:at].rstrip(), at / len(text)

    # ---- duplicates --------------------------------------------------------------------

    def plant_exact_duplicates(self) -> None:
        """A clean record (group ``dup_original``) and, later in the file, a byte-identical copy."""
        for b in self.take(COUNTS["exact_duplicate"], label="exact_duplicate"):
            first = self.add(b.row(), "clean", "dup_original", b.source)
            self.add(b.row(), "exact_duplicate", "identical", b.source, after=first, duplicate_of=first)

    def plant_near_duplicates(self) -> None:
        """A clean record (``dup_original``) and, later, a copy with realistic edits: synonym swaps
        (near_dup_synonyms.tsv), typos, punctuation, case and whitespace changes, two sentences
        swapped, a sentence added (near_dup_additions.txt) or removed, a reworded instruction.
        Edits are applied one at a time until the copy's word-level similarity to the original
        (difflib ratio over lower-cased words) falls in the level's band: ``cosmetic`` (1.0: only
        case, punctuation, whitespace differ), ``high`` [0.90, 1.0), ``medium`` [0.80, 0.90),
        ``low`` [0.70, 0.80). The copy's 3-word-shingle Jaccard is recorded too."""
        synonyms = [ln.split("\t") for ln in lines("near_dup_synonyms.tsv")]
        additions = lines("near_dup_additions.txt")
        bands = {"cosmetic": (1.0, 1.0), "high": (0.90, 0.999), "medium": (0.80, 0.90), "low": (0.70, 0.80)}
        n = COUNTS["near_duplicate_per_level"]
        for level, band in bands.items():
            made = 0
            for b in self.pool:
                if made == n:
                    break
                if b.source in self.used or len(words(b.output)) < 25 or len(sentences(b.output)) < 2:
                    continue
                copy = self._edit_until(b.row(), band, cosmetic_only=level == "cosmetic", synonyms=synonyms, additions=additions)
                if copy is None:
                    continue
                self.used.add(b.source)
                row, ops = copy
                first = self.add(b.row(), "clean", "dup_original", b.source)
                self.add(
                    row,
                    "near_duplicate",
                    level,
                    b.source,
                    after=first,
                    duplicate_of=first,
                    edits=ops,
                    word_ratio=round(word_ratio(full_text(row), full_text(b.row())), 3),
                    jaccard3=round(jaccard3(full_text(row), full_text(b.row())), 3),
                )
                made += 1
            if made < n:
                raise SystemExit(f"plant.py: only {made} near duplicates at level {level}, {n} wanted.")

    def _edit_until(self, row: dict, band, cosmetic_only: bool, synonyms, additions):
        lo, hi = band
        original = full_text(row)
        for _ in range(20):
            copy, ops = dict(row), []
            for _ in range(12):
                op = self.rng.choice(COSMETIC if cosmetic_only or not ops else COSMETIC + CONTENT * 3)
                changed = op(copy, self.rng, synonyms, additions)
                if changed is None:
                    continue
                copy, ops = changed, ops + [op.__name__.lstrip("_")]
                r = word_ratio(full_text(copy), original)
                if full_text(copy) != original and lo <= r <= hi and (not cosmetic_only or r == 1.0):
                    return copy, ops
                if r < lo:
                    break
        return None

    def plant_hard_negatives(self) -> None:
        """Pairs of real records from the same instruction template (the first five words of the
        instruction equal, or the whole instruction equal) whose answers differ (word ratio of
        the answers < 0.5): different content, labelled clean (group ``hard_negative``). The
        pairs with the highest whole-record 3-shingle Jaccard under 0.6 are taken."""
        by_prefix: dict[str, list[Base]] = {}
        for b in self.bases:
            w = words(b.instruction)
            if len(w) >= 6 and b.source not in self.used and self.why[b.source] is None:
                by_prefix.setdefault(" ".join(w[:5]), []).append(b)
        candidates = []
        for group in by_prefix.values():
            sh = [shingles(full_text(b.row())) for b in group]
            for i in range(len(group)):
                for j in range(i + 1, len(group)):
                    jac = len(sh[i] & sh[j]) / len(sh[i] | sh[j])
                    if 0.1 <= jac < 0.6 and word_ratio(group[i].output, group[j].output) < 0.5:
                        candidates.append((jac, group[i], group[j]))
        candidates.sort(key=lambda t: (-t[0], t[1].source, t[2].source))
        made, per_template = 0, Counter()
        for jac, a, c in candidates:
            if made == COUNTS["hard_negative_pairs"]:
                break
            template = " ".join(words(a.instruction)[:5])
            if a.source in self.used or c.source in self.used or per_template[template] == 3:
                continue
            per_template[template] += 1
            self.used |= {a.source, c.source}
            first = self.add(a.row(), "clean", "hard_negative", a.source, jaccard3=round(jac, 3), pair=c.source)
            self.add(c.row(), "clean", "hard_negative", c.source, jaccard3=round(jac, 3), pair=a.source, sibling_of=first)
            made += 1

    # ---- instruction-side defects ------------------------------------------------------

    def plant_placeholder_inputs(self) -> None:
        """Records with an empty input get a placeholder input from placeholder_inputs.txt, cycled
        so every placeholder is used, sometimes with stray spaces or a trailing newline."""
        values = lines("placeholder_inputs.txt")
        for k, b in enumerate(self.take(COUNTS["placeholder_input"], ok=lambda b: not b.input.strip(), label="placeholder_input")):
            v = values[k % len(values)]
            v = self.rng.choice([v, v, v, f" {v}", f"{v}\n"])
            self.add(b.row(input=v), "placeholder_input", "placeholder", b.source, value=v)

    def plant_echo(self) -> None:
        """The answer just repeats the input (``input``: records with a short input, <= 60 words, whose
        real answer differs from it) or the instruction (``instruction``: records without input),
        exactly or with a trivial change (case of the first letter, final period, spaces), wrapped
        in a lead-in from echo_leadins.txt."""
        leadins = lines("echo_leadins.txt")
        rng = self.rng

        def trivial(text: str) -> str:
            text = text.strip()
            r = rng.random()
            if r < 0.3:
                return text
            if r < 0.5:
                return text[:-1] if text[-1:] in ".!?" else text + "."
            if r < 0.7:
                return lower_first(text) if text[:1].isupper() else text[:1].upper() + text[1:]
            if r < 0.85:
                return text.replace(" ", "  ", 1)
            return text + " "

        def ok_in(b):
            return b.input.strip() and len(words(b.input)) <= 60 and word_ratio(b.output, b.input) < 0.5

        for b in self.take(COUNTS["echo_input"], ok=ok_in, label="echo_input"):
            self.add(b.row(output=rng.choice(leadins).replace("{x}", trivial(b.input))), "echo", "input", b.source)

        def ok_ins(b):
            return not b.input.strip() and len(words(b.instruction)) >= 4 and word_ratio(b.output, b.instruction) < 0.5

        for b in self.take(COUNTS["echo_instruction"], ok=ok_ins, label="echo_instruction"):
            self.add(b.row(output=rng.choice(leadins).replace("{x}", trivial(b.instruction))), "echo", "instruction", b.source)

    def plant_missing_material(self) -> None:
        """Instructions that point at material the record does not hold. ``derived``: real records
        whose instruction refers to its input (the following, this/these, given, below, the
        text/passage/...) and holds no inline material, with the input removed (the answer kept).
        ``written``: instructions with answers from missing_material.jsonl, input empty."""

        def ok(b: Base) -> bool:
            ins = b.instruction.strip()
            return bool(b.input.strip()) and bool(_REFERS.search(ins)) and "\n" not in ins and not re.search(r"[:\"“‘]\s*\S", ins)

        for b in self.take(COUNTS["missing_material_derived"], ok=ok, label="missing_material_derived"):
            self.add(b.row(input=""), "missing_material", "derived", b.source, removed_input_words=len(words(b.input)))
        for i, r in enumerate(jsonl("missing_material.jsonl")):
            self.add(
                {"instruction": r["instruction"], "input": "", "output": r["output"]},
                "missing_material",
                "written",
                f"missing_material.jsonl:{i}",
            )

    def plant_placeholder_answers(self) -> None:
        """The answer becomes a placeholder from placeholder_answers.txt (cycled; <EMPTY> is the
        empty string, <SPACES> three spaces)."""
        values = lines("placeholder_answers.txt")
        for k, b in enumerate(self.take(COUNTS["placeholder_answer"], label="placeholder_answer")):
            v = values[k % len(values)].replace("<EMPTY>", "").replace("<SPACES>", "   ")
            self.add(b.row(output=v), "placeholder_answer", "empty" if not v.strip() else "placeholder", b.source, value=v)

    # ---- PII ---------------------------------------------------------------------------

    def plant_pii(self) -> None:
        """``pii``: a sentence from pii_personal.json with a realistic personal email and/or phone
        (names, free-mail and company domains, US/UK/international formats, never 555 or
        example.*) appended to a real answer. ``pii_reserved`` (clean): the hand-written records of
        pii_reserved.jsonl, and sentences from reserved_sentences.txt appended to real answers:
        documentation values (example.com/.org/.net, 555-01xx, test cards, 192.0.2.x, 198.51.100.x,
        203.0.113.x) that are not personal data. ``pii_task``: pii_task.jsonl, tasks about an email
        or phone format whose answer is the value itself; redacting it breaks the record."""
        spec = json.loads((PHRASES / "pii_personal.json").read_text(encoding="utf-8"))
        rng = self.rng
        for b in self.take(COUNTS["pii"], ok=lambda b: len(words(b.output)) >= 10 and "```" not in b.output, label="pii"):
            first, last = rng.choice(spec["first_names"]), rng.choice(spec["last_names"])
            values = {
                "email": self._email(first, last, spec),
                "phone": self._phone(spec),
                "name_cap": f"{first.capitalize()} {last.capitalize()}",
            }
            sentence = rng.choice(spec["sentences"]).format(**values)
            self.add(b.row(output=b.output.rstrip() + rng.choice([" ", "\n\n"]) + sentence), "pii", "inserted", b.source, sentence=sentence)
        for i, r in enumerate(jsonl("pii_reserved.jsonl")):
            self.add(r, "clean", "pii_reserved", f"pii_reserved.jsonl:{i}")
        reserved = lines("reserved_sentences.txt")
        for b in self.take(COUNTS["pii_reserved_inserted"], ok=lambda b: len(words(b.output)) >= 10, label="pii_reserved_inserted"):
            s = rng.choice(reserved)
            self.add(b.row(output=b.output.rstrip() + " " + s), "clean", "pii_reserved", b.source, sentence=s)
        for i, r in enumerate(jsonl("pii_task.jsonl")):
            self.add(r, "pii_task", "about_the_value", f"pii_task.jsonl:{i}")

    def _email(self, first: str, last: str, spec: dict) -> str:
        rng = self.rng
        user = rng.choice(
            [f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}", f"{first[0]}.{last}", f"{first}_{last}", f"{last}.{first}"]
        )
        domain = rng.choice(spec["free_domains"] * 3 + spec["company_domains"])
        return f"{user}@{domain}"

    def _phone(self, spec: dict) -> str:
        rng = self.rng
        area, exch, line = rng.choice(spec["us_area_codes"]), rng.randint(201, 989), rng.randint(1000, 9999)
        if exch == 555:
            exch = 556
        return rng.choice(
            [
                f"({area}) {exch}-{line}",
                f"{area}-{exch}-{line}",
                f"{area}.{exch}.{line}",
                f"+1 {area} {exch} {line}",
                f"+44 7{rng.randint(400, 999)} {rng.randint(100000, 999999)}",
                f"+91 9{rng.randint(1000, 9999)} {rng.randint(10000, 99999)}",
                f"+49 15{rng.randint(1, 9)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            ]
        )

    # ---- harmful-content traps ---------------------------------------------------------

    def plant_harmful_traps(self) -> None:
        """harmful_traps.jsonl: benign records whose words look harmful out of context ("kill the
        process", "threats of overusing", "shoot a photo", "execute the script"): clean (group
        ``harmful_trap``)."""
        for i, r in enumerate(jsonl("harmful_traps.jsonl")):
            self.add(
                {"instruction": r["instruction"], "input": "", "output": r["output"]}, "clean", "harmful_trap", f"harmful_traps.jsonl:{i}"
            )

    # ---- order and output --------------------------------------------------------------

    def build(self) -> None:
        self.plant_refusals()
        self.plant_truncation()
        self.plant_exact_duplicates()
        self.plant_near_duplicates()
        self.plant_hard_negatives()
        self.plant_placeholder_inputs()
        self.plant_echo()
        self.plant_missing_material()
        self.plant_placeholder_answers()
        self.plant_pii()
        self.plant_harmful_traps()
        self.plant_clean()

    def ordered(self, part: str) -> list[int]:
        """A random order of the part's records in which every copy comes after its original."""
        keys = {}
        for i, p in enumerate(self.plan):
            if p.part == part and p.after is None:
                keys[i] = self.rng.random()
        for i, p in enumerate(self.plan):
            if p.part == part and p.after is not None:
                start = keys[p.after]
                keys[i] = start + self.rng.random() * (1 - start)
        return sorted(keys, key=keys.get)


# ---- copy edits for near duplicates (each returns a changed copy, or None if it cannot apply) ----


def _swap_synonym(row, rng, synonyms, additions):
    present = [(w, r) for w, r in synonyms if re.search(rf"\b{re.escape(w)}\b", row["output"], re.IGNORECASE)]
    if not present:
        return None
    w, r = rng.choice(present)
    m = list(re.finditer(rf"\b{re.escape(w)}\b", row["output"], re.IGNORECASE))
    m = rng.choice(m)
    rep = r.capitalize() if m.group()[0].isupper() else r
    return {**row, "output": row["output"][: m.start()] + rep + row["output"][m.end() :]}


def _typo(row, rng, synonyms, additions):
    cands = [m for m in re.finditer(r"[A-Za-z]{5,}", row["output"])]
    if not cands:
        return None
    m = rng.choice(cands)
    w = m.group()
    i = rng.randint(1, len(w) - 2)
    new = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if rng.random() < 0.5 else w[:i] + w[i + 1 :]
    return {**row, "output": row["output"][: m.start()] + new + row["output"][m.end() :]}


def _punctuation(row, rng, synonyms, additions):
    out = row["output"]
    commas = [m.start() for m in re.finditer(",", out)]
    r = rng.random()
    if commas and r < 0.5:
        at = rng.choice(commas)
        return {**row, "output": out[:at] + out[at + 1 :]}
    if out.rstrip().endswith(".") and r < 0.8:
        return {**row, "output": out.rstrip()[:-1] + rng.choice(["!", "", "..."])}
    spaces = [m.start() for m in re.finditer(r"(?<=[a-z]) (?=[a-z])", out)]
    if not spaces:
        return None
    at = rng.choice(spaces)
    return {**row, "output": out[:at] + "," + out[at:]}


def _case(row, rng, synonyms, additions):
    field = rng.choice(["instruction", "output"])
    text = row[field]
    if rng.random() < 0.3:
        return {**row, field: text.lower()}
    starts = [m.start() for m in re.finditer(r"(?:^|[.!?]\s+)([A-Z])", text)]
    if not starts:
        return None
    m = list(re.finditer(r"(?:^|[.!?]\s+)([A-Z])", text))
    pick = rng.choice(m)
    at = pick.start(1)
    return {**row, field: text[:at] + text[at].lower() + text[at + 1 :]}


def _whitespace(row, rng, synonyms, additions):
    field = rng.choice(["instruction", "output", "output"])
    text = row[field]
    r = rng.random()
    if r < 0.4:
        return {**row, field: text.replace(" ", "  ", 1)}
    if r < 0.7:
        return {**row, field: text + rng.choice([" ", "\n", "  \n"])}
    return {**row, field: text.replace(". ", ".\n", 1) if ". " in text else " " + text}


def _swap_sentences(row, rng, synonyms, additions):
    s = sentences(row["output"])
    if len(s) < 2:
        return None
    i = rng.randint(0, len(s) - 2)
    s[i], s[i + 1] = s[i + 1], s[i]
    return {**row, "output": " ".join(s)}


def _add_sentence(row, rng, synonyms, additions):
    s = sentences(row["output"])
    s.insert(rng.randint(0, len(s)), rng.choice(additions))
    return {**row, "output": " ".join(s)}


def _remove_sentence(row, rng, synonyms, additions):
    s = sentences(row["output"])
    if len(s) < 3:
        return None
    s.pop(rng.randint(0, len(s) - 1))
    return {**row, "output": " ".join(s)}


def _reword_instruction(row, rng, synonyms, additions):
    ins = row["instruction"].strip()
    if task_phrase(ins) is None:  # only imperatives read naturally after "Please"
        return None
    return {**row, "instruction": rng.choice(["Please ", "Can you ", "Could you please "]) + lower_first(ins)}


COSMETIC = [_punctuation, _case, _whitespace]
CONTENT = [_swap_synonym, _typo, _swap_sentences, _add_sentence, _remove_sentence, _reword_instruction]


# ---- main ----------------------------------------------------------------------------------


def write(planter: Planter, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    truth, counts = [], {}
    ids: dict[int, str] = {}
    for part in ("main", "mirror"):
        order = planter.ordered(part)
        for n, i in enumerate(order):
            ids[i] = f"{part}-{n:05d}"
        with (out / f"{part}.jsonl").open("w", encoding="utf-8") as f:
            for i in order:
                f.write(json.dumps({"id": ids[i], **planter.plan[i].row}, ensure_ascii=False) + "\n")
        c = Counter((p.defect, p.group) for p in planter.plan if p.part == part)
        counts[part] = {f"{d}/{g}": n for (d, g), n in sorted(c.items())}
    for i, p in enumerate(planter.plan):
        detail = dict(p.detail)
        for key in ("duplicate_of", "sibling_of"):
            if key in detail:
                detail[key] = ids[detail[key]]
        truth.append({"id": ids[i], "part": p.part, "defect": p.defect, "group": p.group, "source": p.source, "detail": detail})
    truth.sort(key=lambda t: t["id"])
    with (out / "truth.jsonl").open("w", encoding="utf-8") as f:
        for t in truth:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    summary = {
        "records": {part: sum(1 for p in planter.plan if p.part == part) for part in ("main", "mirror")},
        "by_defect": dict(sorted(Counter(p.defect for p in planter.plan).items())),
        "by_defect_group": counts,
        "base_screen": dict(planter.screen_counts.most_common()),
        "sha256": {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in ("main.jsonl", "mirror.jsonl", "truth.jsonl")},
    }
    (out / "counts.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def plant(out: Path, seed: int = 0, data_dir: Path = DEFAULT_DATA) -> dict:
    planter = Planter(read_sources(data_dir), seed)
    planter.build()
    return write(planter, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench/out/heldout"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"folder with {', '.join(SOURCES)}")
    ap.add_argument(
        "--write-manifest", action="store_true", help="also write bench/heldout/manifest.json (the committed counts and sha256)"
    )
    args = ap.parse_args()
    summary = plant(args.out, args.seed, args.data)
    if args.write_manifest:
        (HERE / "manifest.json").write_text(json.dumps({"seed": args.seed, **summary}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: summary[k] for k in ("records", "by_defect")}, indent=2))
    print(f"wrote {args.out}/main.jsonl, mirror.jsonl, truth.jsonl, counts.json")


if __name__ == "__main__":
    main()
