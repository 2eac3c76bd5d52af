"""select.language_balance: exact per-language counts with caps and temperature, a fixed seed, and the report."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from curatune.curation.pipeline import Pipeline, PipelineStep, Sink
from curatune.curation.record import Record
from curatune.curation.select.language_balance import LanguageBalance, temperature_targets

TEXTS = {
    "en": "The weather was lovely this morning, so we walked along the river and had breakfast in a small cafe near the bridge.",
    "fr": "Il faisait très beau ce matin, alors nous avons marché le long de la rivière et pris le petit déjeuner dans un café.",
    "de": "Heute Morgen war das Wetter herrlich, also sind wir am Fluss entlang spaziert und haben in einem kleinen Café gefrühstückt.",
}


def records(counts: dict[str, int]) -> list[Record]:
    out = []
    for lang, n in counts.items():
        for i in range(n):
            out.append(
                Record(
                    f"{lang}:{i}",
                    messages=[{"role": "user", "content": "Tell me."}, {"role": "assistant", "content": f"{TEXTS[lang]} ({i})"}],
                )
            )
    out.append(Record("short:0", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Ok."}]))
    return out


def run(step: LanguageBalance, recs: list[Record]) -> tuple[Counter, dict[str, str]]:
    for r in recs:
        step.observe(r, step.prepare(r))
    step.finish()
    kept: Counter = Counter()
    reasons = {}
    for r in recs:
        v = step.decide(r)
        if v.kept:
            kept[r.id.split(":")[0]] += 1
        else:
            reasons[r.id] = (v.reason, v.value, v.threshold, v.detail)
    return kept, reasons


def test_report_only_keeps_everything(tmp_path):
    step = LanguageBalance()
    kept, dropped = run(step, records({"en": 30, "fr": 5, "de": 2}))
    assert kept == Counter({"en": 30, "fr": 5, "de": 2, "short": 1}) and dropped == {}
    assert step.write_artifacts(tmp_path) == ["artifacts/language_balance.json"]
    report = json.loads((tmp_path / "language_balance.json").read_text())
    assert report["before"] == {"en": 30, "fr": 5, "de": 2, "und": 1}
    assert report["after"] == {"en": 30, "fr": 5, "de": 2, "und": 1}


def test_cap_gives_exact_counts_and_is_seeded():
    recs = records({"en": 30, "fr": 12, "de": 4})
    kept, dropped = run(LanguageBalance(max_per_language=10, seed=3), recs)
    assert kept == Counter({"en": 10, "fr": 10, "de": 4, "short": 1})
    assert len(dropped) == 22
    some = next(iter(dropped.values()))
    assert some[0] == "language_cap" and some[3] in ("lang=en", "lang=fr")
    assert {v[:3] for v in dropped.values()} == {("language_cap", 30, 10), ("language_cap", 12, 10)}
    again = run(LanguageBalance(max_per_language=10, seed=3), recs)[1]
    other = run(LanguageBalance(max_per_language=10, seed=4), recs)[1]
    assert set(again) == set(dropped)
    assert set(other) != set(dropped)


def test_temperature_targets():
    assert temperature_targets({"en": 100, "fr": 25}, 1.0) == {"en": 100, "fr": 25}
    # T=2: shares 10:5 -> fr keeps all 25, en 50.
    assert temperature_targets({"en": 100, "fr": 25}, 2.0) == {"en": 50, "fr": 25}
    flat = temperature_targets({"en": 100, "fr": 25, "de": 4}, 1000.0)
    assert flat == {"en": 4, "fr": 4, "de": 4}


def test_temperature_with_cap_in_pipeline(tmp_path):
    recs = records({"en": 40, "fr": 10})

    class ListSink(Sink):
        def __init__(self):
            self.kept, self.dropped = [], []

        def keep(self, rec):
            self.kept.append(rec.id)

        def drop(self, item, event):
            self.dropped.append((item.id, event.reason))

        def event(self, event):
            pass

    sink = ListSink()
    step = LanguageBalance(temperature=2.0, max_per_language=15, seed=0)
    result = Pipeline([PipelineStep(step)], workers=1, batch_size=8).run(recs, sink)
    by_lang = Counter(i.split(":")[0] for i in sink.kept)
    # T=2: sqrt(40):sqrt(10) = 2:1, fr keeps 10, en 20; then the cap: en 15.
    assert by_lang == Counter({"en": 15, "fr": 10, "short": 1})
    assert result.kept == 26 and result.dropped == 25
    assert {r for _, r in sink.dropped} == {"language_cap"}


@pytest.mark.parametrize("bad", [{"temperature": 0.5}, {"max_per_language": 0}])
def test_parameters_are_validated(bad):
    from curatune.curation.registry import build_step
    from curatune.errors import RecipeError

    with pytest.raises(RecipeError):
        build_step("select.language_balance", bad)
