"""Harmful content: a category lexicon (violence, sexual, hate, self-harm, harassment), and an optional local classifier.

The lexicon (resources/harmful_lexicon.yaml, or ``lexicon_path``) has strong
terms (weight 1) and weak terms (weight ``weak_weight``) per category. A
message scores the sum of the weights of its matches (each distinct term
counted once, so one word repeated is not a pile-up); a category at or over
``threshold`` fails with reason ``harmful_<category>``. Matching is on whole
words (set lookups on the runs of letters of a text; a compiled pattern per
multi-word term, built in ``setup``): "assassin", "Scunthorpe", "cocktail"
and "therapist" do not match "ass", "cunt", "cock" or "rapist".

Context: a *topic* term ("pornography", "ethnic cleansing") is strong in a
text that does not read as a discussion and weak in one that does (two or
more of the lexicon's discussion words: "risks", "history", "victims",
"prevent"...), so an answer on "the threats of overusing technology" that
lists pornography among the risks is no sexual content, while the word in a
text without such context still fails. *Statements* (regular expressions)
catch what words alone cannot: a threat made to the reader ("I'm going to
hurt you", not "I'm going to beat you at chess"), a group called vermin.

Validation (issue 15): alpaca_random_9k and dolly_3k (12,225 real records,
not written from): the default flags 1 record, a history of fascism quoting
"racial purity" (before: 2; the "overusing technology" answer is no longer
flagged); bench/heldout's 50 benign records with loaded words ("kill a
process", "beat egg whites") and the unseen-phrasing tests; figures in
bench/RESULTS.md.

``classifier_path`` names a local transformers text-classification folder
(never downloaded); a message whose probability of any label outside
``classifier_safe_labels`` reaches ``classifier_threshold`` fails with
``harmful_classifier``. The recipe should flag (``on_fail: flag``): words
are not intent, and a history answer about a massacre is not harmful.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field

from ...errors import InputError
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.ignorecase import FOLDS_TO_ASCII
from ..text.memo import TokenMemo
from ..text.patterns import fast_term_regex, term_regex, whole_runs
from ..text.words import letter_runs, lower_letter_runs, punct_to_spaces
from ._prose import RESOURCES, texts_of

Category = Literal["violence", "sexual", "hate", "self_harm", "harassment"]
CATEGORIES: tuple[Category, ...] = ("violence", "sexual", "hate", "self_harm", "harassment")
_WORDS = re.compile(r"[a-z]+")
DEFAULT_LEXICON = RESOURCES / "harmful_lexicon.yaml"


@dataclass(frozen=True, slots=True)
class Term:
    category: str
    term: str  # one form, as matched
    name: str  # the entry it belongs to (its first form), what is counted and reported
    strong: bool
    pattern: re.Pattern | None  # only for terms that are not one plain word
    # Words (as bytes, like letter_runs) that a match of ``pattern`` always contains whole (not next to a ``*``):
    # when a text lacks one, the pattern cannot match and is not run. Only on texts without FOLDS_TO_ASCII (under re.I "s" matches "ſ").
    needs: frozenset[bytes] = frozenset()
    fast: re.Pattern | None = None  # fast_term_regex(term), for the same texts
    topic: bool = False  # names a subject texts discuss: strong, but weak in a text that reads as a discussion


@dataclass(frozen=True, slots=True)
class Statement:
    """A pattern a word list cannot express (a threat to the reader, a group called vermin): always strong."""

    category: str
    pattern: re.Pattern
    needs: tuple[frozenset[bytes], ...]  # the text holds one word of each, or the pattern is not run


class Lexicon:
    """Terms by the word that triggers them: one set lookup per distinct word of a text, not a regex scan.

    ``statements`` are run on a text holding their needed words; ``discussion`` words tell a text that
    discusses a topic (a topic term is then weak).

    A plain word (``suicide``) is found exactly; a word with ``*`` (``kill*``)
    by its prefix; any other term (``kill myself``, ``self-harm*``) is keyed
    by its longest run of letters and confirmed with its own pattern. Words
    are runs of letters, so "assassin" is never "ass" and "Scunthorpe" never
    contains a term.
    """

    def __init__(
        self,
        entries: list[Term],
        statements: tuple[Statement, ...] = (),
        discussion: frozenset[bytes] = frozenset(),
        min_discussion: int = 2,
    ):
        self.statements = statements
        # A statement runs only on a text holding a word of its first need: statements by those words.
        self._by_first_need: dict[bytes, list[int]] = {}
        for i, st in enumerate(statements):
            for w in st.needs[0] if st.needs else ():
                self._by_first_need.setdefault(w, []).append(i)
        self._first_words = frozenset(self._by_first_need)
        self._always = tuple(i for i, st in enumerate(statements) if not st.needs)  # these run on every text
        self.discussion = discussion
        self.min_discussion = min_discussion
        self.exact: dict[str, list[Term]] = {}
        self.prefixes: dict[int, dict[str, list[Term]]] = {}
        for e in entries:
            runs = _WORDS.findall(e.term)
            if not runs:
                continue
            plain = e.term.rstrip("*") == runs[0] and len(runs) == 1
            star_inside = "*" in e.term.rstrip("*")
            key = runs[0] if star_inside else max(runs, key=len)
            as_prefix = star_inside or (e.term.endswith("*") and e.term.rstrip("*").endswith(key))
            if as_prefix:
                self.prefixes.setdefault(len(key), {}).setdefault(key, []).append(e)
            else:
                self.exact.setdefault(key, []).append(e)
            if plain and not as_prefix:
                continue
            if not plain:
                object.__setattr__(e, "pattern", term_regex(e.term))
                object.__setattr__(e, "needs", frozenset(w.encode() for w in whole_runs(e.term)))
                object.__setattr__(e, "fast", fast_term_regex(e.term) or e.pattern)
        self.lengths = sorted(self.prefixes)
        # The shortest prefix length's worth of every prefix key: a word that starts with none of these needs no
        # look-up per prefix length (most words), one slice and one set look-up instead.
        self.shortest = self.lengths[0] if self.lengths else 0
        self.stems = frozenset(k[: self.shortest] for d in self.prefixes.values() for k in d)
        # Words recur across texts: each is looked up once. Runs come as bytes (see letter_runs), terms by str.
        self._memo: TokenMemo[bytes, list[Term]] = TokenMemo(lambda w: self.word_terms(w.decode()))

    def word_terms(self, w: str) -> list[Term]:
        """The terms a word triggers: exactly, or by a prefix."""
        found: list[Term] = list(self.exact.get(w, ()))
        shortest, stems = self.shortest, self.stems
        if not stems or len(w) < shortest or w[:shortest] not in stems:
            return found
        for n in self.lengths:
            if len(w) < n:
                break
            hit = self.prefixes[n].get(w[:n])
            if hit:
                found.extend(hit)
        return found

    def matches(self, text: str) -> list[Term]:
        return self.scan(text)[0]

    def scan(self, text: str) -> tuple[list[Term], list[Statement], bool]:
        """The terms matched, the statements matched, and whether the text reads as a discussion (only worked
        out when a topic term matched)."""
        low = text.lower()
        # The cached runs (filter.refusal made them for the answer) serve text whose only non-ASCII is prose
        # punctuation too (curly apostrophes: 41% of the generator's answers), which lower() leaves without letters.
        words = lower_letter_runs(text) if text.isascii() or punct_to_spaces(text).isascii() else letter_runs(low)
        found: list[Term] = [t for _, terms in self._memo.hits(words) for t in terms]
        said: list[Statement] = []
        if self._always or not self._first_words.isdisjoint(words):  # one C call rules out most texts
            maybe = set(self._always)
            for w in words.intersection(self._first_words):
                maybe.update(self._by_first_need[w])
            said = [st for i, st in enumerate(self.statements) if i in maybe and _holds_all(words, st.needs) and st.pattern.search(low)]
        if not found and not said:
            return found, said, False
        if low.isascii() or not FOLDS_TO_ASCII.search(low):
            # Here the needed words and the fast patterns decide as the patterns do (see text.patterns).
            # (``fast`` is set exactly on the terms that have a ``pattern``.)
            found = [t for t in found if t.fast is None or (t.needs <= words and t.fast.search(low))]
        else:
            found = [t for t in found if t.pattern is None or t.pattern.search(low)]
        discussion = (bool(said) or any(t.topic for t in found)) and len(words & self.discussion) >= self.min_discussion
        return found, said, discussion


def _holds_all(words: AbstractSet[bytes], needs: tuple[frozenset[bytes], ...]) -> bool:
    """The text's words hold one word of each need (no set is built: isdisjoint stops at the first shared word)."""
    return all(not need.isdisjoint(words) for need in needs)


