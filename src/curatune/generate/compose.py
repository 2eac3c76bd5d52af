"""Compose clean software-help records and off-topic records from the pools in ``vocab.yaml``.

An item is ``{"instruction", "input", "output"}`` (``input`` may be ""); ``noisy.py``
turns items into rows of the requested format. Every record draws its own slot
values (file names, tables, hosts, numbers...), so two records built from the same
task and the same sentence templates still share few word 5-grams.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WORD = re.compile(r"\w+")

# Instruction kinds and their shares; the ones marked with input put text in the "input" field (~30%).
KINDS = (
    ("howto", 0.24),
    ("howto_input", 0.07),
    ("write", 0.15),
    ("explain_code", 0.10),
    ("explain", 0.16),
    ("compare", 0.08),
    ("steps", 0.09),
    ("summarise", 0.11),
)
_SEQUENCE = {1: ("First,",), 2: ("First,", "Then"), 3: ("First,", "Next,", "Finally,"), 4: ("First,", "Next,", "Then", "Finally,")}
_CONCEPT_KINDS = ("explain", "compare", "summarise")
_COMMENT = {"python": "#", "bash": "#", "sql": "--", "javascript": "//"}
PORTS = (3000, 5000, 5432, 6379, 8000, 8080, 8443, 9090, 3306, 27017, 9200, 5672)


@lru_cache(maxsize=1)
def vocab() -> dict[str, Any]:
    """The parsed vocabulary file (read once per process)."""
    with open(Path(__file__).with_name("vocab.yaml"), encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Lower-cased word n-grams of ``text`` (the whole word list when it is shorter than n)."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def item_text(item: dict[str, str]) -> str:
    """All text of an item, the way near-duplicate similarity is measured."""
    return "\n".join(v for v in (item["instruction"], item.get("input") or "", item["output"]) if v)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


class Slots:
    """Slot values of one record, drawn lazily so that a record only pays for what it uses."""

    def __init__(self, rng: random.Random, domain: dict | None = None, task: dict | None = None, concepts: tuple = ()):
        self.rng = rng
        self.domain = domain or {}
        self.task = task or {}
        self.concepts = concepts
        self.values: dict[str, str] = {}
        self.trace: list = []  # the templates chosen, in order: the record's skeleton

    def fill(self, template: str) -> str:
        return _SLOT.sub(self._sub, template)

    def _sub(self, m: re.Match) -> str:
        value = self.get(m.group(1))
        return m.group(0) if value is None else value

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            if name[0].isupper():
                low = self.get(name[0].lower() + name[1:])
                value = None if low is None else _cap(low)
            else:
                value = self._make(name)
            if value is not None:
                self.values[name] = value
        return value

    def _pick(self, pool: str) -> str:
        return self.rng.choice(vocab()["slots"][pool])

    def _make(self, name: str) -> str | None:  # noqa: C901 - one flat table of slot kinds
        rng, pools = self.rng, vocab()["slots"]
        if name in pools and name not in ("file_stem",):
            return str(rng.choice(pools[name]))
        if name in ("project", "project_slug"):
            adj, noun = self._pick("project_adj"), self._pick("project_noun")
            self.values["project"] = f"{self._pick('project_det')} {adj} {noun}"
            self.values["project_slug"] = f"{adj}-{noun.lower()}"
            return self.values[name]
        if name in ("file_csv", "file_stem"):
            stem = self._pick("file_stem")
            self.values["file_stem"] = stem.replace("_", " ")
            self.values["file_csv"] = f"{stem}_{self._pick('file_tag')}.csv"
            return self.values[name]
        if name == "branch":
            return f"{self._pick('branch_kind')}/{self._pick('branch_word')}"
        if name == "host":
            return f"{self._pick('host_role')}-{rng.randint(1, 24):02d}"
        if name == "dir":
            middle = f"{self._pick('project_adj')}/" if rng.random() < 0.7 else ""
            return f"{self._pick('dir_root')}/{middle}{self._pick('dir_leaf')}"
        if name == "bucket":
            return f"{self._pick('project_adj')}-{self._pick('bucket_word')}"
        if name == "audience":
            return rng.choice(vocab()["generic"]["audience"])
        if name == "col":
            return self._pick("col_letter")
        if name == "n":
            return str(rng.randint(200, 9800))
        if name == "k":
            return str(rng.randint(2, 9))
        if name == "hour":
            return str(rng.randint(0, 5))
        if name == "port":
            return str(rng.choice(PORTS))
        if name == "ctx":
            return self.fill(rng.choice(vocab()["contexts"]))
        if name in ("label", "lang_label", "lang"):
            return self.domain.get(name)
        if name == "lang_article":
            return "an" if self.domain.get("lang_label", "")[:1] in "AEIOU" or self.domain.get("lang_label") == "SQL" else "a"
        if name in ("do", "does"):
            return self.fill(self.task[name]) if name in self.task else None
        if name == "concept":
            return self.concepts[0]["name"] if self.concepts else None
        if name in ("what", "why", "caveat", "example"):
            return self.fill(self._field(0, name)) if self.concepts else None
        if name in ("a", "b"):
            c = self.concepts[0 if name == "a" else 1] if len(self.concepts) > 1 else None
            return c["name"] if c else None
        if name[:-2] in ("what", "why") and name[-2:] in ("_a", "_b") and len(self.concepts) > 1:
            return self.fill(self._field(0 if name.endswith("_a") else 1, name[:-2]))
        return None

    def _field(self, i: int, key: str) -> str:
        """A concept's field, or its alternative wording (``what2``), chosen once per record."""
        c = self.concepts[i]
        alt = c.get(key + "2")
        if alt is None:
            return c[key]
        flag = f"_alt{i}{key}"
        if flag not in self.values:
            self.values[flag] = "1" if self.rng.random() < 0.5 else ""
        return alt if self.values[flag] else c[key]