def _quoted_at(text: str, pos: int) -> bool:
    """Whether ``pos`` lies inside a quotation: an odd number of double quotes (straight or curly) before it."""
    before = text[:pos]
    return (before.count('"') + before.count("“") + before.count("”")) % 2 == 1


def expand_forms(entry: str) -> list[str]:
    """The forms of a lexicon entry: '|' between forms, '(a|b)' groups expanded to every combination."""
    forms, depth, cur = [], 0, ""
    for ch in entry:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            forms.append(cur)
            cur = ""
        else:
            cur += ch
    forms.append(cur)
    out: list[str] = []
    for f in (f.strip() for f in forms):
        m = re.search(r"\(([^()]*)\)", f)
        if m is None:
            if f:
                out.append(" ".join(f.split()))
            continue
        for alt in m.group(1).split("|"):
            out.extend(expand_forms(f[: m.start()] + alt + f[m.end() :]))
    return out


def load_lexicon(path: Path, categories: list[str]) -> Lexicon:
    """The lexicon file's terms of the chosen categories."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise InputError(
            f"Cannot read the harmful-content lexicon '{path}' ({e}). Pass lexicon_path: a YAML file like {DEFAULT_LEXICON}."
        ) from e
    entries: list[Term] = []
    for cat in categories:
        entry = data.get(cat)
        if not isinstance(entry, dict):
            raise InputError(
                f"The lexicon '{path}' has no category {cat!r} (it has: {', '.join(map(str, data))}). Fix 'categories' or the lexicon."
            )
        for strength in ("topic", "strong", "weak"):
            for t in entry.get(strength) or ():
                forms = expand_forms(str(t).lower())
                entries.extend(Term(cat, f, forms[0], strength != "weak", None, topic=strength == "topic") for f in forms)
    statements = []
    for i, st in enumerate(data.get("statements") or ()):
        if st.get("category") not in categories:
            continue
        try:
            pattern = re.compile(st["pattern"])
            needs = tuple(frozenset(str(w).lower().encode() for w in group) for group in st.get("needs") or ())
        except (KeyError, TypeError, re.error) as e:
            raise InputError(
                f"statements[{i}] of the lexicon '{path}' is not usable ({e}). Each needs 'category', 'pattern' (a regex) "
                "and optionally 'needs' (lists of words)."
            ) from e
        statements.append(Statement(st["category"], pattern, needs))
    disc = data.get("discussion") or {}
    discussion = frozenset(str(w).lower().encode() for w in disc.get("words") or ())
    return Lexicon(entries, tuple(statements), discussion, int(disc.get("min_words", 2)))


@register("filter.harmful")
class Harmful(Filter):
    """Fail messages whose lexicon score in a category reaches ``threshold`` (and, optionally, a classifier's verdict)."""

    reasons = ("harmful_violence", "harmful_sexual", "harmful_hate", "harmful_self_harm", "harmful_harassment", "harmful_classifier")

    def __init__(
        self,
        categories: list[Category] = list(CATEGORIES),  # noqa: B006, B008
        threshold: Annotated[float, Field(gt=0)] = 1.0,
        weak_weight: Annotated[float, Field(ge=0)] = 0.2,
        fields: Literal["answer", "prompt", "all"] = "all",
        lexicon_path: str | None = None,
        classifier_path: str | None = None,
        classifier_threshold: Annotated[float, Field(gt=0, le=1)] = 0.9,
        classifier_safe_labels: list[str] = ["safe", "neutral", "non-toxic", "not_toxic", "ok", "label_0"],  # noqa: B006
    ):
        self.categories = categories
        self.threshold = threshold
        self.weak_weight = weak_weight
        self.fields = fields
        self.lexicon_path = lexicon_path
        self.classifier_path = classifier_path
        self.classifier_threshold = classifier_threshold
        self.classifier_safe_labels = classifier_safe_labels

    def setup(self) -> None:
        path = Path(self.lexicon_path).expanduser() if self.lexicon_path else DEFAULT_LEXICON
        self._lexicon = load_lexicon(path, list(self.categories))
        self._classifier: tuple[Any, Any, Any] | None = None  # (tokenizer, model, torch)
        if self.classifier_path:
            self._classifier = _load_classifier(self.classifier_path)

    def __getstate__(self):
        # Compiled patterns and a model do not travel to worker processes; setup() rebuilds them there.
        return {k: v for k, v in self.__dict__.items() if k not in ("_lexicon", "_classifier")}

    def category_scores(self, text: str) -> dict[str, tuple[float, list[str]]]:
        """Per category with a match: (score, matched terms); each distinct term counts once.

        A topic term is weak in a text that reads as a discussion; a statement counts 1 and is named "statement"."""
        per_cat: dict[str, dict[str, float]] = {}
        terms, statements, discussion = self._lexicon.scan(text)
        for t in terms:
            strong = t.strong and not (t.topic and discussion)
            per_cat.setdefault(t.category, {})[t.name] = 1.0 if strong else self.weak_weight
        for st in statements:
            # A statement quoted ("the tone of: 'Do it or you will regret it'") or discussed is weak, as a topic term is.
            m = st.pattern.search(text.lower())
            quoted = m is not None and _quoted_at(text, m.start())
            per_cat.setdefault(st.category, {})["statement"] = self.weak_weight if quoted or discussion else 1.0
        return {cat: (sum(h.values()), sorted(h)) for cat, h in per_cat.items()}

    def keep(self, rec: Record) -> Verdict:
        for path, text in texts_of(rec, self.fields):
            # Highest score first, then the order of CATEGORIES: the dict follows the iteration order of a set of
            # words, which changes with the process's string-hash seed, and the reason must not.
            scores = self.category_scores(text)
            for cat in sorted(scores, key=lambda c: (-scores[c][0], CATEGORIES.index(c))):
                score, terms = scores[cat]
                if score >= self.threshold:
                    return Drop(f"harmful_{cat}", round(score, 3), self.threshold, detail=f"{path}; terms={','.join(terms)}")
            if self._classifier is not None and text.strip():
                p, label = self._classifier_score(text)
                if p >= self.classifier_threshold:
                    return Drop("harmful_classifier", round(p, 4), self.classifier_threshold, detail=f"{path}; label={label}")
        return KEEP

    def _classifier_score(self, text: str) -> tuple[float, str]:
        assert self._classifier is not None, "called only when a classifier is loaded"
        tok, model, torch = self._classifier
        enc = tok(text, truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            probs = model(**enc).logits.softmax(-1)[0]
        safe = {s.lower() for s in self.classifier_safe_labels}
        best, best_label = 0.0, ""
        for i, p in enumerate(probs.tolist()):
            label = str(model.config.id2label.get(i, i))
            if label.lower() not in safe and p > best:
                best, best_label = p, label
        return best, best_label


def _load_classifier(path: str):
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputError(
            f"classifier_path '{folder}' of filter.harmful is not a folder. "
            "Give a local transformers text-classification folder (config.json, weights, tokenizer)."
        )
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
    except Exception as e:
        raise InputError(f"Cannot load a text classifier from '{folder}' ({e}). It needs config.json, the weights and a tokenizer.") from e
    return tok, model, torch