class Composer:
    """Builds clean records (one software-help domain) and off-topic records."""

    def __init__(self) -> None:
        v = vocab()
        self.g = v["generic"]
        self.domains = list(v["domains"].values())
        self.kinds = [k for k, _ in KINDS]
        self.weights = [w for _, w in KINDS]
        self.off = v["off_topic"]
        self._skeletons: set[tuple] = set()

    def clean(self, rng: random.Random) -> tuple[dict[str, str], Slots]:
        """A clean record whose skeleton (kind, task or concepts, every template chosen) is new to this composer.

        Two records with the same skeleton differ only in slot values, which leaves their word
        5-gram Jaccard around 0.45; a fresh skeleton keeps clean records well apart.
        """
        for _ in range(50):
            domain = rng.choice(self.domains)
            kind = rng.choices(self.kinds, self.weights)[0]
            task = rng.choice(domain["tasks"])
            concepts = tuple(rng.sample(domain["concepts"], 2))
            s = Slots(rng, domain, task, concepts)
            builder = self._steps_kind if kind == "steps" else getattr(self, f"_{kind}")
            item = builder(rng, s, task)
            topic = (concepts[0]["name"], concepts[1]["name"] if kind == "compare" else "") if kind in _CONCEPT_KINDS else (task["do"],)
            key = (kind, *topic, *s.trace)
            if key not in self._skeletons:
                break
        self._skeletons.add(key)
        return item, s

    # ---- one builder per instruction kind ---------------------------------------------------
    def _sentences(self, rng: random.Random, s: Slots, key: str) -> str:
        template = rng.choice(self.g[key])
        s.trace.append(template)
        return s.fill(template)

    def _steps(self, rng: random.Random, s: Slots, task: dict, lo: int = 2, hi: int = 9) -> list[str]:
        steps = task["steps"]
        k = rng.randint(lo, min(hi, len(steps)))
        start = rng.randint(0, len(steps) - k)
        s.trace.append((start, k))
        return [s.fill(x) for x in steps[start : start + k]]

    def _code(self, s: Slots, task: dict) -> str:
        lang = s.domain["lang"]
        return f"```{lang}\n{self._code_text(s, task)}\n```"

    def _code_text(self, s: Slots, task: dict) -> str:
        code = s.fill(task["code"]).rstrip()
        mark = _COMMENT.get(s.domain["lang"])
        if mark and s.rng.random() < 0.85:
            code = f"{mark} {s.fill(s.rng.choice(vocab()['generic']['code_comments']))}\n{code}"
        return code

    def _instruction(self, rng, s, key: str, p: float = 0.65) -> str:
        # Not part of the skeleton: records whose answers are built the same way count as the same skeleton.
        text = s.fill(rng.choice(self.g[key]))
        if rng.random() < p:
            situation = s.fill(rng.choice(self.g["situations"]))
            text = f"{situation} {text}" if rng.random() < 0.5 else f"{text} {situation}"
        return text

    def _howto(self, rng, s, task) -> dict[str, str]:
        # At least two of opener / aside / closer, so records on the same task differ in more than names.
        extras = rng.sample(("openers", "asides", "closers"), rng.randint(2, 3))
        steps = self._steps(rng, s, task)
        if rng.random() < 0.5:
            steps = [f"{w} {x[0].lower()}{x[1:]}" if x[1:2].islower() else x for w, x in zip(_SEQUENCE[len(steps)], steps)]
        if "asides" in extras:
            steps.insert(rng.randint(1, len(steps)), self._sentences(rng, s, "asides"))
        out = ([self._sentences(rng, s, "openers")] if "openers" in extras else []) + steps
        if "closers" in extras:
            out.append(self._sentences(rng, s, "closers"))
        return {"instruction": self._instruction(rng, s, "howto_instr"), "input": "", "output": " ".join(out)}

    def _howto_input(self, rng, s, task) -> dict[str, str]:
        item = self._howto(rng, s, task)
        item["instruction"] = self._sentences(rng, s, "howto_input_instr")
        item["input"] = self._sentences(rng, s, "howto_input")
        return item

    def _write(self, rng, s, task) -> dict[str, str]:
        parts = [self._sentences(rng, s, "code_intro"), self._code(s, task)]
        tail = [self._steps(rng, s, task, 1)[0]] if rng.random() < 0.5 else []
        tail.append(self._sentences(rng, s, "code_after"))
        tail.insert(rng.randint(0, len(tail)), self._sentences(rng, s, "asides"))
        parts.append(" ".join(tail))
        return {"instruction": self._instruction(rng, s, "write_instr", 0.85), "input": "", "output": "\n\n".join(parts)}

    def _explain_code(self, rng, s, task) -> dict[str, str]:
        out = [self._sentences(rng, s, "explain_code_open")] + self._steps(rng, s, task, 1, 2)
        for key in rng.sample(("asides", "code_after", "closers"), 2):
            out.append(self._sentences(rng, s, key))
        return {
            "instruction": self._instruction(rng, s, "explain_code_instr", 0.85),
            "input": self._code_text(s, task),
            "output": " ".join(out),
        }

    def _explain(self, rng, s, task) -> dict[str, str]:
        out = [self._sentences(rng, s, "what")]
        extra = ["why", "caveat"]
        rng.shuffle(extra)
        out.append(self._sentences(rng, s, extra[0]))
        if rng.random() < 0.4:
            out.append(self._sentences(rng, s, extra[1]))
        out.append(self._sentences(rng, s, "example"))
        out.insert(rng.randint(1, len(out)), self._sentences(rng, s, "concept_asides"))
        return {"instruction": self._instruction(rng, s, "explain_instr", 0.85), "input": "", "output": " ".join(out)}

    def _compare(self, rng, s, task) -> dict[str, str]:
        out = [self._sentences(rng, s, "compare_join"), self._sentences(rng, s, "compare_pick")]
        for key in rng.sample(("caveat", "compare_close", "concept_asides", "example"), 2):
            if key == "caveat":
                out.append(f"Keep in mind that {s.fill(s._field(rng.randint(0, 1), 'caveat'))}.")
            elif key == "example":
                i = rng.randint(0, 1)
                out.append(f"An example of {s.concepts[i]['name']}: {s.fill(s._field(i, 'example'))}.")
            else:
                out.append(self._sentences(rng, s, key))
        return {"instruction": self._instruction(rng, s, "compare_instr"), "input": "", "output": " ".join(out)}

    def _steps_kind(self, rng, s, task) -> dict[str, str]:
        extras = rng.sample(("openers", "asides", "steps_close"), rng.randint(2, 3))
        steps = self._steps(rng, s, task)
        if "asides" in extras:
            steps.insert(rng.randint(1, len(steps)), self._sentences(rng, s, "asides"))
        out = "\n".join(f"{i}. {x}" for i, x in enumerate(steps, 1))
        if "openers" in extras:
            out = self._sentences(rng, s, "openers") + "\n\n" + out
        if "steps_close" in extras:
            out += "\n\n" + self._sentences(rng, s, rng.choice(("steps_close", "closers")))
        return {"instruction": self._instruction(rng, s, "steps_instr", 0.85), "input": "", "output": out}

    def _summarise(self, rng, s, task) -> dict[str, str]:
        facts = ["why", "caveat"]
        rng.shuffle(facts)
        body = [self._sentences(rng, s, facts[0]), self._sentences(rng, s, "example"), self._sentences(rng, s, "concept_asides")]
        if rng.random() < 0.4:
            body.append(self._sentences(rng, s, facts[1]))
        rng.shuffle(body)
        paragraph = [self._sentences(rng, s, "what")] + body + [self._sentences(rng, s, "summarise_context")]
        out = [self._sentences(rng, s, "summarise_out")]
        if rng.random() < 0.6:
            out.append(self._sentences(rng, s, "example"))
        return {"instruction": self._instruction(rng, s, "summarise_instr", 0.3), "input": " ".join(paragraph), "output": " ".join(out)}

    # ---- off-topic ---------------------------------------------------------------------------
    def off_topic(self, rng: random.Random) -> tuple[dict[str, str], str]:
        """A record from another domain (gossip, sports, horoscopes...); returns it and the topic."""
        topic = rng.choice(sorted(self.off["topics"]))
        spec = self.off["topics"][topic]
        pools = {**self.off["slots"], **self.off["extra_slots"]}
        values: dict[str, str] = {}

        def get(name: str) -> str:
            if name in values:
                return values[name]
            low = name[0].lower() + name[1:]
            if low != name:
                v = _cap(get(low))
            elif name[-1] == "2" and name[:-1] in pools:
                v = rng.choice([x for x in pools[name[:-1]] if x != get(name[:-1])])
            elif name in pools:
                v = rng.choice(pools[name])
            elif name == "s2":
                v = str(rng.randint(0, 2))
            elif name == "s1":  # the winner's score, named first
                v = str(int(get("s2")) + rng.randint(1, 3))
            elif name == "minute":
                v = str(rng.randint(14, 89))
            elif name == "k":
                v = str(rng.randint(4, 9))
            elif name == "month":
                v = rng.choice(vocab()["slots"]["month"])
            else:
                v = "{" + name + "}"
            values[name] = v
            return v

        def fill(text: str) -> str:
            return _SLOT.sub(lambda m: get(m.group(1)), text)

        sentences = rng.sample(spec["sentences"], 3)
        return {"instruction": fill(rng.choice(spec["instructions"])), "input": "", "output": " ".join(fill(x) for x in sentences)}, topic
